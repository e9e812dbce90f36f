//! What handlers return: [`Flow`] from before-middleware, [`Outcome`] from event
//! handlers, anything [`IntoResponse`] from routes.

use serde::Serialize;

use crate::bindings::berth::plugin::types::{
    BeforeOutcome, EventOutcome, Proceed, Refusal, WsPayload,
};
use crate::Response;

/// What a route handler may return: a [`Response`], or a `Result` whose both sides
/// are responses (so `?` works on helpers that fail with an error response).
///
/// ```
/// # use berth_sdk::prelude::*;
/// fn page(req: &Request) -> Result<Response, Response> {
///     let n: u32 = req
///         .query_param("page")
///         .unwrap_or("1")
///         .parse()
///         .map_err(|_| Response::error("page must be an integer", 400))?;
///     Ok(Response::json(&json!({ "page": n })))
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

impl IntoResponse for Result<Response, Response> {
    fn into_response(self) -> Response {
        self.unwrap_or_else(|e| e)
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
/// A handler may return a `Flow`, a [`Next`], a [`Response`] (always stops) or `()`
/// (always proceeds).
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
