//! HTTP requests against a [`TestApp`]: [`TestRequest`] in, [`TestResponse`] out.

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::router::{self, Routed};
use super::{host, TestApp};
use crate::bindings::berth::plugin::types::BeforeOutcome;
use crate::{rt, Body, Method, Request, Response};

/// Chunks a stream may yield before [`TestResponse::body`] gives up on it ending.
const MAX_STREAM_CHUNKS: usize = 100_000;

impl TestApp {
    /// A request with any method; `target` is a path with an optional query string
    /// (`/users/42?page=2`, percent-encoded as on the wire).
    pub fn request(&self, method: Method, target: &str) -> TestRequest<'_> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        TestRequest {
            app: self,
            req: Request {
                id: self.request_id(),
                method,
                path: decode(path, false),
                query: query.to_string(),
                query_pairs: query_pairs(query),
                params: Vec::new(),
                headers: Vec::new(),
                body: Vec::new(),
                remote_addr: "127.0.0.1:50000".into(),
            },
        }
    }

    /// A `GET` request.
    pub fn get(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Get, target)
    }

    /// A `POST` request.
    pub fn post(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Post, target)
    }

    /// A `PUT` request.
    pub fn put(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Put, target)
    }

    /// A `PATCH` request.
    pub fn patch(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Patch, target)
    }

    /// A `DELETE` request.
    pub fn delete(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Delete, target)
    }

    /// A `HEAD` request.
    pub fn head(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Head, target)
    }

    /// An `OPTIONS` request.
    pub fn options(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Options, target)
    }

    /// The pipeline: before-middleware in order (a `respond` stops), the route, the
    /// `before`s' response headers, then the `after`s of the layers entered, in reverse.
    fn run(&self, mut req: Request) -> Response {
        let routed = router::find(&self.registration.routes, req.method, &req.path);
        if let Routed::Found { params, .. } = &routed {
            req.params = params.clone();
        }
        let layers = &self.registration.middleware;
        let applies = |methods: &[Method]| methods.is_empty() || methods.contains(&req.method);
        let mut added = Vec::new();
        let mut entered = 0;
        let mut stopped_by = None;
        let mut response = None;
        for (i, layer) in layers.iter().enumerate() {
            entered = i + 1;
            let Some(before) = layer.before.filter(|_| applies(&layer.methods)) else {
                continue;
            };
            match rt::before(before, req.clone()) {
                BeforeOutcome::Proceed(p) => {
                    for (name, value) in p.request_headers {
                        let name = name.to_ascii_lowercase();
                        req.headers.retain(|(n, _)| *n != name);
                        req.headers.push((name, value));
                    }
                    added.extend(p.response_headers);
                }
                BeforeOutcome::Respond(r) => {
                    (stopped_by, response) = (Some(i), Some(r));
                    break;
                }
            }
        }
        let mut response = response.unwrap_or_else(|| match routed {
            Routed::Found { handler, .. } => rt::handle(handler, req.clone()),
            Routed::MethodNotAllowed { allow } if req.method == Method::Options => {
                let mut names: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
                if !allow.contains(&Method::Options) {
                    names.push("OPTIONS");
                }
                Response::empty(204).header("allow", &names.join(", "))
            }
            Routed::MethodNotAllowed { allow } => {
                let names: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
                Response::error("Method Not Allowed", 405).header("allow", &names.join(", "))
            }
            Routed::NotFound => Response::error("Not Found", 404),
        });
        for (name, value) in added {
            if response.get_header(&name).is_none() {
                response.headers.push((name, value));
            }
        }
        for i in (0..entered).rev() {
            let layer = &layers[i];
            let Some(after) = layer.after.filter(|_| applies(&layer.methods)) else {
                continue;
            };
            if stopped_by != Some(i) {
                response = rt::after(after, req.clone(), response);
            }
        }
        response
    }
}

/// A request being built; [`TestRequest::send`] runs it through the plugin.
pub struct TestRequest<'a> {
    app: &'a TestApp,
    req: Request,
}

impl TestRequest<'_> {
    /// Adds a header (the host lower-cases names).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req
            .headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.req.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, with `content-type: application/json`.
    pub fn json(self, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(body)
    }

    /// Sets the peer's address (`ip:port`; the default is `127.0.0.1:50000`).
    pub fn remote_addr(mut self, addr: &str) -> Self {
        self.req.remote_addr = addr.to_string();
        self
    }

    /// The request's decoded query pairs.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        self.req.query_pairs.clone()
    }

    /// Runs the request through the plugin's middleware and routes.
    pub fn send(self) -> TestResponse {
        let head = self.req.method == Method::Head;
        let mut resp = self.app.run(self.req);
        if head {
            resp.body = Body::Bytes(Vec::new());
        }
        if let Body::Sse(topic) = &resp.body {
            host::with(|h| *h.subscribers.entry(topic.clone()).or_default() += 1);
        }
        TestResponse {
            resp,
            pulled: RefCell::new(Vec::new()),
        }
    }
}

/// What the plugin answered.
pub struct TestResponse {
    resp: Response,
    /// The chunks pulled so far from a streamed body.
    pulled: RefCell<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestResponse")
            .field("status", &self.resp.status)
            .field("headers", &self.resp.headers)
            .finish()
    }
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> u16 {
        self.resp.status
    }

    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.resp.get_header(name)
    }

    /// Every header, as the plugin (and the middleware) set them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.resp.headers
    }

    /// The response as the plugin returned it.
    pub fn response(&self) -> &Response {
        &self.resp
    }

    /// The next chunk of a streamed body (`None` when it ended, or for other bodies).
    pub fn next_chunk(&self) -> Option<Vec<u8>> {
        let Body::Stream(id) = self.resp.body else {
            return None;
        };
        let chunk = rt::next_chunk(id)?;
        self.pulled.borrow_mut().push(chunk.clone());
        Some(chunk)
    }

    /// The whole body: the bytes, or a stream pulled to its end (panics after
    /// 100,000 chunks: use [`TestResponse::next_chunk`] on endless streams).
    pub fn body(&self) -> Vec<u8> {
        match &self.resp.body {
            Body::Bytes(b) => b.clone(),
            Body::Stream(_) => {
                let mut n = self.pulled.borrow().len();
                while self.next_chunk().is_some() {
                    n += 1;
                    assert!(n <= MAX_STREAM_CHUNKS, "the stream did not end");
                }
                self.pulled.borrow().concat()
            }
            _ => Vec::new(),
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }

    /// The body parsed as JSON; panics, showing the body, when it is not a `T`.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        let body = self.body();
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => panic!(
                "response body is not the JSON asked for ({e}): {}",
                String::from_utf8_lossy(&body)
            ),
        }
    }

    /// The topic, when the plugin answered with a Server-Sent Events stream.
    pub fn sse_topic(&self) -> Option<&str> {
        match &self.resp.body {
            Body::Sse(topic) => Some(topic),
            _ => None,
        }
    }

    /// The path, when the plugin answered with a file.
    pub fn file(&self) -> Option<&str> {
        match &self.resp.body {
            Body::File(path) => Some(path),
            _ => None,
        }
    }
}

/// Percent-decodes `s` (and `+` as a space in a query). Hand-written: the SDK carries no
/// URL crate for the eight lines the in-memory host needs.
fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}
