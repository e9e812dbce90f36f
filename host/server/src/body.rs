//! The response side every module shares: the body type of every response, the host's
//! JSON errors, and a finalised [`Response`] turned into hyper's (headers copied,
//! `Content-Length` and the body only where berth-core's rules allow them).

use berth_core::model::{Body, Pairs, Response};
use berth_core::respond::{body_allowed, has_framing};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH};

/// Why a response body stopped early; hyper aborts the connection, so the client sees
/// a broken transfer rather than a short body passed off as complete.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response the server writes.
pub type ResponseBody = BoxBody<Bytes, BodyError>;

/// An empty body.
pub fn empty_body() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// The host's JSON error response (`{"error": message, "code": status}`).
pub fn error_response(status: u16, message: &str, head: bool) -> hyper::Response<ResponseBody> {
    to_hyper(Response::error(status, message), head)
}

/// Turns a finalised response (see [`berth_core::respond::finalise`]) or one of the
/// host's own into HTTP, with a body unless [`body_allowed`] says otherwise.
pub fn to_hyper(response: Response, head: bool) -> hyper::Response<ResponseBody> {
    let Ok(status) = hyper::StatusCode::from_u16(response.status) else {
        tracing::error!(
            "a response with status {} reached the wire",
            response.status
        );
        return to_hyper(Response::error(500, "Internal Server Error"), head);
    };
    let bytes = match response.body {
        Body::Bytes(bytes) => bytes,
        // `respond` builds these bodies; reaching here is a bug, not a client's fault.
        Body::Sse(_) | Body::File(_) | Body::Stream(_) => {
            tracing::error!("to_hyper called with a body that is not in memory");
            return error_response(500, "Internal Server Error", head);
        }
    };
    let mut builder = hyper::Response::builder().status(status);
    if let Some(headers) = builder.headers_mut() {
        apply_headers(headers, &response.headers);
        if has_framing(response.status) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        }
    }
    let body = if body_allowed(response.status, head) {
        Bytes::from(bytes)
    } else {
        Bytes::new()
    };
    builder
        .body(Full::new(body).map_err(|never| match never {}).boxed())
        .unwrap_or_else(|_| hyper::Response::new(empty_body()))
}

/// Copies finalised headers onto an HTTP response. berth-core has already dropped what a
/// plugin may not set and checked every name and value; one that hyper still refuses is
/// dropped with a warning rather than failing the response.
pub fn apply_headers(headers: &mut HeaderMap, pairs: &Pairs) {
    for (name, value) in pairs {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => tracing::warn!("dropping invalid response header {name:?}"),
        }
    }
}
