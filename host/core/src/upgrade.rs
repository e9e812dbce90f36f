//! The WebSocket opening-handshake rules (RFC 6455 §4.2), one copy for both runtimes:
//! whether a request asks to become a WebSocket, whether that request is a valid one,
//! what a plain request on a WebSocket-only path hears (426), and what a refusal by a
//! plugin looks like. The runtimes keep only the I/O: hyper's upgrade on the server,
//! the connection hand-over on the embedded runtime.
//!
//! The two copies this replaces disagreed: the server treated a `POST` with upgrade
//! headers as plain HTTP and took any `Sec-WebSocket-Key`, the embedded runtime answered
//! 400 for both. Here an upgrade attempt is recognised by its headers alone, then held
//! to the RFC: `GET`, HTTP/1.1 or later, version 13, a key of 16 base64-encoded bytes.

use alloc::string::String;

use base64::Engine as _;

use crate::json::error_body;
use crate::model::{Method, Response};
use crate::router::{Match, Router};

/// A request's headers as the upgrade rules read them: every value of a name (the name
/// given in lower case). Implemented for the model's pairs here and for the server's
/// header map there, so neither runtime copies headers to ask.
pub trait HeaderLookup {
    /// Calls `each` with every value of the header `name`, in order.
    fn each_value(&self, name: &str, each: &mut dyn FnMut(&[u8]));
}

impl HeaderLookup for [(String, String)] {
    fn each_value(&self, name: &str, each: &mut dyn FnMut(&[u8])) {
        for (n, v) in self {
            if n.eq_ignore_ascii_case(name) {
                each(v.as_bytes());
            }
        }
    }
}

/// Whether the comma-separated header `name` holds `token` (ASCII case-insensitive), in
/// any of its occurrences.
pub fn has_token(headers: &(impl HeaderLookup + ?Sized), name: &str, token: &str) -> bool {
    let mut found = false;
    headers.each_value(name, &mut |v| {
        found |= v
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()));
    });
    found
}

/// The single value of `name`, trimmed; `None` when absent, repeated or not UTF-8.
fn single(headers: &(impl HeaderLookup + ?Sized), name: &str) -> Option<String> {
    let (mut value, mut count) = (None, 0);
    headers.each_value(name, &mut |v| {
        count += 1;
        value = core::str::from_utf8(v.trim_ascii()).ok().map(String::from);
    });
    if count == 1 {
        value
    } else {
        None
    }
}

/// Whether `key` is a valid `Sec-WebSocket-Key`: base64 of 16 bytes.
pub fn valid_key(key: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .is_ok_and(|k| k.len() == 16)
}

/// What a request's upgrade headers amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Not an upgrade request (no `Upgrade: websocket` with `Connection: upgrade`).
    No,
    /// A valid upgrade with this `Sec-WebSocket-Key` (trimmed).
    Yes(String),
    /// An upgrade attempt the host refuses with this response.
    Invalid(Response),
}

/// Classifies a request: `method` as sent, `http_1_1` when its version is 1.1 or later.
pub fn check(method: &str, http_1_1: bool, headers: &(impl HeaderLookup + ?Sized)) -> Upgrade {
    if !has_token(headers, "upgrade", "websocket") || !has_token(headers, "connection", "upgrade") {
        return Upgrade::No;
    }
    if method != "GET" || !http_1_1 {
        return Upgrade::Invalid(Response::error(
            400,
            "A WebSocket upgrade is a GET over HTTP/1.1",
        ));
    }
    if single(headers, "sec-websocket-version").as_deref() != Some("13") {
        let mut r = Response::error(426, "Unsupported WebSocket version");
        r.headers
            .push(("sec-websocket-version".into(), "13".into()));
        return Upgrade::Invalid(r);
    }
    match single(headers, "sec-websocket-key") {
        Some(key) if valid_key(&key) => Upgrade::Yes(key),
        _ => Upgrade::Invalid(Response::error(400, "Missing or invalid Sec-WebSocket-Key")),
    }
}

/// What to do with a request on the HTTP port whose path is a WebSocket route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnWsRoute {
    /// Hand the connection to the WebSocket session (the `101` follows `ws-connect`).
    Accept(String),
    /// Serve it as plain HTTP: the path is also a `GET` route.
    Http,
    /// Answer with this host response and close.
    Respond(Response),
}

/// The rule for a WebSocket route's path: a valid upgrade is accepted, an invalid one
/// refused, and a plain request is told to upgrade (426) unless the same path is also a
/// `GET` route, which then serves it.
pub fn on_ws_route<T>(upgrade: Upgrade, router: &Router<T>, path: &str) -> OnWsRoute {
    match upgrade {
        Upgrade::Yes(key) => OnWsRoute::Accept(key),
        Upgrade::Invalid(r) => OnWsRoute::Respond(r),
        Upgrade::No if matches!(router.find(Method::Get, path), Match::Found { .. }) => {
            OnWsRoute::Http
        }
        Upgrade::No => OnWsRoute::Respond(upgrade_required()),
    }
}

/// 426 for a plain request on a WebSocket-only path (or on the dedicated WebSocket port).
pub fn upgrade_required() -> Response {
    let mut r = Response::error(426, "Upgrade Required: this is a WebSocket endpoint");
    r.headers.push(("upgrade".into(), "websocket".into()));
    r.headers.push(("connection".into(), "Upgrade".into()));
    r
}

/// 503 when `ws_max_connections` sockets are open.
pub fn too_many() -> Response {
    Response::error(503, "Too many WebSocket connections")
}

/// The response for a `ws-connect` refusal: the plugin's status when it is an error
/// status (400–599), else 403 — anything else would read as success — with its reason.
pub fn refusal(status: u16, reason: &str) -> Response {
    let status = if (400..600).contains(&status) {
        status
    } else {
        403
    };
    Response::json(status, error_body(status, reason))
}

#[cfg(test)]
#[path = "upgrade_tests.rs"]
mod tests;
