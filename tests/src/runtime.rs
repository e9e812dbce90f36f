//! The runtime axis: every black-box suite runs once per host that serves plugins —
//! the desktop server (`host/server`, tokio + hyper) on either engine, and the embedded
//! runtime (`host/embedded`'s single-threaded loop, wasmi only) on a desktop socket, as
//! `berth serve --runtime embedded` runs it. One suite, three runtimes: the two hosts
//! cannot drift apart unnoticed.
//!
//! `per_runtime!(case_a, case_b)` makes `mod server_wasmtime`, `mod server_wasmi` and
//! `mod embedded_wasmi`, each with `#[test] fn case_a()` calling `case_a(Runtime::…)`.
//! A case the embedded runtime cannot run by design is marked
//! `case_c: embedded_skip("one-line reason")` and becomes an `#[ignore = "reason"]`
//! test there, so the skip and its reason show in every test run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use berth_embedded::desktop::{self, DesktopConfig, StdPlatform};

use crate::{Config, EngineKind, TestServer};

/// One host serving plugins: which runtime, on which engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// The desktop server on wasmtime.
    ServerWasmtime,
    /// The desktop server on wasmi.
    ServerWasmi,
    /// The embedded runtime's loop (always wasmi) on a desktop socket.
    EmbeddedWasmi,
}

impl Runtime {
    /// Every runtime, in the order the suites' modules are made.
    pub const ALL: [Runtime; 3] = [
        Runtime::ServerWasmtime,
        Runtime::ServerWasmi,
        Runtime::EmbeddedWasmi,
    ];

    /// The engine plugins run on.
    pub fn engine(self) -> EngineKind {
        match self {
            Runtime::ServerWasmtime => EngineKind::Wasmtime,
            Runtime::ServerWasmi | Runtime::EmbeddedWasmi => EngineKind::Wasmi,
        }
    }

    /// Whether this is the embedded runtime.
    pub fn is_embedded(self) -> bool {
        self == Runtime::EmbeddedWasmi
    }

    /// Starts a server for `config` on this runtime; `Err` carries the start-up error.
    pub fn start(self, mut config: Config) -> Result<TestServer, String> {
        config.engine = self.engine();
        match self {
            Runtime::ServerWasmtime | Runtime::ServerWasmi => TestServer::start(config),
            Runtime::EmbeddedWasmi => start_embedded(config),
        }
    }

    /// The shared server for `key` on this runtime: started on first use with `make()`,
    /// then reused by every test of the binary.
    pub fn shared(self, key: &str, make: impl FnOnce() -> Config) -> &'static TestServer {
        static SERVERS: OnceLock<Mutex<HashMap<(Runtime, String), &'static TestServer>>> =
            OnceLock::new();
        let mut servers = SERVERS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let id = (self, key.to_string());
        if let Some(server) = servers.get(&id) {
            return server;
        }
        let server = self
            .start(make())
            .unwrap_or_else(|e| panic!("server {key} on {self:?}: {e}"));
        let server: &'static TestServer = Box::leak(Box::new(server));
        servers.insert(id, server);
        server
    }
}

impl From<EngineKind> for Runtime {
    /// The desktop server on `engine`: what `per_engine!` suites run on.
    fn from(engine: EngineKind) -> Runtime {
        match engine {
            EngineKind::Wasmtime => Runtime::ServerWasmtime,
            EngineKind::Wasmi => Runtime::ServerWasmi,
        }
    }
}

/// The embedded runtime serving `config` on a desktop socket, as
/// `berth serve --runtime embedded` does (and refusing what it refuses: a `ws_port`).
/// It runs on its own thread until [`TestServer::shutdown`] or the binary's exit.
pub fn start_embedded(config: Config) -> Result<TestServer, String> {
    let desktop = DesktopConfig::from_config(&config).map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let (started_tx, started) = mpsc::channel();
    let (stopped_tx, stopped) = mpsc::channel();
    let flag = stop.clone();
    // The loop is single-threaded and stays on this thread, like the firmware's.
    std::thread::spawn(move || {
        let platform = StdPlatform::new(Box::new(|_, _, _| {}));
        match desktop::start(&desktop, platform) {
            Ok((server, listener)) => {
                let _ = started_tx.send(listener.local_addr().map_err(|e| e.to_string()));
                desktop::run(&server, &listener, flag);
                let _ = stopped_tx.send(());
            }
            Err(e) => {
                let _ = started_tx.send(Err(e.to_string()));
            }
        }
    });
    let addr = started
        .recv()
        .map_err(|e| format!("embedded server thread died: {e}"))??;
    // `shutdown` sends on this channel; the loop polls its stop flag.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        if stop_rx.blocking_recv().is_ok() {
            stop.store(true, Ordering::Relaxed);
        }
    });
    Ok(TestServer::from_parts(addr, None, stop_tx, stopped))
}

/// Runs the same cases once per runtime. `per_runtime!(a, b: embedded_skip("why"))`
/// makes `mod server_wasmtime`, `mod server_wasmi` and `mod embedded_wasmi`, each with
/// `#[test] fn a()` calling `a(Runtime::…)` from the enclosing module; `b` is an
/// `#[ignore = "why"]` test on the embedded runtime. `per_runtime!(embedded_skip =
/// "why"; a, b)` skips every case of a suite there.
#[macro_export]
macro_rules! per_runtime {
    (embedded_skip = $reason:literal; $($case:ident),* $(,)?) => {
        $crate::per_runtime!($($case: embedded_skip($reason)),*);
    };
    ($($case:ident $(: embedded_skip($reason:literal))?),* $(,)?) => {
        mod server_wasmtime {
            $( #[test] fn $case() { super::$case($crate::Runtime::ServerWasmtime) } )*
        }
        mod server_wasmi {
            $( #[test] fn $case() { super::$case($crate::Runtime::ServerWasmi) } )*
        }
        mod embedded_wasmi {
            $( $crate::__embedded_case!($case $(, $reason)?); )*
        }
    };
}

/// One case of [`per_runtime!`] on the embedded runtime, run or skipped with a reason.
#[doc(hidden)]
#[macro_export]
macro_rules! __embedded_case {
    ($case:ident) => {
        #[test]
        fn $case() {
            super::$case($crate::Runtime::EmbeddedWasmi)
        }
    };
    ($case:ident, $reason:literal) => {
        #[test]
        #[ignore = $reason]
        fn $case() {
            super::$case($crate::Runtime::EmbeddedWasmi)
        }
    };
}
