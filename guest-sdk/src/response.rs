//! Building a [`Response`].

use serde::Serialize;

use crate::{Body, Response};

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Response constructors (seed 002's `Response.json/html/plain/error/redirect`) and
/// chainable setters.
///
/// ```
/// # use berth_sdk::prelude::*;
/// let ok = Response::json(&json!({"ok": true}));
/// let created = Response::json(&json!({"created": true})).status(201);
/// let page = Response::html("<h1>Hello World</h1>");
/// let err = Response::error("Empty body", 400); // {"error":"Empty body","code":400}
/// let moved = Response::redirect("/new");
/// let gone = Response::empty(204);
/// let secret = Response::json(&json!({"data": "secret"}))
///     .header("X-Custom-Header", "value")
///     .header("Cache-Control", "no-store");
/// assert_eq!(secret.get_header("x-custom-header"), Some("value"));
/// ```
impl Response {
    /// A response with this status, body and content type.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Body::Bytes(body.into()),
        }
    }

    /// `200` with `value` serialized as JSON (`application/json`). A value that cannot be
    /// serialized gives a `500` error response.
    pub fn json(value: &impl Serialize) -> Response {
        match serde_json::to_vec(value) {
            Ok(bytes) => Response::with_body(200, JSON, bytes),
            Err(e) => Response::error(&format!("cannot serialize response: {e}"), 500),
        }
    }

    /// Like [`Response::json`], with a status.
    pub fn json_status(value: &impl Serialize, status: u16) -> Response {
        Response::json(value).status(status)
    }

    /// `200` with an HTML page (`text/html; charset=utf-8`).
    pub fn html(content: impl Into<String>) -> Response {
        Response::with_body(200, HTML, content.into())
    }

    /// `200` with plain text (`text/plain; charset=utf-8`; seed 002's `Response.plain`).
    pub fn text(content: impl Into<String>) -> Response {
        Response::with_body(200, TEXT, content.into())
    }

    /// An error as JSON: `{"error": message, "code": status}` (seed 002's `Response.error`).
    pub fn error(message: &str, status: u16) -> Response {
        #[derive(Serialize)]
        struct Error<'a> {
            error: &'a str,
            code: u16,
        }
        Response::json(&Error {
            error: message,
            code: status,
        })
        .status(status)
    }

    /// `302 Found` to `location`, with an empty body.
    pub fn redirect(location: &str) -> Response {
        Response::empty(302).header("Location", location)
    }

    /// A response with this status, no body and no content type (e.g. `204`).
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// A Server-Sent Events stream: the connection stays open and receives every event
    /// [`publish`](crate::publish)ed to `topic`.
    pub fn sse(topic: &str) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body: Body::Sse(topic.into()),
        }
    }

    /// A file, named relative to a static mount this plugin was granted (see
    /// [`App::mount_static`](crate::App::mount_static)); the host sets its content type.
    pub fn file(path: &str) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body: Body::File(path.into()),
        }
    }

    /// A body produced chunk by chunk (sent with chunked transfer encoding). The host
    /// pulls the chunks from this same instance until the iterator ends.
    ///
    /// ```
    /// # use berth_sdk::Response;
    /// let lines = Response::stream("text/plain", (0..5).map(|i| format!("chunk {i}\n")));
    /// ```
    pub fn stream<I>(content_type: &str, chunks: I) -> Response
    where
        I: IntoIterator + 'static,
        I::Item: Into<Vec<u8>>,
    {
        let id = crate::streams::add(Box::new(chunks.into_iter().map(Into::into)));
        Response {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: Body::Stream(id),
        }
    }

    /// Asks the host to pause `interval` before pulling each chunk of a
    /// [`stream`](Response::stream) after the first: seed 002's
    /// `await asyncio.sleep(0.5)` between chunks, without keeping the plugin busy. (The
    /// host reads it from the `berth-chunk-interval-ms` header and never sends that on.)
    ///
    /// ```
    /// # use berth_sdk::Response;
    /// # use std::time::Duration;
    /// let slow = Response::stream("text/plain", (0..5).map(|i| format!("chunk {i}\n")))
    ///     .chunk_interval(Duration::from_millis(500));
    /// assert_eq!(slow.get_header("berth-chunk-interval-ms"), Some("500"));
    /// ```
    pub fn chunk_interval(self, interval: std::time::Duration) -> Response {
        let ms = interval.as_millis().to_string();
        self.header("berth-chunk-interval-ms", &ms)
    }

    /// Sets the status.
    pub fn status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Sets a header, replacing any header of that name (compared case-insensitively).
    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.set_header(name, value);
        self
    }

    /// Adds a header, keeping any others of that name (e.g. several `Set-Cookie`).
    pub fn append_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a header in place, replacing any header of that name.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
    }

    /// The first header named `name`, compared case-insensitively.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        crate::request::find(&self.headers, name)
    }

    /// The body bytes, when the body is in memory.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Response;

    #[test]
    fn error_shape() {
        let r = Response::error("Empty body", 400);
        assert_eq!(r.status, 400);
        assert_eq!(
            r.bytes(),
            Some(&br#"{"error":"Empty body","code":400}"#[..])
        );
    }

    #[test]
    fn header_replaces() {
        let r = Response::text("x").header("Content-Type", "text/csv");
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.get_header("content-type"), Some("text/csv"));
    }
}
