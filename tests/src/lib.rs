//! Shared harness for the black-box suites: the bundled plugins (built by `build.rs`)
//! and in-process servers bound to port 0, one per configuration and engine, started
//! once per test binary and reused by every test in it.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex, OnceLock};

pub use berth_server::{Config, EngineKind};

pub mod clients;
pub mod device;
pub mod garbage;
pub mod http_client;
pub mod raw;

/// The bundled plugins, built from the current sources.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
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
                        let _ = tx.send(Ok((server.local_addr(), server.ws_addr())));
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
        let (addr, ws_addr) = rx
            .recv()
            .map_err(|e| format!("server thread died: {e}"))??;
        Ok(TestServer {
            addr,
            ws_addr,
            stop: Mutex::new(Some(stop)),
            stopped: Mutex::new(Some(stopped)),
        })
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
/// port 0 and `engine`.
pub fn example(name: &str, engine: EngineKind) -> Config {
    let path = repo_root().join("examples").join(name).join("berth.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for_tests(config, engine)
}

/// A config from TOML text, pointed at the test-built plugins, port 0 and `engine`.
pub fn config(toml: &str, engine: EngineKind) -> Config {
    let config = Config::parse(toml, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    for_tests(config, engine)
}

fn for_tests(mut config: Config, engine: EngineKind) -> Config {
    config.plugins_dir = PathBuf::from(plugins::DIR);
    config.port = 0;
    if config.ws_port.is_some() {
        config.ws_port = Some(0);
    }
    config.host = "127.0.0.1".into();
    config.engine = engine;
    config
}

/// The shared server for `(engine, key)`, started on first use with `make()`.
pub fn shared(engine: EngineKind, key: &str, make: impl FnOnce() -> Config) -> &'static TestServer {
    static SERVERS: OnceLock<Mutex<HashMap<(String, String), &'static TestServer>>> =
        OnceLock::new();
    let mut servers = SERVERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let id = (format!("{engine:?}"), key.to_string());
    if let Some(server) = servers.get(&id) {
        return server;
    }
    let server =
        TestServer::start(make()).unwrap_or_else(|e| panic!("server {key} on {engine:?}: {e}"));
    let server: &'static TestServer = Box::leak(Box::new(server));
    servers.insert(id, server);
    server
}

/// Runs the same list of test cases once per engine: `per_engine!(case_a, case_b)` makes
/// `mod wasmtime { #[test] fn case_a() … }` and `mod wasmi { … }`, each calling
/// `case_a(EngineKind::…)` from the enclosing module.
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

/// The embedded runtime (berth-embedded's single-threaded loop, on wasmi) serving
/// `config` on a desktop socket, as `berth serve --runtime embedded` does. It runs on
/// its own thread until the test binary exits.
pub fn start_embedded(config: Config) -> Result<TestServer, String> {
    use berth_embedded::desktop::{self, DesktopConfig, DesktopPlugin};
    let mut plugins = Vec::new();
    for (name, path) in berth_server::loader::plugin_files(&config).map_err(|e| e.to_string())? {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        plugins.push(DesktopPlugin {
            config: config.plugin_pairs(&name),
            gpio: config.gpio_grant(&name),
            name,
            bytes,
        });
    }
    let mut options = DesktopConfig::options(config.limits, config.server_name.clone());
    options.allow = config.allow.clone();
    let desktop = DesktopConfig {
        addr: format!("{}:{}", config.host, config.port),
        options,
        plugins,
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr =
        desktop::spawn(desktop, Box::new(|_, _, _| {}), stop.clone()).map_err(|e| e.to_string())?;
    // `shutdown` sets the loop's stop flag; the loop has no "stopped" signal, so
    // `wait_stopped` answers false for it.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        if stop_rx.blocking_recv().is_ok() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    Ok(TestServer {
        addr,
        ws_addr: None,
        stop: Mutex::new(Some(stop_tx)),
        stopped: Mutex::new(None),
    })
}

/// The shared embedded-runtime server for `key`, started on first use with `make()`.
pub fn shared_embedded(key: &str, make: impl FnOnce() -> Config) -> &'static TestServer {
    static SERVERS: OnceLock<Mutex<HashMap<String, &'static TestServer>>> = OnceLock::new();
    let mut servers = SERVERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(server) = servers.get(key) {
        return server;
    }
    let server = start_embedded(make()).unwrap_or_else(|e| panic!("embedded server {key}: {e}"));
    let server: &'static TestServer = Box::leak(Box::new(server));
    servers.insert(key.to_string(), server);
    server
}
