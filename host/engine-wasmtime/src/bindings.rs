//! Rust bindings generated from `wit/plugin.wit`, and conversions between them and
//! `berth_core::model` (the types everything above the engines speaks).

use berth_core::model as m;

// Exports are async: a call is a future that yields on epoch ticks (see the crate docs).
// Imports stay synchronous host functions: they never wait for anything.
wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    exports: { default: async },
});

pub use berth::plugin::host::{DeviceError, Level, MemoryStats, Scope, WsError};
pub use berth::plugin::types as t;

/// Converts a core value into its generated twin.
pub trait ToWit<W> {
    /// The conversion.
    fn to_wit(&self) -> W;
}

/// Converts a generated value into its core twin.
pub trait FromWit<W> {
    /// The conversion.
    fn from_wit(w: W) -> Self;
}

impl ToWit<t::Method> for m::Method {
    fn to_wit(&self) -> t::Method {
        match self {
            m::Method::Get => t::Method::Get,
            m::Method::Head => t::Method::Head,
            m::Method::Post => t::Method::Post,
            m::Method::Put => t::Method::Put,
            m::Method::Delete => t::Method::Delete,
            m::Method::Patch => t::Method::Patch,
            m::Method::Options => t::Method::Options,
            m::Method::Connect => t::Method::Connect,
            m::Method::Trace => t::Method::Trace,
        }
    }
}

impl FromWit<t::Method> for m::Method {
    fn from_wit(w: t::Method) -> Self {
        match w {
            t::Method::Get => m::Method::Get,
            t::Method::Head => m::Method::Head,
            t::Method::Post => m::Method::Post,
            t::Method::Put => m::Method::Put,
            t::Method::Delete => m::Method::Delete,
            t::Method::Patch => m::Method::Patch,
            t::Method::Options => m::Method::Options,
            t::Method::Connect => m::Method::Connect,
            t::Method::Trace => m::Method::Trace,
        }
    }
}

impl ToWit<t::Request> for m::Request {
    fn to_wit(&self) -> t::Request {
        t::Request {
            id: self.id,
            method: self.method.to_wit(),
            path: self.path.clone(),
            query: self.query.clone(),
            query_pairs: self.query_pairs.clone(),
            params: self.params.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            remote_addr: self.remote_addr.clone(),
        }
    }
}

impl ToWit<t::Body> for m::Body {
    fn to_wit(&self) -> t::Body {
        match self {
            m::Body::Bytes(b) => t::Body::Bytes(b.clone()),
            m::Body::Sse(topic) => t::Body::Sse(topic.clone()),
            m::Body::File(path) => t::Body::File(path.clone()),
            m::Body::Stream(id) => t::Body::Stream(*id),
        }
    }
}

impl FromWit<t::Body> for m::Body {
    fn from_wit(w: t::Body) -> Self {
        match w {
            t::Body::Bytes(b) => m::Body::Bytes(b),
            t::Body::Sse(topic) => m::Body::Sse(topic),
            t::Body::File(path) => m::Body::File(path),
            t::Body::Stream(id) => m::Body::Stream(id),
        }
    }
}

impl ToWit<t::Response> for m::Response {
    fn to_wit(&self) -> t::Response {
        t::Response {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.to_wit(),
        }
    }
}

impl FromWit<t::Response> for m::Response {
    fn from_wit(w: t::Response) -> Self {
        m::Response {
            status: w.status,
            headers: w.headers,
            body: m::Body::from_wit(w.body),
        }
    }
}

impl FromWit<t::Registration> for m::Registration {
    fn from_wit(w: t::Registration) -> Self {
        let methods = |ms: Vec<t::Method>| ms.into_iter().map(m::Method::from_wit).collect();
        m::Registration {
            name: w.name,
            routes: w
                .routes
                .into_iter()
                .map(|r| m::Route {
                    methods: methods(r.methods),
                    path: r.path,
                    handler: r.handler,
                })
                .collect(),
            websockets: w
                .websockets
                .into_iter()
                .map(|r| m::WsRoute {
                    path: r.path,
                    handler: r.handler,
                })
                .collect(),
            middleware: w
                .middleware
                .into_iter()
                .map(|mw| m::Middleware {
                    methods: methods(mw.methods),
                    before: mw.before,
                    after: mw.after,
                })
                .collect(),
            hooks: w
                .hooks
                .into_iter()
                .map(|h| m::Hook {
                    event: m::EventKind::from_wit(h.event),
                    handler: h.handler,
                })
                .collect(),
            timers: w
                .timers
                .into_iter()
                .map(|t| m::Timer {
                    interval_ms: t.interval_ms,
                    handler: t.handler,
                })
                .collect(),
            mounts: w
                .mounts
                .into_iter()
                .map(|s| m::StaticMount {
                    prefix: s.prefix,
                    dir: s.dir,
                    max_age: s.max_age,
                })
                .collect(),
        }
    }
}

impl FromWit<t::EventKind> for m::EventKind {
    fn from_wit(w: t::EventKind) -> Self {
        match w {
            t::EventKind::ServerStart => m::EventKind::ServerStart,
            t::EventKind::ServerStop => m::EventKind::ServerStop,
            t::EventKind::WsConnect => m::EventKind::WsConnect,
            t::EventKind::WsMessage => m::EventKind::WsMessage,
            t::EventKind::WsDisconnect => m::EventKind::WsDisconnect,
        }
    }
}

impl FromWit<t::BeforeOutcome> for m::BeforeOutcome {
    fn from_wit(w: t::BeforeOutcome) -> Self {
        match w {
            t::BeforeOutcome::Proceed(p) => m::BeforeOutcome::Proceed(m::Proceed {
                request_headers: p.request_headers,
                response_headers: p.response_headers,
            }),
            t::BeforeOutcome::Respond(r) => m::BeforeOutcome::Respond(m::Response::from_wit(r)),
        }
    }
}

impl ToWit<t::WsPayload> for m::WsPayload {
    fn to_wit(&self) -> t::WsPayload {
        match self {
            m::WsPayload::Text(s) => t::WsPayload::Text(s.clone()),
            m::WsPayload::Binary(b) => t::WsPayload::Binary(b.clone()),
        }
    }
}

impl FromWit<t::WsPayload> for m::WsPayload {
    fn from_wit(w: t::WsPayload) -> Self {
        match w {
            t::WsPayload::Text(s) => m::WsPayload::Text(s),
            t::WsPayload::Binary(b) => m::WsPayload::Binary(b),
        }
    }
}

impl ToWit<t::Event> for m::Event {
    fn to_wit(&self) -> t::Event {
        match self {
            m::Event::ServerStart(info) => t::Event::ServerStart(t::ServerInfo {
                http_addr: info.http_addr.clone(),
                ws_addr: info.ws_addr.clone(),
            }),
            m::Event::ServerStop => t::Event::ServerStop,
            m::Event::WsConnect(c) => t::Event::WsConnect(t::WsConnect {
                conn: c.conn,
                path: c.path.clone(),
                query_pairs: c.query_pairs.clone(),
                headers: c.headers.clone(),
                remote_addr: c.remote_addr.clone(),
            }),
            m::Event::WsMessage(msg) => t::Event::WsMessage(t::WsMessage {
                conn: msg.conn,
                path: msg.path.clone(),
                payload: msg.payload.to_wit(),
            }),
            m::Event::WsDisconnect(d) => t::Event::WsDisconnect(t::WsDisconnect {
                conn: d.conn,
                path: d.path.clone(),
                code: d.code,
                reason: d.reason.clone(),
            }),
            m::Event::Tick(now) => t::Event::Tick(*now),
        }
    }
}

impl FromWit<t::EventOutcome> for m::EventOutcome {
    fn from_wit(w: t::EventOutcome) -> Self {
        m::EventOutcome {
            reply: w.reply.map(m::WsPayload::from_wit),
            stop: w.stop,
            refuse: w.refuse.map(|r| m::Refusal {
                status: r.status,
                reason: r.reason,
            }),
        }
    }
}
