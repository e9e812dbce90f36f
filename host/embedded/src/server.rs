//! [`Server`]: the plugins, the app, the host, the static files and the sizing — what
//! every connection of the loop ([`crate::event_loop`]) shares.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, Ref, RefCell};

use berth_core::engine::Engine;
use berth_core::host::{HostApi, Level};
use berth_core::limits::Limits;
use berth_core::pipeline::App;

use crate::files::{StaticConfig, StaticError, StaticFiles};
use crate::host::EmbeddedHost;
use crate::net::Platform;
use crate::plugins::{
    load, LoadFailure, OnFailure, Plugin, PluginInvoker, PluginSource, ReadPlugin,
};

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
    /// `[sse]`: heartbeat, replay and queue sizes (`None`: berth-core's defaults within
    /// `limits`).
    pub sse: Option<berth_core::sse::SseSettings>,
    /// `[server] shutdown_timeout`: how long a shutdown lets open requests finish and
    /// WebSockets close before it drops what is left, ms.
    pub shutdown_timeout_ms: u64,
}

/// The desktop server's default `shutdown_timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 10_000;

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
            ws_max_data: 4 << 10,
            ws_max_rooms: 8,
            plugin_memory: 256 << 10,
            ..Limits::default()
        };
        Options {
            limits,
            head_buffer: 2 << 10,
            slots: 5,
            server_name: Some(String::from(concat!("Berth/", env!("CARGO_PKG_VERSION")))),
            allow: berth_core::allow::AllowLists::default(),
            sse: None,
            shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
        }
    }
}

/// The plugin set being served: the app and its plugins, replaced whole when a plugin
/// is pushed or removed ([`crate::admin`]). A request (or a WebSocket session) holds
/// the set it began on to its end, so in-flight work finishes on the old version while
/// new requests get the new one; the old set is dropped with its last holder.
pub(crate) struct Live {
    pub(crate) app: App,
    pub(crate) plugins: Vec<Rc<Plugin>>,
}

/// The loaded plugins and everything the connections share.
pub struct Server<P: Platform> {
    /// The current plugin set (see [`Live`]).
    live: RefCell<Rc<Live>>,
    /// Bumped at every swap, so the timers re-plan.
    pub(crate) generation: Cell<u64>,
    /// The static mounts' prefixes, for every app a swap assembles.
    static_prefixes: Vec<String>,
    /// The admin endpoint, when the store turned it on ([`Server::enable_admin`]).
    pub(crate) admin: Option<crate::admin::Admin>,
    /// What `server-start` reports (set by `run`), for a plugin pushed later.
    pub(crate) http_addr: RefCell<String>,
    pub(crate) host: Arc<EmbeddedHost<P>>,
    pub(crate) options: Options,
    /// Static mounts and the folders plugins may send files from ([`Server::serve_static`]).
    pub(crate) statics: StaticFiles,
    next_request: Cell<u64>,
    /// This boot's prefix of the request ids it makes (random, so ids from two devices
    /// or two boots are unlikely to collide).
    request_id_prefix: u32,
    pub(crate) busy: Cell<usize>,
    /// Set while `busy` is at or above the 80 % mark, so the warning is logged once per
    /// crossing, not once per connection.
    pub(crate) warned: Cell<bool>,
    /// Set when a shutdown begins: slots stop accepting, idle keep-alive connections
    /// close, responses go out with `Connection: close` ([`Server::draining`]).
    draining: Cell<bool>,
}

impl<P: Platform> Server<P> {
    /// Loads the plugins (compile, instantiate, `setup`) and assembles the app.
    pub fn new(
        engine: &dyn Engine,
        platform: Arc<P>,
        options: Options,
        sources: &[PluginSource<'_>],
    ) -> Result<Server<P>, LoadFailure> {
        Server::start(engine, platform, options, sources, None)
    }

    /// [`Server::new`] with each plugin's bytes read by `read` just before it is compiled
    /// and dropped right after (the sources' `bytes` are not used): a device reads them
    /// from flash one at a time, so loading never holds the whole store.
    pub fn new_reading(
        engine: &dyn Engine,
        platform: Arc<P>,
        options: Options,
        sources: &[PluginSource<'_>],
        read: ReadPlugin<'_>,
    ) -> Result<Server<P>, LoadFailure> {
        Server::start(engine, platform, options, sources, Some(read))
    }

    /// [`Server::new_reading`] for a device booting from its store: a plugin that cannot
    /// be loaded is skipped with a log line instead of failing start-up, so one bad
    /// plugin never keeps the device from booting (or makes it boot-loop).
    pub fn boot_reading(
        engine: &dyn Engine,
        platform: Arc<P>,
        options: Options,
        sources: &[PluginSource<'_>],
        read: ReadPlugin<'_>,
    ) -> Result<Server<P>, LoadFailure> {
        Server::load(
            engine,
            platform,
            options,
            sources,
            Some(read),
            OnFailure::Skip,
        )
    }

    fn start(
        engine: &dyn Engine,
        platform: Arc<P>,
        options: Options,
        sources: &[PluginSource<'_>],
        read: Option<ReadPlugin<'_>>,
    ) -> Result<Server<P>, LoadFailure> {
        Server::load(engine, platform, options, sources, read, OnFailure::Stop)
    }

    fn load(
        engine: &dyn Engine,
        platform: Arc<P>,
        options: Options,
        sources: &[PluginSource<'_>],
        read: Option<ReadPlugin<'_>>,
        on_failure: OnFailure,
    ) -> Result<Server<P>, LoadFailure> {
        let mut host = EmbeddedHost::new(platform, &options.limits);
        if let Some(sse) = &options.sse {
            host = host.with_sse(*sse);
        }
        let host = Arc::new(host);
        let api: Arc<dyn HostApi> = host.clone();
        let server_name = options.server_name.clone();
        let (app, plugins) = load(engine, api, sources, read, server_name, on_failure)?;
        let request_id_prefix = host.random_u64() as u32;
        Ok(Server {
            live: RefCell::new(Rc::new(Live { app, plugins })),
            generation: Cell::new(0),
            static_prefixes: Vec::new(),
            admin: None,
            http_addr: RefCell::new(String::new()),
            host,
            options,
            statics: StaticFiles::default(),
            next_request: Cell::new(1),
            request_id_prefix,
            busy: Cell::new(0),
            warned: Cell::new(false),
            draining: Cell::new(false),
        })
    }

    /// Serves static files: `[[static]]` mounts, the plugins' `mount_static` inside their
    /// granted folders, and their `Response::file`. Without it every file response is a
    /// 404 (a mount's prefix is unknown) or 403 (nothing is granted).
    pub fn serve_static(&mut self, config: StaticConfig) -> Result<(), StaticError> {
        let live = self.live();
        let plugins: Vec<(&str, &berth_core::model::Registration)> = live
            .app
            .plugins()
            .iter()
            .map(|p| (p.name.as_str(), &p.registration))
            .collect();
        let statics = StaticFiles::resolve(config, &plugins, self.host.platform())?;
        drop(plugins);
        drop(live);
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
        self.static_prefixes = statics.prefixes();
        let mut live = self.live.borrow_mut();
        match Rc::get_mut(&mut live) {
            Some(live) => live.app.set_static_prefixes(self.static_prefixes.clone()),
            // Nothing holds the set before `run`; were it held, rebuild it.
            None => {
                let mut app = App::new(live.app.plugins().to_vec())
                    .map_err(|e| StaticError(alloc::format!("{e}")))?;
                app.set_server_header(self.options.server_name.clone());
                app.set_static_prefixes(self.static_prefixes.clone());
                let plugins = live.plugins.clone();
                *live = Rc::new(Live { app, plugins });
            }
        }
        drop(live);
        self.statics = statics;
        Ok(())
    }

    /// The assembled routes, middleware and hooks now being served.
    pub fn app(&self) -> Ref<'_, App> {
        Ref::map(self.live.borrow(), |live| &live.app)
    }

    /// The plugin set new requests get.
    pub(crate) fn live(&self) -> Rc<Live> {
        self.live.borrow().clone()
    }

    /// An app over `entries`, with this server's header and static prefixes.
    pub(crate) fn assemble(
        &self,
        entries: Vec<berth_core::pipeline::PluginEntry>,
    ) -> Result<App, berth_core::pipeline::AppError> {
        let mut app = App::new(entries)?;
        app.set_server_header(self.options.server_name.clone());
        app.set_static_prefixes(self.static_prefixes.clone());
        Ok(app)
    }

    /// Makes `live` the set new requests get; what holds the old one keeps it.
    pub(crate) fn swap(&self, live: Live) {
        *self.live.borrow_mut() = Rc::new(live);
        self.generation.set(self.generation.get() + 1);
    }

    /// Turns the admin endpoint on (`/_berth/plugins`): the store told the device to.
    pub fn enable_admin(&mut self, admin: crate::admin::Admin) {
        self.admin = Some(admin);
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

    /// Whether a shutdown has begun.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.get()
    }

    /// Begins the shutdown. Whatever awaits [`Server::drained`] must then be polled:
    /// `run` re-polls every connection right after calling this.
    pub(crate) fn begin_drain(&self) {
        self.draining.set(true);
    }

    /// Completes once a shutdown has begun. It registers no waker, since the flag only
    /// changes in [`Server::begin_drain`], after which `run` polls every connection.
    pub(crate) fn drained(&self) -> impl core::future::Future<Output = ()> + '_ {
        core::future::poll_fn(|_| {
            if self.draining.get() {
                core::task::Poll::Ready(())
            } else {
                core::task::Poll::Pending
            }
        })
    }

    /// The `x-request-id` of a request with these headers and sequence number, by
    /// berth-core's rule: the client's when it is acceptable, else one this boot makes.
    pub(crate) fn request_id(&self, headers: &[(String, String)], seq: u64) -> String {
        let given = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-request-id"))
            .map(|(_, v)| v.as_str())
            .filter(|v| berth_core::request_id::acceptable(v.as_bytes()));
        match given {
            Some(id) => String::from(id),
            None => {
                let hex = berth_core::request_id::generate(self.request_id_prefix, seq);
                // Hex digits are ASCII, so this never fails.
                String::from(core::str::from_utf8(&hex).unwrap_or("0"))
            }
        }
    }

    pub(crate) fn next_request_id(&self) -> u64 {
        let id = self.next_request.get();
        self.next_request.set(id + 1);
        id
    }

    /// An invoker over `live` for events and timers (each call bounded by
    /// `plugin_timeout` only).
    pub(crate) fn invoker<'a>(&'a self, live: &'a Live) -> PluginInvoker<'a, P> {
        PluginInvoker::new(&live.plugins, self.platform(), None)
    }

    /// An invoker over `live` for one request: its calls together are bounded by
    /// `request_timeout`.
    pub(crate) fn request_invoker<'a>(&'a self, live: &'a Live) -> PluginInvoker<'a, P> {
        let budget = self.options.limits.request_timeout_ms;
        let deadline = self.platform().now_ms().saturating_add(budget);
        PluginInvoker::new(&live.plugins, self.platform(), Some(deadline))
    }

    /// Connections being served right now.
    pub fn busy(&self) -> usize {
        self.busy.get()
    }

    /// Connections served at once: `max_connections`, but always one slot fewer than
    /// there are, so a slot is left to accept the next connection and answer it 503
    /// (with every slot serving, nobody would be told; 64 idle WebSockets or half-sent
    /// heads used to make the server silently unreachable).
    pub fn capacity(&self) -> usize {
        let spare = self.options.slots.saturating_sub(1).max(1);
        self.options.limits.max_connections.min(spare).max(1)
    }
}
