//! The request/response model: a faithful Rust mirror of `wit/plugin.wit`'s `types`.
//!
//! Both engines convert between these and the wire representation of the component
//! model, so everything above the engines (router, pipeline, servers) speaks only these
//! types. Field docs live in the WIT; here we note only what is Rust-specific.

use alloc::string::String;
use alloc::vec::Vec;

/// Identifies a handler closure inside a plugin instance.
pub type HandlerId = u32;

/// Ordered name/value pairs (headers, query pairs, route params, plugin config).
pub type Pairs = Vec<(String, String)>;

/// The HTTP methods Berth routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Connect,
    Trace,
}

impl Method {
    /// Every method, in WIT declaration order (the order of their enum discriminants).
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
        Method::Connect,
        Method::Trace,
    ];

    /// The method's name as it appears on the wire.
    pub fn as_str(self) -> &'static str {
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

    /// Parses a method name (case-sensitive, as HTTP requires); `None` for extension methods.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// An HTTP request as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Request {
    pub id: u64,
    pub method: Method,
    pub path: String,
    pub query: String,
    pub query_pairs: Pairs,
    pub params: Pairs,
    /// Lower-case names.
    pub headers: Pairs,
    pub body: Vec<u8>,
    pub remote_addr: String,
}

impl Request {
    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_pair(&self.headers, name)
    }
}

/// The first value for `name` in `pairs`, comparing names ASCII case-insensitively.
pub fn find_pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the host sends as a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Body {
    Bytes(Vec<u8>),
    Sse(String),
    File(String),
    Stream(u32),
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Response {
    pub status: u16,
    pub headers: Pairs,
    pub body: Body,
}

impl Response {
    /// A response with a JSON body (already serialised).
    pub fn json(status: u16, json: String) -> Response {
        Response {
            status,
            headers: alloc::vec![("content-type".into(), "application/json".into())],
            body: Body::Bytes(json.into_bytes()),
        }
    }

    /// Seed 002's error shape, `{"error": message, "code": status}`, used for every
    /// error the host itself produces (404, 405, 500, 504…).
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, crate::json::error_body(status, message))
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_pair(&self.headers, name)
    }

    /// Adds a header unless the response already has one of that name: whoever produced
    /// the response made the more specific choice.
    pub fn add_header_if_absent(&mut self, name: &str, value: &str) {
        if self.header(name).is_none() {
            self.headers.push((name.into(), value.into()));
        }
    }
}

/// A route registration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Route {
    pub methods: Vec<Method>,
    pub path: String,
    pub handler: HandlerId,
}

/// A WebSocket endpoint on the HTTP port.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct WsRoute {
    pub path: String,
    pub handler: HandlerId,
}

/// A middleware registration (also how `http:<method>` hooks are expressed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Middleware {
    /// Empty means every method.
    pub methods: Vec<Method>,
    pub before: Option<HandlerId>,
    pub after: Option<HandlerId>,
}

impl Middleware {
    /// Whether this middleware sees requests with `method`.
    pub fn applies_to(&self, method: Method) -> bool {
        self.methods.is_empty() || self.methods.contains(&method)
    }
}

/// Lifecycle and WebSocket events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum EventKind {
    ServerStart,
    ServerStop,
    WsConnect,
    WsMessage,
    WsDisconnect,
}

/// A lifecycle hook registration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Hook {
    pub event: EventKind,
    pub handler: HandlerId,
}

/// A timer registration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Timer {
    pub interval_ms: u32,
    pub handler: HandlerId,
}

/// A static directory a plugin asks to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct StaticMount {
    pub prefix: String,
    pub dir: String,
    pub max_age: u32,
}

/// Everything a plugin declares from `setup`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Registration {
    pub name: String,
    pub routes: Vec<Route>,
    pub websockets: Vec<WsRoute>,
    pub middleware: Vec<Middleware>,
    pub hooks: Vec<Hook>,
    pub timers: Vec<Timer>,
    pub mounts: Vec<StaticMount>,
}

/// Changes a `before` middleware makes while letting the request proceed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Proceed {
    pub request_headers: Pairs,
    pub response_headers: Pairs,
}

/// The result of a `before` middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BeforeOutcome {
    Proceed(Proceed),
    Respond(Response),
}

/// A whole WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum WsPayload {
    Text(String),
    Binary(Vec<u8>),
}

/// Where the server listens, for `server-start`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ServerInfo {
    pub http_addr: String,
    pub ws_addr: Option<String>,
}

/// Payload of `ws-connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct WsConnect {
    pub conn: u64,
    pub path: String,
    pub query_pairs: Pairs,
    pub headers: Pairs,
    pub remote_addr: String,
}

/// Payload of `ws-message`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct WsMessage {
    pub conn: u64,
    pub path: String,
    pub payload: WsPayload,
}

/// Payload of `ws-disconnect`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct WsDisconnect {
    pub conn: u64,
    pub path: String,
    pub code: u16,
    pub reason: String,
}

/// An event delivered to a hook, WebSocket route or timer handler.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Event {
    ServerStart(ServerInfo),
    ServerStop,
    WsConnect(WsConnect),
    WsMessage(WsMessage),
    WsDisconnect(WsDisconnect),
    Tick(u64),
}

/// Refuses a WebSocket upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

/// What a handler made of an event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct EventOutcome {
    pub reply: Option<WsPayload>,
    pub stop: bool,
    pub refuse: Option<Refusal>,
}
