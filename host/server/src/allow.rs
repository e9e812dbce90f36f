//! The `[server]` allow-lists on hyper's requests: which name a request is for and
//! which page an upgrade comes from. The decisions are berth-core's
//! ([`berth_core::allow`]), shared with the embedded runtime; this file only finds the
//! two values in a `hyper::Request`.

use berth_core::allow::AllowLists;
use berth_core::model::Response;
use hyper::header::{HOST, ORIGIN};

/// 421 unless the request's host is allowed. The authority of an absolute-form target
/// (`GET http://example.com/ HTTP/1.1`) overrides `Host`, as RFC 9112 §3.2.2 says.
pub(crate) fn check_host<B>(allow: &AllowLists, req: &hyper::Request<B>) -> Result<(), Response> {
    if allow.hosts.is_none() {
        return Ok(());
    }
    let host = match req.uri().authority() {
        Some(authority) => Some(authority.as_str()),
        None => req.headers().get(HOST).and_then(|v| v.to_str().ok()),
    };
    allow.check_host(host)
}

/// 403 unless the upgrade's `Origin` is allowed (or absent).
pub(crate) fn check_origin<B>(allow: &AllowLists, req: &hyper::Request<B>) -> Result<(), Response> {
    if allow.origins.is_none() {
        return Ok(());
    }
    match req.headers().get(ORIGIN) {
        // An Origin that is not even text matches no entry.
        Some(value) => allow.check_origin(Some(value.to_str().unwrap_or("\u{fffd}"))),
        None => allow.check_origin(None),
    }
}
