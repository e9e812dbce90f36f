//! [`Server`]: the plugins, the app, the host — and the single-threaded loop that serves
//! a fixed number of connection *slots* plus the plugins' timers.
//!
//! ```text
//! run ─┬─ slot 0: accept → serve HTTP (keep-alive) → maybe WebSocket / SSE → close → accept …
//!      ├─ slot 1 …            (all slots are polled by the one future `run` returns)
//!      └─ timers: sleep until the next tick, deliver `tick` events
//! ```
//!
//! Nothing is spawned: `run` is one future, so the same code runs under embassy's
//! executor on a microcontroller, under a plain poll loop on bare metal, and under
//! async-io's `block_on` on a desktop.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;

use berth_core::engine::Engine;
use berth_core::host::{HostApi, Level};
use berth_core::limits::Limits;
use berth_core::model::{Event, EventKind, ServerInfo};
use berth_core::pipeline::App;
use berth_core::timers::{Schedule, TimerPlan};
use embassy_futures::select::{select, Either};

use crate::files::{StaticConfig, StaticError, StaticFiles};
use crate::host::EmbeddedHost;
use crate::net::{Connection, Listener, Platform};
use crate::plugins::{load, LoadFailure, Plugin, PluginInvoker, PluginSource};

/// How the embedded host is sized. Limits are the desktop server's, from `[limits]`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Every limit, as on the desktop server.
    pub limits: Limits,
    /// Bytes of each connection's fixed read buffer. A request head must fit in it
    /// (→ 431, or 414 while still in the request line); WebSocket frames stream through it.
    pub head_buffer: usize,
    /// Connection slots polled at once. At most `slots - 1` connections are served (see
    /// [`Server::capacity`]); the spare slot answers the next one 503.
    pub slots: usize,
    /// The `Server` header (`None`: none).
    pub server_name: Option<String>,
    /// `[server]` `allowed_hosts` / `allowed_origins` (empty: allow every request).
    pub allow: berth_core::allow::AllowLists,
}

impl Options {
    /// A microcontroller's sizing: 4 connections (+1 to answer 503), 2 KiB buffers,
    /// 16 KiB bodies and 4 KiB WebSocket frames, plugins capped at 256 KiB of memory.
    pub fn device() -> Options {
        let limits = Limits {
            max_body_size: 16 << 10,
            max_request_line: 1 << 10,
            max_header_size: 1 << 10,
            max_headers: 32,
            max_connections: 4,
            ws_max_frame: 4 << 10,
            ws_max_message: 4 << 10,
            ws_max_connections: 4,
            ws_send_queue: 8 << 10,
            plugin_memory: 256 << 10,
            ..Limits::default()
        };
        Options {
            limits,
            head_buffer: 2 << 10,
            slots: 5,
            server_name: Some(String::from(concat!("Berth/", env!("CARGO_PKG_VERSION")))),
            allow: berth_core::allow::AllowLists::default(),
        }
    }
}

/// The loaded plugins and everything the connections share.
pub struct Server<P: Platform> {
    pub(crate) app: App,
    pub(crate) plugins: Vec<Plugin>,
    pub(crate) host: Arc<EmbeddedHost<P>>,
    pub(crate) options: Options,
    /// Static mounts and the folders plugins may send files from ([`Server::serve_static`]).
    pub(crate) statics: StaticFiles,
    next_request: Cell<u64>,
    busy: Cell<usize>,
    /// Set while `busy` is at or above the 80 % mark, so the warning is logged once per
    /// crossing, not once per connection.
    warned: Cell<bool>,
}

impl<P: Platform> Server<P> {
    /// Loads the plugins (compile, instantiate, `setup`) and assembles the app.
    pub fn new(
        engine: &dyn Engine,
        platform: Arc<P>,
        options: Options,
        sources: &[PluginSource<'_>],
    ) -> Result<Server<P>, LoadFailure> {
        let host = Arc::new(EmbeddedHost::new(platform, &options.limits));
        let api: Arc<dyn HostApi> = host.clone();
        let (app, plugins) = load(engine, api, sources, options.server_name.clone())?;
        Ok(Server {
            app,
            plugins,
            host,
            options,
            statics: StaticFiles::default(),
            next_request: Cell::new(1),
            busy: Cell::new(0),
            warned: Cell::new(false),
        })
    }

    /// Serves static files: `[[static]]` mounts, the plugins' `mount_static` inside their
    /// granted folders, and their `Response::file`. Without it every file response is a
    /// 404 (a mount's prefix is unknown) or 403 (nothing is granted).
    pub fn serve_static(&mut self, config: StaticConfig) -> Result<(), StaticError> {
        let plugins: Vec<(&str, &berth_core::model::Registration)> = self
            .app
            .plugins()
            .iter()
            .map(|p| (p.name.as_str(), &p.registration))
            .collect();
        let statics = StaticFiles::resolve(config, &plugins, self.host.platform())?;
        let (files, bytes) = statics.size();
        if files > 0 {
            self.log(
                Level::Info,
                format_args!(
                    "static files: {files} file(s), {bytes} bytes, at {:?}",
                    statics.prefixes()
                ),
            );
        }
        self.app.set_static_prefixes(statics.prefixes());
        self.statics = statics;
        Ok(())
    }

    /// The assembled routes, middleware and hooks.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The host API the plugins call.
    pub fn host(&self) -> &EmbeddedHost<P> {
        &self.host
    }

    /// The sizing and limits it runs with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        self.host.platform()
    }

    pub(crate) fn log(&self, level: Level, message: core::fmt::Arguments<'_>) {
        self.platform().log("", level, message);
    }

    pub(crate) fn next_request_id(&self) -> u64 {
        let id = self.next_request.get();
        self.next_request.set(id + 1);
        id
    }

    /// An invoker for events and timers (each call bounded by `plugin_timeout` only).
    pub(crate) fn invoker(&self) -> PluginInvoker<'_, P> {
        PluginInvoker::new(&self.plugins, self.platform(), None)
    }

    /// An invoker for one request: its calls together are bounded by `request_timeout`.
    pub(crate) fn request_invoker(&self) -> PluginInvoker<'_, P> {
        let budget = self.options.limits.request_timeout_ms;
        let deadline = self.platform().now_ms().saturating_add(budget);
        PluginInvoker::new(&self.plugins, self.platform(), Some(deadline))
    }

    /// Connections being served right now.
    pub fn busy(&self) -> usize {
        self.busy.get()
    }

    /// Runs `server-start` hooks, serves `listener` until `shutdown` completes, then runs
    /// `server-stop` hooks. `http_addr` is what `server-start` reports.
    pub async fn run<L: Listener>(&self, listener: &L, http_addr: &str, shutdown: impl Future) {
        let info = ServerInfo {
            http_addr: http_addr.into(),
            ws_addr: None,
        };
        self.app
            .broadcast_event(
                EventKind::ServerStart,
                &Event::ServerStart(info),
                &mut self.invoker(),
            )
            .await;
        self.log(Level::Info, format_args!("listening on http://{http_addr}"));

        let mut tasks: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
        for slot in 0..self.options.slots.max(1) {
            tasks.push(Box::pin(self.slot(listener, slot)));
        }
        tasks.push(Box::pin(self.timers()));
        let all = core::future::poll_fn(|cx| {
            for task in tasks.iter_mut() {
                let _ = task.as_mut().poll(cx);
            }
            Poll::<()>::Pending
        });
        let _ = select(all, shutdown).await;

        self.log(Level::Info, format_args!("shutting down"));
        self.app
            .broadcast_event(
                EventKind::ServerStop,
                &Event::ServerStop,
                &mut self.invoker(),
            )
            .await;
    }

    /// One slot: accept, serve, close, forever.
    async fn slot<L: Listener>(&self, listener: &L, slot: usize) {
        loop {
            let mut conn = match listener.accept(slot).await {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of sockets and the like: back off, keep serving.
                    self.log(Level::Warn, format_args!("accept failed: {e}"));
                    let at = self.platform().now_ms() + 50;
                    self.platform().sleep_until(at).await;
                    continue;
                }
            };
            let limits = &self.options.limits;
            let busy = self.busy.get();
            if busy >= self.capacity() {
                self.log(
                    Level::Warn,
                    format_args!("{busy} connections: refusing with 503"),
                );
                crate::conn::refuse(&mut conn).await;
                conn.close().await;
                continue;
            }
            self.busy.set(busy + 1);
            let warn_at = limits.connection_warning_at().min(self.capacity());
            if busy + 1 >= warn_at && !self.warned.replace(true) {
                self.log(
                    Level::Warn,
                    format_args!(
                        "{} of {} connections in use (80 % of max_connections)",
                        busy + 1,
                        self.capacity()
                    ),
                );
            }
            crate::conn::serve(self, &mut conn).await;
            conn.close().await;
            let now = self.busy.get().saturating_sub(1);
            self.busy.set(now);
            if now < limits.connection_warning_at().min(self.capacity()) {
                self.warned.set(false);
            }
        }
    }

    /// Connections served at once: `max_connections`, but always one slot fewer than
    /// there are, so a slot is left to accept the next connection and answer it 503
    /// (with every slot serving, nobody would be told; 64 idle WebSockets or half-sent
    /// heads used to make the server silently unreachable).
    pub fn capacity(&self) -> usize {
        let spare = self.options.slots.saturating_sub(1).max(1);
        self.options.limits.max_connections.min(spare).max(1)
    }

    /// Delivers `tick` events to the plugins' timers, forever, on berth-core's
    /// schedule and within its bounds (refused timers are logged once, here).
    async fn timers(&self) {
        let limits = &self.options.limits;
        let plan = TimerPlan::new(
            self.app.timers(),
            limits.max_timers,
            limits.timer_min_interval_ms,
        );
        for (target, why) in &plan.refused {
            let plugin = self
                .app
                .plugins()
                .get(target.plugin)
                .map_or("?", |p| &p.name);
            self.platform()
                .log(plugin, Level::Warn, format_args!("{why}"));
        }
        let mut schedule = Schedule::new(&plan, self.platform().now_ms());
        let Some(mut next) = schedule.deadline() else {
            return core::future::pending().await;
        };
        loop {
            self.platform().sleep_until(next).await;
            for target in schedule.take_due(self.platform().now_ms()) {
                let tick = Event::Tick(self.platform().unix_ms());
                let mut invoker = self.invoker();
                let _ = berth_core::pipeline::Invoker::on_event(&mut invoker, target, &tick).await;
            }
            // Handlers slower than their interval leave the next tick already due: let
            // the connections run before it, or one timer would freeze the loop.
            embassy_futures::yield_now().await;
            next = schedule.deadline().unwrap_or(u64::MAX);
        }
    }
}

/// Races `read` against a deadline: `None` when the deadline came first.
pub(crate) async fn read_until<P: Platform, C: Connection>(
    platform: &P,
    conn: &mut C,
    buf: &mut [u8],
    deadline_ms: u64,
) -> Option<Result<usize, crate::net::NetError>> {
    match select(conn.read(buf), platform.sleep_until(deadline_ms)).await {
        Either::First(r) => Some(r),
        Either::Second(()) => None,
    }
}
