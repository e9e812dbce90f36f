//! Helpers on [`Request`].

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use crate::{Method, Request};

pub(crate) fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The IP part of an `ip:port` (or `[v6]:port`) address.
pub(crate) fn ip_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip,
        _ => addr,
    }
}

/// Reading a request.
///
/// ```
/// # use berth_sdk::prelude::*;
/// fn show(req: &Request) -> Response {
///     let id = req.param("user_id").unwrap_or("?");
///     let page = req.query_param("page").unwrap_or("1");
///     let auth = req.header("Authorization"); // any case
///     Response::json(&json!({"id": id, "page": page, "auth": auth, "ip": req.ip()}))
/// }
/// ```
impl Request {
    /// Unique per request for the life of the server process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The percent-decoded path, without the query string (`/users/42`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without `?` (empty when absent).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first value of query parameter `name` (percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query_pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All query pairs, in order (percent-decoded; repeats kept).
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query_pairs
    }

    /// The value captured by the `<name>` segment of the matched route.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All captured route parameters.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// All headers (names lower-case, order and repeats kept).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 is replaced by U+FFFD).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON into `T` (use [`serde_json::Value`] for any JSON). A body
    /// nested deeper than the plugin's stack can parse is an error too
    /// ([`crate::json::max_depth`]), which `?` answers with 400.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        crate::json::from_slice(&self.body)
    }

    /// The peer's address, `ip:port`.
    pub fn remote_addr(&self) -> &str {
        &self.remote_addr
    }

    /// The peer's IP address, without the port (seed 002's `req.ip`).
    pub fn ip(&self) -> &str {
        ip_of(&self.remote_addr)
    }
}

impl Method {
    /// The method's name as sent on the wire, e.g. `"GET"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ip_of;

    #[test]
    fn ip_without_port() {
        assert_eq!(ip_of("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(ip_of("[::1]:80"), "::1");
        assert_eq!(ip_of("::1"), "::1");
        assert_eq!(ip_of("10.0.0.1"), "10.0.0.1");
    }
}
