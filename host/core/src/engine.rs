//! The boundary between the host and a Wasm engine.
//!
//! Berth runs the same plugin file on two engines: wasmtime (servers) and wasmi
//! (interpreted, `no_std`, microcontrollers). Each implements these three small,
//! object-safe traits; nothing above them knows which engine runs:
//!
//! ```text
//! Engine::compile(bytes) ─► Module ──instantiate(host)──► Instance ──setup/handle/before/…
//! ```
//!
//! Calls into a guest are futures ([`CallFuture`]): a guest that computes for long
//! yields back to the runtime's executor every few milliseconds (on each epoch tick on
//! wasmtime, between fuel slices on wasmi) and is resumed where it stopped. So a plugin
//! busy for its whole `plugin_timeout` shares the worker it runs on instead of holding
//! it: unrelated requests are delayed by a slice, not by the deadline. The per-call
//! deadline still holds (the engine checks it whenever the guest yields) and a call
//! whose future is dropped mid-way is abandoned with its instance.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;

use crate::host::PluginHost;
use crate::model::{
    BeforeOutcome, Event, EventOutcome, HandlerId, Pairs, Registration, Request, Response,
};

/// A call into a plugin instance, in progress. Boxed so that [`Instance`] stays
/// object-safe (the server pools `Box<dyn Instance>`); `Send` so that the desktop
/// server's multi-threaded runtime may move a suspended call between workers.
pub type CallFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CallError>> + Send + 'a>>;

/// How a busy guest yields to the executor between two slices: a future that completes
/// once the executor has had its turn. Without one an engine wakes itself and returns
/// `Pending` once, which suits a loop that polls everything on every wake (the embedded
/// runtime); tokio wants `tokio::task::yield_now`, which also lets the worker poll its
/// I/O driver before the guest resumes (a self-wake alone does not: tokio looks at its
/// sockets only every few dozen task polls, which with slices of milliseconds each would
/// keep new requests waiting for hundreds of them).
pub type YieldNow = fn() -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Resource limits every engine enforces on every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    /// Wall-clock budget of one call into a plugin, in milliseconds.
    pub call_timeout_ms: u64,
    /// The most linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// The same cap for a component that imports WASI (a Python plugin: CPython's heap
    /// starts at about 30 MiB, so `memory_bytes` would refuse it).
    pub wasi_memory_bytes: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            call_timeout_ms: 1_000,
            memory_bytes: 16 << 20,
            wasi_memory_bytes: 128 << 20,
        }
    }
}

/// Compiles plugin files.
pub trait Engine: Send + Sync {
    /// A short name for logs: `wasmtime` or `wasmi`.
    fn name(&self) -> &'static str;

    /// Validates and compiles a plugin component. The result is instantiated many times.
    fn compile(&self, bytes: &[u8]) -> Result<Box<dyn Module>, LoadError>;
}

/// A compiled plugin.
pub trait Module: Send + Sync {
    /// Creates a fresh instance whose imports call into `host`.
    fn instantiate(&self, host: PluginHost) -> Result<Box<dyn Instance>, CallError>;
}

/// One live plugin instance. Instances are pooled by the server; any method that
/// returns an error leaves the instance unusable,
/// and the caller must drop it.
pub trait Instance: Send {
    /// Runs the guest's `setup` with its config table.
    fn setup<'a>(&'a mut self, config: &'a Pairs) -> CallFuture<'a, Result<Registration, String>>;
    /// Runs a route handler.
    fn handle<'a>(&'a mut self, handler: HandlerId, req: &'a Request) -> CallFuture<'a, Response>;
    /// Runs the before-phase of a middleware.
    fn before<'a>(
        &'a mut self,
        handler: HandlerId,
        req: &'a Request,
    ) -> CallFuture<'a, BeforeOutcome>;
    /// Runs the after-phase of a middleware.
    fn after<'a>(
        &'a mut self,
        handler: HandlerId,
        req: &'a Request,
        resp: &'a Response,
    ) -> CallFuture<'a, Response>;
    /// Delivers an event to a hook, WebSocket route or timer handler.
    fn on_event<'a>(
        &'a mut self,
        handler: HandlerId,
        event: &'a Event,
    ) -> CallFuture<'a, EventOutcome>;
    /// Pulls the next chunk of a streamed body.
    fn next_chunk(&mut self, stream: u32) -> CallFuture<'_, Option<Vec<u8>>>;
}

/// A plugin file that cannot be used. Start-up reports it with the file name and stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// Not a valid Wasm component (or not one at all).
    Invalid(String),
    /// A valid component that does not implement the `berth:plugin` world.
    Contract(String),
    /// The component imports WASI (a Python plugin does), which this engine does not
    /// provide; the text names the import. See [`LoadError::needs_wasi`].
    NeedsWasi {
        /// The engine that refused it.
        engine: &'static str,
        /// One WASI import, e.g. `wasi:io/poll@0.2.0`.
        import: String,
    },
}

impl LoadError {
    /// The refusal of a WASI-importing component by an engine without WASI (wasmi, and
    /// so the embedded runtime): one message, naming the engine to use instead.
    pub fn needs_wasi(engine: &'static str, import: &str) -> LoadError {
        LoadError::NeedsWasi {
            engine,
            import: String::from(import),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Invalid(why) => write!(f, "not a valid plugin component: {why}"),
            LoadError::Contract(why) => write!(f, "does not implement berth:plugin@0.1.0: {why}"),
            LoadError::NeedsWasi { engine, import } => write!(
                f,
                "imports WASI ({import}), as Python plugins do, and the {engine} engine \
                 (which the embedded runtime always uses) provides no WASI: serve it with the server runtime on the \
                 wasmtime engine (`berth serve --engine wasmtime`, or `engine = \"wasmtime\"` \
                 in [server])"
            ),
        }
    }
}

/// Why a call into a plugin failed. The request it served gets
/// [`CallError::status`]; the instance is dropped and a fresh one takes its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The guest trapped: a panic, `unreachable`, an out-of-bounds access. Answer 500.
    Trap(String),
    /// The call ran past its deadline (an endless loop, say). Answer 504.
    Deadline,
    /// The instance tried to grow its memory past the cap. Answer 500.
    OutOfMemory,
    /// The guest returned data that breaks the contract: a pointer or length outside its
    /// memory, invalid UTF-8, an unknown variant tag. Answer 500.
    Malformed(String),
    /// A fresh instance could not be created or set up. Answer 500.
    Instantiate(String),
}

impl CallError {
    /// The HTTP status a request gets when its plugin call failed this way.
    pub fn status(&self) -> u16 {
        match self {
            CallError::Deadline => 504,
            _ => 500,
        }
    }

    /// The JSON error response for the client. It never leaks guest internals.
    pub fn to_response(&self) -> Response {
        let message = match self {
            CallError::Deadline => "Plugin timed out",
            CallError::OutOfMemory => "Plugin ran out of memory",
            _ => "Plugin failed",
        };
        Response::error(self.status(), message)
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Trap(why) => write!(f, "plugin trapped: {why}"),
            CallError::Deadline => write!(f, "plugin call exceeded its deadline"),
            CallError::OutOfMemory => write!(f, "plugin exceeded its memory limit"),
            CallError::Malformed(why) => write!(f, "plugin returned malformed data: {why}"),
            CallError::Instantiate(why) => write!(f, "plugin could not be instantiated: {why}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CallError {}
#[cfg(feature = "std")]
impl std::error::Error for LoadError {}
