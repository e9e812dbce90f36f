//! Shared harness for the black-box suites: the bundled plugins (built by `build.rs`)
//! and in-process servers bound to port 0, one per configuration and runtime
//! ([`Runtime`]: the desktop server on wasmtime or wasmi, or the embedded runtime),
//! started once per test binary and reused by every test in it.

#![allow(missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

pub use berth_server::{Config, EngineKind};

pub mod certs;
pub mod clients;
pub mod cluster;
pub mod device;
pub mod garbage;
pub mod http_client;
pub mod logs;
pub mod python;
pub mod raw;
mod runtime;

pub use runtime::{start_embedded, Runtime};

/// The bundled plugins, built from the current sources.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// Test-only guests (`tests/guests`): the versions of the hot-swap tests' `live` plugin.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repo root")
}

/// A server running on its own thread and runtime until the test binary exits (or
/// [`TestServer::shutdown`]).
pub struct TestServer {
    pub addr: SocketAddr,
    /// The dedicated WebSocket port's address, when the config asks for one.
    pub ws_addr: Option<SocketAddr>,
    /// The admin listener's address (`[admin] listen`), when the config asks for one.
    pub admin_addr: Option<SocketAddr>,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    stopped: Mutex<Option<mpsc::Receiver<()>>>,
}

impl TestServer {
    /// Starts a server; `Err` carries the start-up error's text.
    pub fn start(config: Config) -> Result<TestServer, String> {
        let (tx, rx) = mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            runtime.block_on(async move {
                match berth_server::Server::start(config).await {
                    Ok(server) => {
                        let _ = tx.send(Ok((
                            server.local_addr(),
                            server.ws_addr(),
                            server.admin_addr(),
                        )));
                        let _ = server
                            .run(async {
                                let _ = stop_rx.await;
                            })
                            .await;
                        let _ = stopped_tx.send(());
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("{e}")));
                    }
                }
            });
        });
        let (addr, ws_addr, admin_addr) = rx
            .recv()
            .map_err(|e| format!("server thread died: {e}"))??;
        Ok(TestServer {
            addr,
            ws_addr,
            admin_addr,
            stop: Mutex::new(Some(stop)),
            stopped: Mutex::new(Some(stopped)),
        })
    }

    /// A server from its addresses and its stop/stopped signals (the embedded runtime's
    /// start-up, in `runtime.rs`).
    fn from_parts(
        addr: SocketAddr,
        ws_addr: Option<SocketAddr>,
        stop: tokio::sync::oneshot::Sender<()>,
        stopped: mpsc::Receiver<()>,
    ) -> TestServer {
        TestServer {
            addr,
            ws_addr,
            admin_addr: None,
            stop: Mutex::new(Some(stop)),
            stopped: Mutex::new(Some(stopped)),
        }
    }

    /// Starts the graceful shutdown (as SIGTERM would) and returns at once.
    pub fn shutdown(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
    }

    /// Waits until the server's `run` has returned after a shutdown.
    pub fn wait_stopped(&self, timeout: std::time::Duration) -> bool {
        let stopped = self
            .stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        stopped.is_some_and(|rx| rx.recv_timeout(timeout).is_ok())
    }

    /// `ws://<addr><path>` on the HTTP port.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// `ws://<ws_addr><path>` on the dedicated WebSocket port.
    pub fn ws_port_url(&self, path: &str) -> String {
        let addr = self.ws_addr.expect("this server has no ws_port");
        format!("ws://{addr}{path}")
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// The config of `examples/<name>/berth.toml`, pointed at the test-built plugins,
/// port 0 and `runtime`'s engine (an [`EngineKind`] is the desktop server on it).
///
/// The embedded runtime has one port, so on it a config's `ws_port` is dropped, as an
/// operator must drop it for `berth serve --runtime embedded`: WebSocket hooks are then
/// reached on routes only, and cases that need the dedicated port skip that runtime.
pub fn example(name: &str, runtime: impl Into<Runtime>) -> Config {
    config_file(
        &repo_root().join("examples").join(name).join("berth.toml"),
        runtime,
    )
}

/// A config file (its relative paths resolved against its folder), made ready for the
/// tests as [`example`] does.
pub fn config_file(path: &Path, runtime: impl Into<Runtime>) -> Config {
    let config = Config::load(path).unwrap_or_else(|e| panic!("{e}"));
    for_tests(config, runtime.into())
}

/// A config from TOML text, pointed at the test-built plugins, port 0 and `runtime`'s
/// engine (`ws_port` dropped on the embedded runtime, as for [`example`]).
pub fn config(toml: &str, runtime: impl Into<Runtime>) -> Config {
    let config = Config::parse(toml, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    for_tests(config, runtime.into())
}

fn for_tests(mut config: Config, runtime: Runtime) -> Config {
    config.plugins_dir = PathBuf::from(plugins::DIR);
    config.port = 0;
    config.ws_port = match config.ws_port {
        Some(_) if !runtime.is_embedded() => Some(0),
        _ => None,
    };
    config.host = "127.0.0.1".into();
    config.engine = runtime.engine();
    // Nothing changes under the suites' plugin folder: no watcher per test server.
    config.reload.watch = false;
    config
}

/// The shared server for `(engine, key)` on the desktop server, started on first use
/// with `make()` (see [`Runtime::shared`]).
pub fn shared(engine: EngineKind, key: &str, make: impl FnOnce() -> Config) -> &'static TestServer {
    Runtime::from(engine).shared(key, make)
}

/// Runs the same list of test cases once per engine of the desktop server:
/// `per_engine!(case_a, case_b)` makes `mod wasmtime { #[test] fn case_a() … }` and
/// `mod wasmi { … }`, each calling `case_a(EngineKind::…)` from the enclosing module.
/// For what only the desktop server does (its artifact cache, say); suites that every
/// runtime serves use [`per_runtime!`] instead.
#[macro_export]
macro_rules! per_engine {
    ($($case:ident),* $(,)?) => {
        mod wasmtime {
            $( #[test] fn $case() { super::$case($crate::EngineKind::Wasmtime) } )*
        }
        mod wasmi {
            $( #[test] fn $case() { super::$case($crate::EngineKind::Wasmi) } )*
        }
    };
}

/// Runs `python3 tests/py/<script> <args…>` and returns what it printed. Panics with its
/// output when it fails, or with a hint when Python or its packages are missing
/// (`scripts/test-deps.sh` installs them; `cargo xtask test` runs it first).
pub fn python(script: &str, args: &[&str]) -> String {
    let path = repo_root().join("tests").join("py").join(script);
    let output = std::process::Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); run scripts/test-deps.sh"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let hint = if stderr.contains("ModuleNotFoundError") {
            "\nhint: run scripts/test-deps.sh to install the Python test clients"
        } else {
            ""
        };
        panic!(
            "{script} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}{hint}",
            output.status
        );
    }
    stdout
}

/// A fresh, empty folder for one test: `berth-<name>-<pid>` in the system's temp folder
/// (emptied first, so a rerun starts clean).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A port nobody listens on right now, for a server that cannot report the port it got
/// (its log goes to a file or nowhere).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Stops a `berth` child process as an operator would (SIGTERM) and returns what it
/// printed on stdout (which must be piped).
pub fn stop_child(child: &mut std::process::Child) -> Vec<String> {
    use std::io::BufRead;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.stdout.take().expect("piped stdout");
    let lines = std::io::BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .collect();
    let _ = child.wait();
    lines
}

/// Where tests leave artefacts worth looking at (browser screenshots):
/// `target/test-artefacts/`, created on demand.
pub fn artefacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let dir = target.join("test-artefacts");
    std::fs::create_dir_all(&dir).expect("create the artefacts folder");
    dir
}

/// The shared embedded-runtime server for `key`, started on first use with `make()`.
pub fn shared_embedded(key: &str, make: impl FnOnce() -> Config) -> &'static TestServer {
    Runtime::EmbeddedWasmi.shared(key, make)
}
