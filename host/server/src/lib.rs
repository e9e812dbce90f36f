//! # berth-server
//!
//! The desktop server: accept → serve connection → route → call plugin.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = berth_server::Config::load("berth.toml".as_ref())?;
//! let server = berth_server::Server::start(config).await?;   // loads plugins, binds
//! println!("listening on {}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod activity;
mod admin;
mod allow;
mod body;
pub mod cluster;
mod compress;
mod conn;
mod file_response;
mod hangup;
mod host_api;
mod http;
mod invoker;
pub mod loader;
mod meta;
mod metrics;
mod pool;
mod proto;
pub mod reload;
mod request_id;
mod respond;
mod snapshot;
mod spans;
pub mod sse;
mod state_metrics;
mod static_files;
mod stream;
mod timers;
mod tls;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use berth_core::engine::{Engine, LoadError};
use berth_core::limits::Limits;
use berth_core::model::{Event, EventKind, ServerInfo};
use berth_core::ws_registry::CLOSE_SHUTDOWN;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// `berth.toml` (the [`berth_config`] crate, re-exported: the server is configured by it).
pub use berth_config as config;
pub use berth_config::{Config, EngineKind};
pub use host_api::ServerHost;
pub use loader::PluginError;
use pool::PoolInvoker;
pub use static_files::StaticError;
pub use tls::TlsError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The engine could not be created.
    #[error("cannot create the {engine} engine: {source}")]
    Engine {
        /// Which engine.
        engine: &'static str,
        /// Why.
        source: LoadError,
    },
    /// A plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A static mount or grant names a folder that cannot be served.
    #[error(transparent)]
    Static(#[from] StaticError),
    /// `[cluster]`: Redis could not be reached, or no node number was free.
    #[error("cannot join the cluster: {0}")]
    Cluster(#[from] cluster::ClusterError),
    /// `[server.tls]`'s certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What every connection shares.
pub(crate) struct Shared {
    /// The plugin set: loaded once per request, swapped whole (see [`snapshot`]).
    pub(crate) live: snapshot::Live,
    /// The running timers, reconciled with the live snapshot after every swap.
    pub(crate) timers: std::sync::Mutex<timers::Timers>,
    pub(crate) limits: Limits,
    pub(crate) next_request_id: AtomicU64,
    /// The random half of the request ids this server makes (see [`request_id`]).
    pub(crate) request_id_prefix: u32,
    /// Every open WebSocket, whichever port it came in on.
    pub(crate) ws: Arc<ws::Hub>,
    /// Every SSE subscriber, by topic.
    pub(crate) sse: Arc<sse::SseHub>,
    /// Live TCP connections on every listener, against `max_connections`.
    pub(crate) conns: Arc<conn::ConnLimiter>,
    /// `[server]` `allowed_hosts` / `allowed_origins`.
    pub(crate) allow: berth_core::allow::AllowLists,
    /// `[cluster]`: this node's link to the others (`None`: a single process).
    pub(crate) cluster: Option<Arc<cluster::Cluster>>,
    // --- operations: TLS and HTTP/2 (tls.rs, proto.rs) ---
    /// `[server.tls]`, loaded; `None` serves plain TCP.
    pub(crate) tls: Option<Arc<tls::Tls>>,
    /// Which listeners speak TLS: the HTTP port, the WebSocket port.
    pub(crate) tls_on: (bool, bool),
    /// `[server.http2]`.
    pub(crate) http2: berth_config::Http2Config,
    /// `[server.websocket]`: permessage-deflate, and the deflate state connections
    /// without context takeover borrow per message (see [`ws::deflate`]).
    pub(crate) ws_deflate: ws::deflate::Deflate,
    /// `[server.compression]` (compress.rs).
    pub(crate) compression: berth_config::CompressionConfig,
    /// Prometheus series (served on `[admin] listen`; recorded whether or not it is on).
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Set while the server serves (before `run` and from shutdown on: not ready).
    pub(crate) ready: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// The TLS acceptor of `port`'s listener, when it speaks TLS.
    pub(crate) fn tls_acceptor(&self, port: Port) -> Option<tokio_rustls::TlsAcceptor> {
        let tls = self.tls.as_ref()?;
        match port {
            Port::Http if self.tls_on.0 => Some(tls.http.clone()),
            Port::WebSocket if self.tls_on.1 => Some(tls.ws.clone()),
            _ => None,
        }
    }
}

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    /// The HTTP port: routes, and WebSocket routes by path.
    Http,
    /// The dedicated WebSocket port: every path is a WebSocket served by the hooks.
    WebSocket,
}

/// A server with its plugins loaded and its listeners bound.
pub struct Server {
    listener: TcpListener,
    ws_listener: Option<TcpListener>,
    /// `[admin] listen`: metrics and health checks, never on the public port.
    admin: Option<TcpListener>,
    shared: Arc<Shared>,
    /// How long shutdown waits for in-flight requests and WebSocket close handshakes.
    shutdown_timeout: Duration,
    /// Rescans the plugins (hot swap).
    reloader: Arc<reload::Reloader>,
    /// What `run` watches for changes; `None` when it does not (`[reload] watch`).
    watch: Option<reload::watch::WatchPaths>,
}

/// Creates the configured engine; wasmtime keeps compiled plugins in `cache_dir`.
/// (wasmi needs no cache: it translates each function lazily, on its first call.)
pub fn engine(
    kind: EngineKind,
    limits: &Limits,
    cache_dir: Option<&std::path::Path>,
) -> Result<Box<dyn Engine>, StartError> {
    let engine: Box<dyn Engine> = match kind {
        EngineKind::Wasmtime => Box::new(
            berth_engine_wasmtime::WasmtimeEngine::new(limits.engine())
                .map_err(|source| StartError::Engine {
                    engine: "wasmtime",
                    source,
                })?
                .with_cache(cache_dir.and_then(|dir| {
                    // A folder others could write would let them plant code: run without.
                    berth_engine_wasmtime::ArtifactCache::open(dir)
                        .inspect_err(|e| tracing::warn!("compiled-plugin cache disabled: {e}"))
                        .ok()
                }))
                .with_yield(tokio_yield),
        ),
        EngineKind::Wasmi => {
            Box::new(berth_engine_wasmi::WasmiEngine::new(limits.engine()).with_yield(tokio_yield))
        }
    };
    Ok(engine)
}

/// How a busy guest yields on tokio: `yield_now` lets the worker look at its sockets
/// before the guest resumes (see [`berth_core::engine::YieldNow`]).
fn tokio_yield() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(tokio::task::yield_now())
}

impl Server {
    /// Loads the plugins and binds the listener. Nothing is served until [`Server::run`].
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let engine: Arc<dyn Engine> =
            engine(config.engine, &config.limits, config.cache_dir.as_deref())?.into();
        let limits = config.limits;
        // Certificates first: a bad pair fails fast, before plugins are compiled.
        let tls = match &config.tls {
            Some(t) => Some(Arc::new(tls::Tls::load(t, config.http2.enabled)?)),
            None => None,
        };
        let tls_on = config
            .tls
            .as_ref()
            .map_or((false, false), |t| (t.http, t.ws));
        let cluster = match &config.cluster {
            Some(c) => Some(cluster::Cluster::connect(c).await?),
            None => None,
        };
        let id_base = cluster.as_ref().map_or(0, |c| c.id_base());
        let ws_hub = Arc::new(ws::Hub::with_id_base(&limits, id_base));
        let sse_hub = Arc::new(sse::SseHub::new(config.sse.settings(&limits)));
        let mut server_host = ServerHost::new(ws_hub.clone(), sse_hub.clone(), &limits);
        if let Some(c) = &cluster {
            c.attach(ws_hub.clone(), sse_hub.clone()).await?;
            server_host = server_host.with_cluster(c.clone(), &limits);
        }
        let metrics = Arc::new(metrics::Metrics::new());
        let host = Arc::new(server_host.metered(&metrics));
        let api: Arc<dyn berth_core::host::HostApi> = host.clone();
        let reload_api = api.clone();
        // Enough idle instances for every worker thread to have one per plugin, twice.
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let loaded = loader::load(engine.as_ref(), api, &config, workers * 2).await?;
        let plugins = loaded.pools.iter().zip(loaded.app.plugins());
        for ((pool, plugin), took) in plugins.zip(&loaded.load_times) {
            let routes: Vec<String> = plugin
                .registration
                .routes
                .iter()
                .map(|r| {
                    let methods: Vec<&str> = r.methods.iter().map(|m| m.as_str()).collect();
                    format!("{} {}", methods.join(","), r.path)
                })
                .collect();
            tracing::info!(
                plugin = pool.name(),
                engine = engine.name(),
                middleware = plugin.registration.middleware.len(),
                hooks = plugin.registration.hooks.len(),
                ms = format_args!("{:.1}", took.as_secs_f64() * 1000.0),
                "loaded; routes: [{}]",
                routes.join("; ")
            );
        }
        let listener = bind(&config.host, config.port).await?;
        let ws_listener = match config.ws_port {
            Some(port) => Some(bind(&config.host, port).await?),
            None => None,
        };
        let statics = static_files::StaticFiles::resolve(&config.statics, loaded.app.plugins())?;
        let mut app = loaded.app;
        app.set_static_prefixes(statics.prefixes());
        let first = snapshot::Snapshot {
            app,
            pools: loaded.pools,
            statics,
        };
        let shared = Arc::new(Shared {
            live: snapshot::Live::from_pointee(first),
            timers: std::sync::Mutex::new(timers::Timers::default()),
            limits,
            next_request_id: AtomicU64::new(1),
            request_id_prefix: {
                let mut bytes = [0u8; 4];
                // Without randomness the ids are still unique within this server.
                let _ = getrandom::fill(&mut bytes);
                u32::from_le_bytes(bytes)
            },
            ws: ws_hub,
            sse: sse_hub,
            conns: Arc::new(conn::ConnLimiter::new(limits.max_connections.max(1))),
            allow: config.allow.clone(),
            cluster,
            tls,
            tls_on,
            http2: config.http2,
            ws_deflate: ws::deflate::Deflate::new(config.websocket.deflate),
            compression: config.compression.clone(),
            metrics,
            ready: std::sync::atomic::AtomicBool::new(false),
        });
        for pool in &shared.live.load().pools {
            pool.attach(&shared.metrics);
        }
        let admin = match &config.admin.listen {
            Some(addr) => {
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| StartError::Bind {
                            addr: addr.clone(),
                            source,
                        })?,
                )
            }
            None => None,
        };
        let watch = config.reload.watch.then(|| reload::watch::WatchPaths {
            plugins_dir: config.plugins_dir.clone(),
            config_file: None,
        });
        let fixed = config.clone();
        let reloader = Arc::new(reload::Reloader::new(
            shared.clone(),
            engine.clone(),
            reload_api,
            workers * 2,
            Arc::new(move || Ok(fixed.clone())),
            config.reload.settle,
        ));
        // `memory-collect`: keep one warm instance per plugin, drop the other idle ones.
        // Weak, because every instance in the pools holds the host.
        let pools = Arc::downgrade(&shared);
        host.set_collector(Box::new(move || {
            pools
                .upgrade()
                .map_or(0, |s| s.live.load().pools.iter().map(|p| p.trim(1)).sum())
        }));
        Ok(Server {
            listener,
            ws_listener,
            admin,
            shared,
            shutdown_timeout: config.shutdown_timeout,
            reloader,
            watch,
        })
    }

    /// Where rescans re-read the configuration (`berth serve` re-reads `berth.toml`
    /// and applies its flags again), and the file to watch for changes besides the
    /// plugins folder. Without it, a rescan reuses the configuration the server
    /// started with.
    pub fn with_config_source(
        mut self,
        config_file: Option<std::path::PathBuf>,
        source: reload::ConfigSource,
    ) -> Server {
        self.reloader.set_config(source);
        if let Some(watch) = &mut self.watch {
            watch.config_file = config_file;
        }
        self
    }

    /// The server's [`Reloader`](reload::Reloader): `rescan()` swaps in what changed in
    /// the plugins folder (what the watcher calls; also for tools and benchmarks).
    pub fn reloader(&self) -> Arc<reload::Reloader> {
        self.reloader.clone()
    }

    /// The address the HTTP listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        address(&self.listener)
    }

    /// The address of the admin listener (`[admin] listen`), when there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(address)
    }

    /// The address of the dedicated WebSocket listener, when there is one.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_listener.as_ref().map(address)
    }

    /// Runs `server:start` hooks and serves until `shutdown` completes. Then it stops
    /// accepting, ends every SSE stream, closes every WebSocket with 1001, lets open
    /// requests finish (for up to `shutdown_timeout`), and runs `server:stop` hooks.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let shared = self.shared;
        let grace = self.shutdown_timeout;
        let http_addr = address(&self.listener);
        let ws_addr = self.ws_listener.as_ref().map(address);
        let info = ServerInfo {
            http_addr: http_addr.to_string(),
            ws_addr: ws_addr.map(|a| a.to_string()),
        };
        // Swaps from here on run the start hooks of what they load.
        let _ = self.reloader.info.set(info.clone());
        let start = shared.live.load_full();
        let mut invoker = PoolInvoker(&start.pools);
        start
            .app
            .broadcast_event(
                EventKind::ServerStart,
                &Event::ServerStart(info),
                &mut invoker,
            )
            .await;
        drop(start);
        lock_timers(&shared).reconcile(&shared);
        let watcher = reload::watch::spawn(self.reloader.clone(), self.watch.clone());
        let tls_reload = shared.tls.as_ref().map(|t| t.spawn_reload());
        let admin = self.admin.map(|l| {
            tracing::info!("metrics and health checks on http://{}", address(&l));
            tokio::spawn(admin::serve(l, shared.clone()))
        });
        shared
            .ready
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let (http_scheme, ws_scheme) = match shared.tls_on {
            (true, true) => ("https", "wss"),
            (true, false) => ("https", "ws"),
            (false, true) => ("http", "wss"),
            (false, false) => ("http", "ws"),
        };
        tracing::info!("listening on {http_scheme}://{http_addr}");
        if let Some(addr) = ws_addr {
            tracing::info!("WebSockets on {ws_scheme}://{addr}");
        }

        // Every connection task holds a receiver: the sender says "drain" and then waits
        // for all of them to be dropped.
        let (drain, draining) = watch::channel(conn::Phase::Serving);
        let http = accept_loop(self.listener, Port::Http, shared.clone(), draining.clone());
        let ws = async {
            match self.ws_listener {
                Some(l) => accept_loop(l, Port::WebSocket, shared.clone(), draining).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = http => {}
            () = ws => {}
            () = shutdown => {}
        }

        tracing::info!(
            connections = shared.conns.live(),
            "shutting down (waiting up to {grace:?} for open requests)"
        );
        shared
            .ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
        watcher.abort();
        if let Some(task) = tls_reload {
            task.abort();
        }
        lock_timers(&shared).stop();
        let _ = drain.send(conn::Phase::Drain);
        // Event streams and WebSockets never end on their own: end them so connections
        // can finish.
        shared.sse.close();
        shared
            .ws
            .close_all(CLOSE_SHUTDOWN.0, CLOSE_SHUTDOWN.1, grace)
            .await;
        if tokio::time::timeout(grace, drain.closed()).await.is_err() {
            tracing::warn!(
                "{} connections still open after {grace:?}: closing them",
                drain.receiver_count()
            );
            let _ = drain.send(conn::Phase::Abort);
            // Each task drops its receiver as soon as it sees the abort.
            let _ = tokio::time::timeout(Duration::from_secs(1), drain.closed()).await;
        }
        let last = shared.live.load_full();
        let mut invoker = PoolInvoker(&last.pools);
        last.app
            .broadcast_event(EventKind::ServerStop, &Event::ServerStop, &mut invoker)
            .await;
        if let Some(cluster) = &shared.cluster {
            cluster.leave().await;
        }
        if let Some(task) = admin {
            task.abort();
        }
        Ok(())
    }
}

fn lock_timers(shared: &Shared) -> std::sync::MutexGuard<'_, timers::Timers> {
    // Reconciling is one map update per timer: a panic cannot leave it torn.
    shared.timers.lock().unwrap_or_else(|p| p.into_inner())
}

async fn bind(host: &str, port: u16) -> Result<TcpListener, StartError> {
    let addr = format!("{host}:{port}");
    TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn address(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Accepts connections forever, each served on its own task (see [`conn`]); one over
/// `max_connections` is answered 503 and closed.
async fn accept_loop(
    listener: TcpListener,
    port: Port,
    shared: Arc<Shared>,
    draining: watch::Receiver<conn::Phase>,
) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match shared.conns.try_acquire() {
            Some(permit) => conn::spawn(
                shared.clone(),
                stream,
                permit,
                remote,
                port,
                draining.clone(),
            ),
            None => {
                shared.metrics.refused(port);
                shared.conns.reject(stream, remote)
            }
        }
    }
}
