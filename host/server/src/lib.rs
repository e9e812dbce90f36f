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

pub mod config;
mod config_serving;
mod file_response;
mod host_api;
mod http;
mod invoker;
pub mod loader;
mod pool;
mod respond;
pub mod sse;
mod static_files;
mod stream;
mod timers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use berth_core::engine::{Engine, LoadError};
use berth_core::limits::Limits;
use berth_core::model::{Event, EventKind, ServerInfo};
use berth_core::pipeline::App;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

pub use config::{Config, EngineKind};
pub use host_api::ServerHost;
pub use loader::PluginError;
use pool::{Pool, PoolInvoker};
pub use static_files::StaticError;

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
    pub(crate) app: App,
    pub(crate) pools: Vec<Pool>,
    pub(crate) limits: Limits,
    pub(crate) next_request_id: AtomicU64,
    pub(crate) sse: Arc<sse::SseHub>,
    pub(crate) statics: static_files::StaticFiles,
}

/// A server with its plugins loaded and its listener bound.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// Creates the configured engine.
pub fn engine(kind: EngineKind, limits: &Limits) -> Result<Box<dyn Engine>, StartError> {
    let engine: Box<dyn Engine> = match kind {
        EngineKind::Wasmtime => Box::new(
            berth_engine_wasmtime::WasmtimeEngine::new(limits.engine()).map_err(|source| {
                StartError::Engine {
                    engine: "wasmtime",
                    source,
                }
            })?,
        ),
        EngineKind::Wasmi => Box::new(berth_engine_wasmi::WasmiEngine::new(limits.engine())),
    };
    Ok(engine)
}

impl Server {
    /// Loads the plugins and binds the listener. Nothing is served until [`Server::run`].
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let engine = engine(config.engine, &config.limits)?;
        let hub = Arc::new(sse::SseHub::new(config.sse.clone()));
        let api: Arc<dyn berth_core::host::HostApi> = Arc::new(ServerHost::with_sse(hub.clone()));
        // Enough idle instances for every worker thread to have one per plugin, twice.
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let loaded = loader::load(engine.as_ref(), api, &config, workers * 2)?;
        for (pool, plugin) in loaded.pools.iter().zip(loaded.app.plugins()) {
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
                "loaded; routes: [{}]",
                routes.join("; ")
            );
        }
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let statics = static_files::StaticFiles::resolve(&config.statics, loaded.app.plugins())?;
        let mut app = loaded.app;
        app.set_static_prefixes(statics.prefixes());
        let shared = Arc::new(Shared {
            app,
            pools: loaded.pools,
            limits: config.limits,
            next_request_id: AtomicU64::new(1),
            sse: hub,
            statics,
        });
        Ok(Server { listener, shared })
    }

    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Runs `server:start` hooks, serves until `shutdown` completes, then stops accepting,
    /// lets open connections finish their request, and runs `server:stop` hooks.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let addr = self.local_addr();
        let shared = self.shared;
        let info = ServerInfo {
            http_addr: addr.to_string(),
            ws_addr: None,
        };
        let mut invoker = PoolInvoker(&shared.pools);
        shared.app.broadcast_event(
            EventKind::ServerStart,
            &Event::ServerStart(info),
            &mut invoker,
        );
        let timers = timers::Timers::start(&shared);
        tracing::info!("listening on http://{addr}");

        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let limits = shared.limits;
        tokio::pin!(shutdown);
        loop {
            let (stream, remote) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            let service =
                hyper::service::service_fn(move |req| http::serve(shared.clone(), remote, req));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(limits.header_timeout_ms))
                .max_headers(limits.max_headers)
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!("connection from {remote} ended: {e}");
                }
            });
        }

        tracing::info!("shutting down");
        timers.stop();
        // Event streams never end on their own: end them so connections can finish.
        shared.sse.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
        let mut invoker = PoolInvoker(&shared.pools);
        shared
            .app
            .broadcast_event(EventKind::ServerStop, &Event::ServerStop, &mut invoker);
        Ok(())
    }
}
