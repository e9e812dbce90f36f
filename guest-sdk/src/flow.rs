//! What handlers return: [`Flow`] from before-middleware, [`Outcome`] from event
//! handlers, anything [`IntoResponse`] from routes and after-middleware.

use serde::Serialize;

use crate::bindings::berth::plugin::types::{
    BeforeOutcome, EventOutcome, Proceed, Refusal, WsPayload,
};
use crate::{Response, WsError};

/// What a route (or after-middleware) handler may return.
///
/// | returned | answered with |
/// |---|---|
/// | [`Response`] | itself |
/// | [`serde_json::Value`] (`json!(…)`), [`Json`]`(T)` | `200`, `application/json` |
/// | `&'static str`, `String` | `200`, `text/plain; charset=utf-8` |
/// | `(u16, T)` | `T`'s response with that status |
/// | [`Error`](crate::Error) | `{"error": message, "code": status}` |
/// | `Result<T, E>` | `T` or `E`, both `IntoResponse` (so `?` works) |
///
/// ```
/// # use berth_sdk::prelude::*;
/// fn page(req: &Request) -> Result<Value, Error> {
///     let n: u32 = req
///         .query_param("page")
///         .unwrap_or("1")
///         .parse()
///         .map_err(|_| Error::bad_request("page must be an integer"))?;
///     Ok(json!({ "page": n }))
/// }
/// fn created(_req: &Request) -> impl IntoResponse {
///     (201, json!({"created": true}))
/// }
/// ```
pub trait IntoResponse {
    /// Converts into the response sent to the client.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(t) => t.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

impl IntoResponse for serde_json::Value {
    fn into_response(self) -> Response {
        Response::json(&self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl<T: IntoResponse> IntoResponse for (u16, T) {
    fn into_response(self) -> Response {
        self.1.into_response().status(self.0)
    }
}

/// Any serializable value as a JSON response: `Json(user)` (200), `(201, Json(user))`.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(&self.0)
    }
}

/// Lets the request go on (the result of a before-middleware that does not stop it),
/// optionally editing request headers and adding headers to the final response.
///
/// ```
/// # use berth_sdk::Next;
/// let next = Next::new()
///     .response_header("Access-Control-Allow-Origin", "*")
///     .request_header("X-User", "alice");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Next {
    request_headers: Vec<(String, String)>,
    response_headers: Vec<(String, String)>,
}

impl Next {
    /// Proceed without changes.
    pub fn new() -> Next {
        Next::default()
    }

    /// Sets a request header (replacing any of that name) that later middleware and the
    /// route see.
    pub fn request_header(mut self, name: &str, value: &str) -> Next {
        self.request_headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Adds a header to the final response, whoever produces it, unless that response
    /// already has a header of this name.
    pub fn response_header(mut self, name: &str, value: &str) -> Next {
        self.response_headers
            .push((name.to_string(), value.to_string()));
        self
    }
}

/// The result of a before-middleware or an `http:*` hook: go on, or answer now.
///
/// A handler may return a `Flow`, a [`Next`], a [`Response`] or an
/// [`Error`](crate::Error) (both stop), `Option<Response>`, `()` (proceeds), or a
/// `Result` of these whose error is [`IntoResponse`] (an `Err` stops with it).
///
/// ```
/// # use berth_sdk::prelude::*;
/// fn guard(req: &Request) -> Flow {
///     if req.header("Authorization") != Some("secret") {
///         return Flow::Respond(Response::json_status(&json!({"error": "Unauthorized"}), 401));
///     }
///     Flow::next()
/// }
/// ```
#[derive(Debug, Clone)]
pub enum Flow {
    /// Go on to the next middleware and the route.
    Next(Next),
    /// Stop here and answer with this response (seed 000's `res.stop = True`).
    Respond(Response),
}

impl Flow {
    /// Proceed without changes.
    pub fn next() -> Flow {
        Flow::Next(Next::new())
    }

    pub(crate) fn into_wit(self) -> BeforeOutcome {
        match self {
            Flow::Next(n) => BeforeOutcome::Proceed(Proceed {
                request_headers: n.request_headers,
                response_headers: n.response_headers,
            }),
            Flow::Respond(r) => BeforeOutcome::Respond(r),
        }
    }
}

impl From<Next> for Flow {
    fn from(n: Next) -> Flow {
        Flow::Next(n)
    }
}

impl From<Response> for Flow {
    fn from(r: Response) -> Flow {
        Flow::Respond(r)
    }
}

impl From<()> for Flow {
    fn from(_: ()) -> Flow {
        Flow::next()
    }
}

impl From<crate::Error> for Flow {
    /// Stops with the error's JSON response.
    fn from(e: crate::Error) -> Flow {
        Flow::Respond(e.into_response())
    }
}

impl<T: Into<Flow>, E: IntoResponse> From<Result<T, E>> for Flow {
    /// `Ok` as `T` says; `Err` stops with the error's response (so `?` works in
    /// middleware).
    fn from(r: Result<T, E>) -> Flow {
        match r {
            Ok(t) => t.into(),
            Err(e) => Flow::Respond(e.into_response()),
        }
    }
}

impl From<Option<Response>> for Flow {
    /// `Some(response)` stops with it; `None` proceeds.
    fn from(r: Option<Response>) -> Flow {
        r.map_or_else(Flow::next, Flow::Respond)
    }
}

/// What an event handler made of an event. The default does nothing: for a
/// `ws-message` that no handler replies to or stops, the host echoes the message.
///
/// ```
/// # use berth_sdk::prelude::*;
/// let pong = Outcome::reply_json(&json!({"type": "pong"})).and_stop();
/// let quiet = Outcome::stop();
/// let refused = Outcome::refuse(403, "forbidden");
/// let nothing: Outcome = ().into();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    reply: Option<WsPayload>,
    stop: bool,
    refuse: Option<(u16, String)>,
}

impl Outcome {
    /// Nothing to add (the same as returning `()`).
    pub fn none() -> Outcome {
        Outcome::default()
    }

    /// Sends `msg` back to the client that sent the message (seed 000's `ctx.reply`).
    pub fn reply(msg: impl Into<WsPayload>) -> Outcome {
        Outcome {
            reply: Some(msg.into()),
            ..Outcome::default()
        }
    }

    /// Sends `value`, serialized as JSON text, back to the client.
    pub fn reply_json(value: &impl Serialize) -> Outcome {
        Outcome::reply(serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
    }

    /// Stops: no default echo, and later handlers are not asked (seed 000's `ctx.stop`).
    pub fn stop() -> Outcome {
        Outcome {
            stop: true,
            ..Outcome::default()
        }
    }

    /// Adds `stop` to this outcome.
    pub fn and_stop(mut self) -> Outcome {
        self.stop = true;
        self
    }

    /// Refuses a WebSocket upgrade (only meaningful for `ws-connect`): the client gets
    /// this HTTP status.
    pub fn refuse(status: u16, reason: &str) -> Outcome {
        Outcome {
            refuse: Some((status, reason.to_string())),
            ..Outcome::default()
        }
    }

    pub(crate) fn into_wit(self) -> EventOutcome {
        EventOutcome {
            reply: self.reply,
            stop: self.stop,
            refuse: self
                .refuse
                .map(|(status, reason)| Refusal { status, reason }),
        }
    }
}

impl From<()> for Outcome {
    fn from(_: ()) -> Outcome {
        Outcome::none()
    }
}

impl From<WsError> for Outcome {
    /// Nothing to add: a WebSocket operation that did not happen is not a fault (the
    /// peer may have left a moment ago), so `ws.send(..)?` may end a handler.
    fn from(_: WsError) -> Outcome {
        Outcome::none()
    }
}

impl From<crate::Error> for Outcome {
    /// In `ws-connect`, refuses the upgrade with the error's status and message; the
    /// host ignores a refusal for any other event.
    fn from(e: crate::Error) -> Outcome {
        Outcome::refuse(e.status(), e.message())
    }
}

impl<T: Into<Outcome>, E: Into<Outcome>> From<Result<T, E>> for Outcome {
    fn from(r: Result<T, E>) -> Outcome {
        match r {
            Ok(t) => t.into(),
            Err(e) => e.into(),
        }
    }
}
