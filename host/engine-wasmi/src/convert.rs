//! Conversions between [`Value`]s of the contract's types and `berth_core::model` types.
//!
//! The `from_*` functions take values lifted against the matching [`crate::wit`] type,
//! so a shape mismatch is impossible in practice; they still return errors, not panics.

use alloc::string::String;
use alloc::vec::Vec;

use berth_core::device::{DeviceError, MemoryStats};
use berth_core::engine::CallError;
use berth_core::host::{Level, Scope, WsError};
use berth_core::model::{
    BeforeOutcome, Body, Event, EventKind, EventOutcome, Hook, Method, Middleware, Pairs, Proceed,
    Refusal, Registration, Request, Response, Route, StaticMount, Timer, WsPayload, WsRoute,
};

use crate::abi::Value;

fn shape() -> CallError {
    CallError::Malformed(String::from("value does not have the expected shape"))
}

// ---- host → guest ----

/// `pairs`.
pub fn pairs(p: &Pairs) -> Value {
    Value::List(
        p.iter()
            .map(|(k, v)| {
                Value::Record(alloc::vec![
                    Value::String(k.clone()),
                    Value::String(v.clone())
                ])
            })
            .collect(),
    )
}

/// The case of `method` for `m` (`Method::ALL` is the WIT enum's order).
pub(crate) fn method_case(m: Method) -> u32 {
    Method::ALL.iter().position(|x| *x == m).unwrap_or(0) as u32
}

/// `method`.
pub fn method(m: Method) -> Value {
    Value::unit(method_case(m))
}

/// `request`.
pub fn request(r: &Request) -> Value {
    Value::Record(alloc::vec![
        Value::U64(r.id),
        method(r.method),
        Value::String(r.path.clone()),
        Value::String(r.query.clone()),
        pairs(&r.query_pairs),
        pairs(&r.params),
        pairs(&r.headers),
        Value::Bytes(r.body.clone()),
        Value::String(r.remote_addr.clone()),
    ])
}

/// `body`.
pub fn body(b: &Body) -> Value {
    match b {
        Body::Bytes(bytes) => Value::case(0, Value::Bytes(bytes.clone())),
        Body::Sse(topic) => Value::case(1, Value::String(topic.clone())),
        Body::File(path) => Value::case(2, Value::String(path.clone())),
        Body::Stream(id) => Value::case(3, Value::U32(*id)),
    }
}

/// `response`.
pub fn response(r: &Response) -> Value {
    Value::Record(alloc::vec![
        Value::U16(r.status),
        pairs(&r.headers),
        body(&r.body)
    ])
}

/// `ws-payload`.
pub fn ws_payload(p: &WsPayload) -> Value {
    match p {
        WsPayload::Text(t) => Value::case(0, Value::String(t.clone())),
        WsPayload::Binary(b) => Value::case(1, Value::Bytes(b.clone())),
    }
}

fn opt_string(s: &Option<String>) -> Value {
    Value::option(s.as_ref().map(|s| Value::String(s.clone())))
}

/// `event`.
pub fn event(e: &Event) -> Value {
    match e {
        Event::ServerStart(i) => Value::case(
            0,
            Value::Record(alloc::vec![
                Value::String(i.http_addr.clone()),
                opt_string(&i.ws_addr)
            ]),
        ),
        Event::ServerStop => Value::unit(1),
        Event::WsConnect(c) => Value::case(
            2,
            Value::Record(alloc::vec![
                Value::U64(c.conn),
                Value::String(c.path.clone()),
                pairs(&c.query_pairs),
                pairs(&c.headers),
                Value::String(c.remote_addr.clone()),
            ]),
        ),
        Event::WsMessage(m) => Value::case(
            3,
            Value::Record(alloc::vec![
                Value::U64(m.conn),
                Value::String(m.path.clone()),
                ws_payload(&m.payload),
            ]),
        ),
        Event::WsDisconnect(d) => Value::case(
            4,
            Value::Record(alloc::vec![
                Value::U64(d.conn),
                Value::String(d.path.clone()),
                Value::U16(d.code),
                Value::String(d.reason.clone()),
            ]),
        ),
        Event::Tick(t) => Value::case(5, Value::U64(*t)),
    }
}

/// `result<T, string>` around an already converted `T`.
pub fn string_result(r: Result<Value, String>) -> Value {
    match r {
        Ok(v) => Value::case(0, v),
        Err(e) => Value::case(1, Value::String(e)),
    }
}

/// `result<_, ws-error>`.
pub fn ws_result(r: Result<(), WsError>) -> Value {
    match r {
        Ok(()) => Value::unit(0),
        Err(e) => Value::case(
            1,
            Value::unit(match e {
                WsError::NoSuchConnection => 0,
                WsError::QueueFull => 1,
                WsError::Unsupported => 2,
            }),
        ),
    }
}

/// `device-error`.
fn device_error(e: DeviceError) -> Value {
    Value::unit(match e {
        DeviceError::NotGranted => 0,
        DeviceError::Unsupported => 1,
        DeviceError::NoSuchPin => 2,
    })
}

/// `result<T, device-error>`, the ok payload (if any) made by `ok`.
pub fn device_result<T>(r: Result<T, DeviceError>, ok: impl FnOnce(T) -> Option<Value>) -> Value {
    match r {
        Ok(v) => Value::Variant(0, ok(v).map(alloc::boxed::Box::new)),
        Err(e) => Value::case(1, device_error(e)),
    }
}

/// `memory-stats`.
pub fn memory_stats(m: MemoryStats) -> Value {
    Value::Record(alloc::vec![Value::U64(m.free), Value::U64(m.used)])
}

// ---- guest → host ----

/// The fields of a record or tuple with exactly `N` fields.
pub fn fields<const N: usize>(v: Value) -> Result<[Value; N], CallError> {
    match v {
        Value::Record(vs) => <[Value; N]>::try_from(vs).map_err(|_| shape()),
        _ => Err(shape()),
    }
}

/// A variant case and its payload.
pub fn variant(v: Value) -> Result<(u32, Option<Value>), CallError> {
    match v {
        Value::Variant(case, payload) => Ok((case, payload.map(|b| *b))),
        _ => Err(shape()),
    }
}

/// A payload that must be present.
fn payload(p: Option<Value>) -> Result<Value, CallError> {
    p.ok_or_else(shape)
}

/// `string`.
pub fn string(v: Value) -> Result<String, CallError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(shape()),
    }
}

/// `list<u8>`.
pub fn bytes(v: Value) -> Result<Vec<u8>, CallError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(shape()),
    }
}

/// Any other `list<T>`.
pub fn list<T>(
    v: Value,
    item: impl Fn(Value) -> Result<T, CallError>,
) -> Result<Vec<T>, CallError> {
    match v {
        Value::List(items) => items.into_iter().map(item).collect(),
        _ => Err(shape()),
    }
}

/// `option<T>`.
pub fn option<T>(
    v: Value,
    some: impl Fn(Value) -> Result<T, CallError>,
) -> Result<Option<T>, CallError> {
    match variant(v)? {
        (0, None) => Ok(None),
        (1, Some(p)) => some(p).map(Some),
        _ => Err(shape()),
    }
}

/// `u8`.
pub fn u8_(v: Value) -> Result<u8, CallError> {
    match v {
        Value::U8(x) => Ok(x),
        _ => Err(shape()),
    }
}

/// `u16`.
pub fn u16_(v: Value) -> Result<u16, CallError> {
    match v {
        Value::U16(x) => Ok(x),
        _ => Err(shape()),
    }
}

/// `u32` (and `handler-id`).
pub fn u32_(v: Value) -> Result<u32, CallError> {
    match v {
        Value::U32(x) => Ok(x),
        _ => Err(shape()),
    }
}

/// `u64`.
pub fn u64_(v: Value) -> Result<u64, CallError> {
    match v {
        Value::U64(x) => Ok(x),
        _ => Err(shape()),
    }
}

/// `s64`.
pub fn s64_(v: Value) -> Result<i64, CallError> {
    match v {
        Value::S64(x) => Ok(x),
        _ => Err(shape()),
    }
}

/// `bool`.
pub fn bool_(v: Value) -> Result<bool, CallError> {
    match v {
        Value::Bool(x) => Ok(x),
        _ => Err(shape()),
    }
}

/// The case number of an enum value.
pub fn enum_case(v: Value) -> Result<usize, CallError> {
    match variant(v)? {
        (case, None) => Ok(case as usize),
        _ => Err(shape()),
    }
}

/// `method`.
pub fn to_method(v: Value) -> Result<Method, CallError> {
    Method::ALL.get(enum_case(v)?).copied().ok_or_else(shape)
}

/// `host.level`.
pub fn to_level(v: Value) -> Result<Level, CallError> {
    const LEVELS: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];
    LEVELS.get(enum_case(v)?).copied().ok_or_else(shape)
}

/// `host.scope`.
pub fn to_scope(v: Value) -> Result<Scope, CallError> {
    [Scope::Plugin, Scope::Shared]
        .get(enum_case(v)?)
        .copied()
        .ok_or_else(shape)
}

/// `pairs`.
pub fn to_pairs(v: Value) -> Result<Pairs, CallError> {
    list(v, |p| {
        let [k, v] = fields(p)?;
        Ok((string(k)?, string(v)?))
    })
}

/// `body`.
pub fn to_body(v: Value) -> Result<Body, CallError> {
    Ok(match variant(v)? {
        (0, p) => Body::Bytes(bytes(payload(p)?)?),
        (1, p) => Body::Sse(string(payload(p)?)?),
        (2, p) => Body::File(string(payload(p)?)?),
        (3, p) => Body::Stream(u32_(payload(p)?)?),
        _ => return Err(shape()),
    })
}

/// `response`.
pub fn to_response(v: Value) -> Result<Response, CallError> {
    let [status, headers, body] = fields(v)?;
    Ok(Response {
        status: u16_(status)?,
        headers: to_pairs(headers)?,
        body: to_body(body)?,
    })
}

/// `ws-payload`.
pub fn to_ws_payload(v: Value) -> Result<WsPayload, CallError> {
    Ok(match variant(v)? {
        (0, p) => WsPayload::Text(string(payload(p)?)?),
        (1, p) => WsPayload::Binary(bytes(payload(p)?)?),
        _ => return Err(shape()),
    })
}

fn to_event_kind(v: Value) -> Result<EventKind, CallError> {
    const KINDS: [EventKind; 5] = [
        EventKind::ServerStart,
        EventKind::ServerStop,
        EventKind::WsConnect,
        EventKind::WsMessage,
        EventKind::WsDisconnect,
    ];
    KINDS.get(enum_case(v)?).copied().ok_or_else(shape)
}

/// `registration`.
pub fn to_registration(v: Value) -> Result<Registration, CallError> {
    let [name, routes, websockets, middleware, hooks, timers, mounts] = fields(v)?;
    Ok(Registration {
        name: string(name)?,
        routes: list(routes, |r| {
            let [methods, path, handler] = fields(r)?;
            Ok(Route {
                methods: list(methods, to_method)?,
                path: string(path)?,
                handler: u32_(handler)?,
            })
        })?,
        websockets: list(websockets, |w| {
            let [path, handler] = fields(w)?;
            Ok(WsRoute {
                path: string(path)?,
                handler: u32_(handler)?,
            })
        })?,
        middleware: list(middleware, |m| {
            let [methods, before, after] = fields(m)?;
            Ok(Middleware {
                methods: list(methods, to_method)?,
                before: option(before, u32_)?,
                after: option(after, u32_)?,
            })
        })?,
        hooks: list(hooks, |h| {
            let [event, handler] = fields(h)?;
            Ok(Hook {
                event: to_event_kind(event)?,
                handler: u32_(handler)?,
            })
        })?,
        timers: list(timers, |t| {
            let [interval, handler] = fields(t)?;
            Ok(Timer {
                interval_ms: u32_(interval)?,
                handler: u32_(handler)?,
            })
        })?,
        mounts: list(mounts, |m| {
            let [prefix, dir, max_age] = fields(m)?;
            Ok(StaticMount {
                prefix: string(prefix)?,
                dir: string(dir)?,
                max_age: u32_(max_age)?,
            })
        })?,
    })
}

/// `result<registration, string>`.
pub fn to_setup_result(v: Value) -> Result<Result<Registration, String>, CallError> {
    Ok(match variant(v)? {
        (0, p) => Ok(to_registration(payload(p)?)?),
        (1, p) => Err(string(payload(p)?)?),
        _ => return Err(shape()),
    })
}

/// `before-outcome`.
pub fn to_before_outcome(v: Value) -> Result<BeforeOutcome, CallError> {
    Ok(match variant(v)? {
        (0, p) => {
            let [req, resp] = fields(payload(p)?)?;
            BeforeOutcome::Proceed(Proceed {
                request_headers: to_pairs(req)?,
                response_headers: to_pairs(resp)?,
            })
        }
        (1, p) => BeforeOutcome::Respond(to_response(payload(p)?)?),
        _ => return Err(shape()),
    })
}

/// `event-outcome`.
pub fn to_event_outcome(v: Value) -> Result<EventOutcome, CallError> {
    let [reply, stop, refuse] = fields(v)?;
    Ok(EventOutcome {
        reply: option(reply, to_ws_payload)?,
        stop: bool_(stop)?,
        refuse: option(refuse, |r| {
            let [status, reason] = fields(r)?;
            Ok(Refusal {
                status: u16_(status)?,
                reason: string(reason)?,
            })
        })?,
    })
}

/// `option<list<u8>>`.
pub fn to_chunk(v: Value) -> Result<Option<Vec<u8>>, CallError> {
    option(v, bytes)
}
