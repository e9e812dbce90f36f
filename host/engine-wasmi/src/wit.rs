//! The contract `wit/plugin.wit`, as [`Type`] descriptors and function signatures.
//!
//! `tests/wit_types.rs` parses the WIT and checks every constant here against it
//! (shape, field names, size and alignment), so the two cannot drift apart.

use crate::abi::{Case, Field, Type};

/// The core module's import module for `interface host`.
pub const HOST_MODULE: &str = "berth:plugin/host@0.1.0";
/// The prefix of the core exports of `interface guest`.
pub const GUEST_PREFIX: &str = "berth:plugin/guest@0.1.0#";

const fn field(name: &'static str, ty: Type) -> Field {
    Field { name, ty }
}
const fn case(name: &'static str, ty: Option<Type>) -> Case {
    Case { name, ty }
}

/// `handler-id`.
pub const HANDLER_ID: Type = Type::U32;
/// `method`.
pub const METHOD: Type = Type::Enum(&[
    "get", "head", "post", "put", "delete", "patch", "options", "connect", "trace",
]);
/// `pairs`.
pub const PAIRS: Type = Type::List(&Type::Tuple(&[Type::String, Type::String]));
/// `list<u8>`.
pub const BYTES: Type = Type::List(&Type::U8);
/// `request`.
pub const REQUEST: Type = Type::Record(&[
    field("id", Type::U64),
    field("method", METHOD),
    field("path", Type::String),
    field("query", Type::String),
    field("query-pairs", PAIRS),
    field("params", PAIRS),
    field("headers", PAIRS),
    field("body", BYTES),
    field("remote-addr", Type::String),
]);
/// `body`.
pub const BODY: Type = Type::Variant(&[
    case("bytes", Some(BYTES)),
    case("sse", Some(Type::String)),
    case("file", Some(Type::String)),
    case("stream", Some(Type::U32)),
]);
/// `response`.
pub const RESPONSE: Type = Type::Record(&[
    field("status", Type::U16),
    field("headers", PAIRS),
    field("body", BODY),
]);
/// `route`.
pub const ROUTE: Type = Type::Record(&[
    field("methods", Type::List(&METHOD)),
    field("path", Type::String),
    field("handler", HANDLER_ID),
]);
/// `ws-route`.
pub const WS_ROUTE: Type =
    Type::Record(&[field("path", Type::String), field("handler", HANDLER_ID)]);
/// `middleware`.
pub const MIDDLEWARE: Type = Type::Record(&[
    field("methods", Type::List(&METHOD)),
    field("before", Type::Option(&HANDLER_ID)),
    field("after", Type::Option(&HANDLER_ID)),
]);
/// `event-kind`.
pub const EVENT_KIND: Type = Type::Enum(&[
    "server-start",
    "server-stop",
    "ws-connect",
    "ws-message",
    "ws-disconnect",
]);
/// `hook`.
pub const HOOK: Type = Type::Record(&[field("event", EVENT_KIND), field("handler", HANDLER_ID)]);
/// `timer`.
pub const TIMER: Type = Type::Record(&[
    field("interval-ms", Type::U32),
    field("handler", HANDLER_ID),
]);
/// `static-mount`.
pub const STATIC_MOUNT: Type = Type::Record(&[
    field("prefix", Type::String),
    field("dir", Type::String),
    field("max-age", Type::U32),
]);
/// `registration`.
pub const REGISTRATION: Type = Type::Record(&[
    field("name", Type::String),
    field("routes", Type::List(&ROUTE)),
    field("websockets", Type::List(&WS_ROUTE)),
    field("middleware", Type::List(&MIDDLEWARE)),
    field("hooks", Type::List(&HOOK)),
    field("timers", Type::List(&TIMER)),
    field("mounts", Type::List(&STATIC_MOUNT)),
]);
/// `proceed`.
pub const PROCEED: Type = Type::Record(&[
    field("request-headers", PAIRS),
    field("response-headers", PAIRS),
]);
/// `before-outcome`.
pub const BEFORE_OUTCOME: Type = Type::Variant(&[
    case("proceed", Some(PROCEED)),
    case("respond", Some(RESPONSE)),
]);
/// `ws-payload`.
pub const WS_PAYLOAD: Type = Type::Variant(&[
    case("text", Some(Type::String)),
    case("binary", Some(BYTES)),
]);
/// `server-info`.
pub const SERVER_INFO: Type = Type::Record(&[
    field("http-addr", Type::String),
    field("ws-addr", Type::Option(&Type::String)),
]);
/// `ws-connect`.
pub const WS_CONNECT: Type = Type::Record(&[
    field("conn", Type::U64),
    field("path", Type::String),
    field("query-pairs", PAIRS),
    field("headers", PAIRS),
    field("remote-addr", Type::String),
]);
/// `ws-message`.
pub const WS_MESSAGE: Type = Type::Record(&[
    field("conn", Type::U64),
    field("path", Type::String),
    field("payload", WS_PAYLOAD),
]);
/// `ws-disconnect`.
pub const WS_DISCONNECT: Type = Type::Record(&[
    field("conn", Type::U64),
    field("path", Type::String),
    field("code", Type::U16),
    field("reason", Type::String),
]);
/// `event`.
pub const EVENT: Type = Type::Variant(&[
    case("server-start", Some(SERVER_INFO)),
    case("server-stop", None),
    case("ws-connect", Some(WS_CONNECT)),
    case("ws-message", Some(WS_MESSAGE)),
    case("ws-disconnect", Some(WS_DISCONNECT)),
    case("tick", Some(Type::U64)),
]);
/// `refusal`.
pub const REFUSAL: Type =
    Type::Record(&[field("status", Type::U16), field("reason", Type::String)]);
/// `event-outcome`.
pub const EVENT_OUTCOME: Type = Type::Record(&[
    field("reply", Type::Option(&WS_PAYLOAD)),
    field("stop", Type::Bool),
    field("refuse", Type::Option(&REFUSAL)),
]);
/// `host.level`.
pub const LEVEL: Type = Type::Enum(&["trace", "debug", "info", "warn", "error"]);
/// `host.scope`.
pub const SCOPE: Type = Type::Enum(&["plugin", "shared"]);
/// `host.ws-error`.
pub const WS_ERROR: Type = Type::Enum(&["no-such-connection", "queue-full", "unsupported"]);
/// `host.device-error`.
pub const DEVICE_ERROR: Type = Type::Enum(&["not-granted", "unsupported", "no-such-pin"]);
/// `host.memory-stats`.
pub const MEMORY_STATS: Type = Type::Record(&[field("free", Type::U64), field("used", Type::U64)]);
/// `result<_, ws-error>`.
pub const WS_RESULT: Type = Type::Result {
    ok: None,
    err: Some(&WS_ERROR),
};

/// The signature of one WIT function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncSig {
    /// The function's WIT name.
    pub name: &'static str,
    /// Parameter names, in order.
    pub param_names: &'static [&'static str],
    /// Parameter types, in order (a tuple of them is what goes through memory when
    /// they flatten to more than [`crate::abi::MAX_FLAT_PARAMS`] values).
    pub params: &'static [Type],
    /// The result type, if any.
    pub result: Option<Type>,
}

/// A signature; `p!` below splits `name: type` pairs into the two parallel lists.
const fn sig(
    name: &'static str,
    (param_names, params): (&'static [&'static str], &'static [Type]),
    result: Option<Type>,
) -> FuncSig {
    FuncSig {
        name,
        param_names,
        params,
        result,
    }
}

macro_rules! p {
    ($($name:literal: $ty:expr),* $(,)?) => {
        (&[$($name),*], &[$($ty),*])
    };
}

/// `guest.setup`.
pub const SETUP: FuncSig = sig(
    "setup",
    p!["config": PAIRS],
    Some(Type::Result {
        ok: Some(&REGISTRATION),
        err: Some(&Type::String),
    }),
);
/// `guest.handle`.
pub const HANDLE: FuncSig = sig(
    "handle",
    p!["handler": HANDLER_ID, "req": REQUEST],
    Some(RESPONSE),
);
/// `guest.before`.
pub const BEFORE: FuncSig = sig(
    "before",
    p!["handler": HANDLER_ID, "req": REQUEST],
    Some(BEFORE_OUTCOME),
);
/// `guest.after`.
pub const AFTER: FuncSig = sig(
    "after",
    p!["handler": HANDLER_ID, "req": REQUEST, "resp": RESPONSE],
    Some(RESPONSE),
);
/// `guest.on-event`.
pub const ON_EVENT: FuncSig = sig(
    "on-event",
    p!["handler": HANDLER_ID, "ev": EVENT],
    Some(EVENT_OUTCOME),
);
/// `guest.next-chunk`.
pub const NEXT_CHUNK: FuncSig = sig(
    "next-chunk",
    p!["stream": Type::U32],
    Some(Type::Option(&BYTES)),
);

/// Every export of `interface guest`, in WIT order.
pub const GUEST_FUNCS: [FuncSig; 6] = [SETUP, HANDLE, BEFORE, AFTER, ON_EVENT, NEXT_CHUNK];

/// Every import of `interface host`, in WIT order.
pub const HOST_FUNCS: [FuncSig; 26] = [
    sig("log", p!["level": LEVEL, "message": Type::String], None),
    sig(
        "state-get",
        p!["scope": SCOPE, "key": Type::String],
        Some(Type::Option(&BYTES)),
    ),
    sig(
        "state-set",
        p!["scope": SCOPE, "key": Type::String, "value": BYTES, "ttl-ms": Type::Option(&Type::U64)],
        None,
    ),
    sig(
        "state-try-set",
        p!["scope": SCOPE, "key": Type::String, "value": BYTES, "ttl-ms": Type::Option(&Type::U64)],
        Some(Type::Result {
            ok: None,
            err: Some(&Type::String),
        }),
    ),
    sig(
        "state-delete",
        p!["scope": SCOPE, "key": Type::String],
        Some(Type::Bool),
    ),
    sig(
        "state-incr",
        p!["scope": SCOPE, "key": Type::String, "delta": Type::S64],
        Some(Type::Result {
            ok: Some(&Type::S64),
            err: Some(&Type::String),
        }),
    ),
    sig(
        "state-keys",
        p!["scope": SCOPE, "prefix": Type::String],
        Some(Type::List(&Type::String)),
    ),
    sig(
        "state-try-get",
        p!["scope": SCOPE, "key": Type::String],
        Some(Type::Result {
            ok: Some(&Type::Option(&BYTES)),
            err: Some(&Type::String),
        }),
    ),
    sig(
        "state-try-delete",
        p!["scope": SCOPE, "key": Type::String],
        Some(Type::Result {
            ok: Some(&Type::Bool),
            err: Some(&Type::String),
        }),
    ),
    sig(
        "state-try-keys",
        p!["scope": SCOPE, "prefix": Type::String],
        Some(Type::Result {
            ok: Some(&Type::List(&Type::String)),
            err: Some(&Type::String),
        }),
    ),
    sig(
        "ws-send",
        p!["conn": Type::U64, "msg": WS_PAYLOAD],
        Some(WS_RESULT),
    ),
    sig(
        "ws-close",
        p!["conn": Type::U64, "code": Type::U16, "reason": Type::String],
        Some(WS_RESULT),
    ),
    sig(
        "ws-data-get",
        p!["conn": Type::U64, "key": Type::String],
        Some(Type::Option(&Type::String)),
    ),
    sig(
        "ws-data-set",
        p!["conn": Type::U64, "key": Type::String, "value": Type::Option(&Type::String)],
        Some(WS_RESULT),
    ),
    sig(
        "ws-join",
        p!["conn": Type::U64, "room": Type::String],
        Some(WS_RESULT),
    ),
    sig(
        "ws-leave",
        p!["conn": Type::U64, "room": Type::String],
        Some(WS_RESULT),
    ),
    sig(
        "ws-broadcast",
        p!["room": Type::Option(&Type::String), "msg": WS_PAYLOAD, "except": Type::Option(&Type::U64)],
        Some(Type::U32),
    ),
    sig(
        "ws-room-members",
        p!["room": Type::String],
        Some(Type::List(&Type::U64)),
    ),
    sig(
        "publish",
        p![
            "topic": Type::String,
            "data": Type::String,
            "event": Type::Option(&Type::String),
            "id": Type::Option(&Type::String),
        ],
        Some(Type::U32),
    ),
    sig("now-ms", p![], Some(Type::U64)),
    sig("random-u64", p![], Some(Type::U64)),
    sig(
        "gpio-write",
        p!["pin": Type::U8, "high": Type::Bool],
        Some(Type::Result {
            ok: None,
            err: Some(&DEVICE_ERROR),
        }),
    ),
    sig(
        "gpio-read",
        p!["pin": Type::U8],
        Some(Type::Result {
            ok: Some(&Type::Bool),
            err: Some(&DEVICE_ERROR),
        }),
    ),
    sig("memory", p![], Some(MEMORY_STATS)),
    sig("memory-collect", p![], None),
    sig("log-enabled", p!["level": LEVEL], Some(Type::Bool)),
];
