//! Loading plugins and calling them: compile → instantiate with a [`PluginHost`] →
//! `setup(config)` → [`App::new`], exactly the sequence berth-core documents.
//!
//! A microcontroller keeps **one** instance per plugin (no pool). Calls are futures that
//! yield between fuel slices, so the single-threaded loop keeps serving other
//! connections while a guest computes; a second call to the same plugin meanwhile waits
//! for the instance ([`Plugin::lease`]). An instance whose call failed is dropped and
//! the next call gets a fresh one (setup run again), as on the desktop server.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use berth_core::device::GpioGrant;
use berth_core::engine::{CallError, Engine, Instance, LoadError, Module};
use berth_core::host::{HostApi, Level, PluginHost};
use berth_core::model::{
    BeforeOutcome, Body, Event, EventOutcome, Pairs, Registration, Request, Response,
};
use berth_core::pipeline::{App, AppError, Invoker, PluginEntry, Target};

use embassy_futures::select::{select, Either};

use crate::net::Platform;
use crate::store;

/// A plugin file to load.
#[derive(Debug, Clone)]
pub struct PluginSource<'a> {
    /// The plugin's name (its file stem, or its name in the flash store).
    pub name: &'a str,
    /// The component bytes (empty when a [`PluginReader`] supplies them at load).
    pub bytes: &'a [u8],
    /// Its configuration table, as `setup` receives it.
    pub config: Pairs,
    /// The GPIO pins it may use (`[grants.<plugin>] gpio`).
    pub gpio: GpioGrant,
}

impl<'a> From<&store::Entry<'a>> for PluginSource<'a> {
    /// A plugin as the flash store holds it.
    fn from(e: &store::Entry<'a>) -> PluginSource<'a> {
        PluginSource {
            name: e.name,
            bytes: e.wasm,
            config: e.config.clone(),
            gpio: e.gpio,
        }
    }
}

/// Reads each plugin's component bytes at load time, when the caller does not hold them
/// all at once: a device reads each plugin from flash just before compiling it, into one
/// buffer that it reuses, so loading holds one plugin's file rather than the whole store
/// ([`crate::Server::new_reading`]).
pub trait PluginReader {
    /// Plugin `index`'s bytes (borrowed until the next call).
    fn read(&mut self, index: usize) -> Result<&[u8], String>;
}

/// The reader [`load`] takes.
pub type ReadPlugin<'r> = &'r mut dyn PluginReader;

/// Why the plugins could not be loaded. Start-up reports it and stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadFailure {
    /// A plugin's bytes could not be read from the store.
    Read {
        /// The plugin.
        plugin: String,
        /// What the reader said.
        reason: String,
    },
    /// A file is not a usable component.
    Compile {
        /// The plugin.
        plugin: String,
        /// What the engine said.
        source: LoadError,
    },
    /// Instantiation or `setup` failed.
    Setup {
        /// The plugin.
        plugin: String,
        /// What went wrong.
        source: CallError,
    },
    /// The registrations do not fit together (two plugins on one route…).
    App(AppError),
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadFailure::Read { plugin, reason } => {
                write!(f, "plugin {plugin}: cannot read it: {reason}")
            }
            LoadFailure::Compile { plugin, source } => write!(f, "plugin {plugin}: {source}"),
            LoadFailure::Setup { plugin, source } => {
                write!(f, "plugin {plugin}: setup failed: {source}")
            }
            LoadFailure::App(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for LoadFailure {}

/// One loaded plugin: its module and its single live instance.
pub struct Plugin {
    name: String,
    module: Box<dyn Module>,
    host: PluginHost,
    config: Pairs,
    instance: RefCell<Option<Box<dyn Instance>>>,
    /// Whether a call holds the instance. Calls yield while the guest computes, so
    /// another connection's call to this plugin may arrive meanwhile: it waits for the
    /// instance rather than creating a second one (a device has memory for one).
    leased: Cell<bool>,
    /// Tasks waiting for the instance (one waker per task: the loop's tasks share one).
    waiting: RefCell<Vec<Waker>>,
    /// Streamed bodies of this instance being written now.
    open_streams: Cell<usize>,
    /// A stream was abandoned: its iterator lives on in the instance, which is dropped
    /// once no other stream needs it.
    abandoned: Cell<bool>,
    /// Counts instances dropped: a stream of an earlier instance is gone with it, and
    /// must be cut off, not read as ended (a fresh instance knows no such stream).
    generation: Cell<u64>,
}

/// The instance, held by one call. Dropping it without [`Lease::finish`] (the call
/// failed, or its future was dropped half-way) drops the instance too: its memory may be
/// half-updated. Either way the next waiting call is woken.
pub struct Lease<'a> {
    plugin: &'a Plugin,
    instance: Option<Box<dyn Instance>>,
}

impl Lease<'_> {
    /// The leased instance.
    pub fn get(&mut self) -> &mut dyn Instance {
        // Always `Some` until `finish` or drop take it.
        match self.instance.as_deref_mut() {
            Some(instance) => instance,
            None => unreachable!("a lease holds its instance until it ends"),
        }
    }

    /// Ends the call: the instance is kept when it succeeded, dropped (and the failure
    /// logged) when it did not.
    pub fn finish<R>(mut self, result: Result<R, CallError>) -> Result<R, CallError> {
        let plugin = self.plugin;
        match &result {
            // A stream abandoned while this call held the instance: its iterator is
            // released now, with the instance, unless another stream still needs it.
            Ok(_) if plugin.open_streams.get() == 0 && plugin.abandoned.replace(false) => {
                drop(self.instance.take());
                plugin.generation.set(plugin.generation.get() + 1);
            }
            Ok(_) => *plugin.instance.borrow_mut() = self.instance.take(),
            Err(e) => plugin.log_failure("call failed, instance replaced", e),
        }
        result
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.instance.take().is_some() {
            // Dropped unfinished or failed: the instance goes, and its streams with it.
            self.plugin.generation.set(self.plugin.generation.get() + 1);
        }
        self.plugin.leased.set(false);
        for waker in self.plugin.waiting.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

impl Plugin {
    async fn fresh(&self) -> Result<(Box<dyn Instance>, Registration), CallError> {
        let mut instance = self.module.instantiate(self.host.clone())?;
        let registration = instance
            .setup(&self.config)
            .await?
            .map_err(CallError::Instantiate)?;
        Ok((instance, registration))
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until no other call holds the instance, then takes it (creating one if the
    /// last call failed).
    pub async fn lease(&self) -> Result<Lease<'_>, CallError> {
        poll_fn(|cx| {
            if !self.leased.get() {
                self.leased.set(true);
                return Poll::Ready(());
            }
            let mut waiting = self.waiting.borrow_mut();
            if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                waiting.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        let mut lease = Lease {
            plugin: self,
            instance: self.instance.borrow_mut().take(),
        };
        if lease.instance.is_none() {
            match self.fresh().await {
                Ok((instance, _)) => lease.instance = Some(instance),
                Err(e) => {
                    self.log_failure("cannot create an instance", &e);
                    return Err(e);
                }
            }
        }
        Ok(lease)
    }

    /// Pulls the next chunk of stream `id` from the instance.
    pub async fn next_chunk(&self, id: u32) -> Result<Option<Vec<u8>>, CallError> {
        let mut lease = self.lease().await?;
        let result = lease.get().next_chunk(id).await;
        lease.finish(result)
    }

    /// A response of this plugin's instance carries a `stream` body. Returns the
    /// instance's generation, for [`Plugin::stream_lost`].
    pub fn stream_begin(&self) -> u64 {
        self.open_streams.set(self.open_streams.get() + 1);
        self.generation.get()
    }

    /// Whether the instance a stream began on (`generation`) has been dropped since, so
    /// its iterator is gone.
    pub fn stream_lost(&self, generation: u64) -> bool {
        self.generation.get() != generation
    }

    /// One of its streams is over: pulled to its end (`reached_end`), or abandoned (a
    /// HEAD, a bodiless status, a failed write, the client gone, its budget spent). The
    /// guest's iterator of an abandoned stream stays in the instance, and nothing but
    /// dropping the instance releases it; with one instance per plugin, that waits
    /// until no other stream of the plugin is being pulled. The next call gets a fresh
    /// instance, as after a failed call.
    pub fn stream_end(&self, reached_end: bool) {
        self.open_streams
            .set(self.open_streams.get().saturating_sub(1));
        if !reached_end {
            self.abandoned.set(true);
        }
        // While a call holds the instance, [`Lease::finish`] releases it instead.
        if self.open_streams.get() == 0 && !self.leased.get() && self.abandoned.replace(false) {
            drop(self.instance.borrow_mut().take());
            self.generation.set(self.generation.get() + 1);
        }
    }

    fn log_failure(&self, what: &str, e: &CallError) {
        self.host
            .api()
            .log(&self.name, Level::Warn, &alloc::format!("{what}: {e}"));
    }
}

/// Polls `future` to completion with a no-op waker. Only for start-up (`setup` while
/// loading, before the loop runs): a wasmi call yields between fuel slices and is ready
/// to go on at once, so nothing is waited for.
fn block_on_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

impl Plugin {
    /// A compiled plugin, not yet instantiated.
    pub(crate) fn new(
        name: &str,
        module: Box<dyn Module>,
        api: Arc<dyn HostApi>,
        config: Pairs,
        gpio: GpioGrant,
    ) -> Plugin {
        Plugin {
            name: name.to_string(),
            module,
            host: PluginHost::new(api, name).with_gpio(gpio),
            config,
            instance: RefCell::new(None),
            leased: Cell::new(false),
            waiting: RefCell::new(Vec::new()),
            open_streams: Cell::new(0),
            abandoned: Cell::new(false),
            generation: Cell::new(0),
        }
    }

    /// Instantiates and sets up the plugin, keeping the instance; returns what it
    /// registered.
    pub(crate) async fn start(&self) -> Result<Registration, CallError> {
        let (instance, registration) = self.fresh().await?;
        *self.instance.borrow_mut() = Some(instance);
        Ok(registration)
    }
}

/// Compiles and sets up one plugin.
fn load_one(
    engine: &dyn Engine,
    api: &Arc<dyn HostApi>,
    src: &PluginSource<'_>,
    bytes: &[u8],
) -> Result<(Plugin, Registration), LoadFailure> {
    let module = engine
        .compile(bytes)
        .map_err(|source| LoadFailure::Compile {
            plugin: src.name.to_string(),
            source,
        })?;
    let plugin = Plugin::new(src.name, module, api.clone(), src.config.clone(), src.gpio);
    let registration = block_on_ready(plugin.start()).map_err(|source| LoadFailure::Setup {
        plugin: src.name.to_string(),
        source,
    })?;
    Ok((plugin, registration))
}

/// What loading does with a plugin that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Start-up fails (the desktop hosts: a broken plugin is the operator's to fix).
    Stop,
    /// The plugin is skipped with a log line and the rest serve (a device booting from
    /// its store: a plugin that cannot load must never make it boot-loop).
    Skip,
}

/// Loads every plugin, in order, and assembles the app. With `read`, each plugin's bytes
/// come from it, each borrowed until it is compiled, instead of from
/// [`PluginSource::bytes`]. With [`OnFailure::Skip`], a plugin that cannot be read,
/// compiled or set up, or whose registration clashes with an earlier one's, is left out
/// and logged.
pub fn load(
    engine: &dyn Engine,
    api: Arc<dyn HostApi>,
    sources: &[PluginSource<'_>],
    mut read: Option<ReadPlugin<'_>>,
    server_name: Option<String>,
    on_failure: OnFailure,
) -> Result<(App, Vec<Rc<Plugin>>), LoadFailure> {
    let mut plugins = Vec::with_capacity(sources.len());
    let mut entries = Vec::with_capacity(sources.len());
    let skip = |failure: LoadFailure| -> Result<(), LoadFailure> {
        match on_failure {
            OnFailure::Stop => Err(failure),
            OnFailure::Skip => {
                api.log("", Level::Error, &alloc::format!("skipped: {failure}"));
                Ok(())
            }
        }
    };
    for (index, src) in sources.iter().enumerate() {
        let bytes = match read.as_mut() {
            Some(read) => match read.read(index) {
                Ok(bytes) => bytes,
                Err(reason) => {
                    skip(LoadFailure::Read {
                        plugin: src.name.to_string(),
                        reason,
                    })?;
                    continue;
                }
            },
            None => src.bytes,
        };
        let (plugin, registration) = match load_one(engine, &api, src, bytes) {
            Ok(loaded) => loaded,
            Err(failure) => {
                skip(failure)?;
                continue;
            }
        };
        entries.push(PluginEntry {
            name: src.name.to_string(),
            registration,
        });
        // Skipping: a plugin whose routes clash with those loaded before it is left out.
        if on_failure == OnFailure::Skip {
            if let Err(e) = App::new(entries.clone()) {
                entries.pop();
                skip(LoadFailure::App(e))?;
                continue;
            }
        }
        plugins.push(Rc::new(plugin));
    }
    let mut app = App::new(entries).map_err(LoadFailure::App)?;
    app.set_server_header(server_name);
    Ok((app, plugins))
}

/// The [`Invoker`] over the loaded plugins. It remembers which plugin produced a
/// `stream` body, so the connection can pull that stream's chunks from it, and which
/// produced a `file` body, whose path is resolved against that plugin's grants; and it
/// bounds the calls of one request together by the request's budget.
pub struct PluginInvoker<'a, P: Platform> {
    plugins: &'a [Rc<Plugin>],
    platform: &'a P,
    /// When this request's calls must be done (`request_timeout`), in the platform's
    /// milliseconds; `None` outside a request (events, timers).
    deadline_ms: Option<u64>,
    /// The plugin whose response carries a `stream` body, if any did.
    pub stream_owner: Option<usize>,
    /// The plugin whose response carries a `file` body, if any did (`None` for the
    /// host's own static mounts).
    pub file_owner: Option<usize>,
}

impl<'a, P: Platform> PluginInvoker<'a, P> {
    /// An invoker over `plugins` (index = plugin order in the app), its calls bounded
    /// together by `deadline_ms` when given.
    pub fn new(plugins: &'a [Rc<Plugin>], platform: &'a P, deadline_ms: Option<u64>) -> Self {
        PluginInvoker {
            plugins,
            platform,
            deadline_ms,
            stream_owner: None,
            file_owner: None,
        }
    }

    fn plugin(&self, to: Target) -> Result<&'a Plugin, CallError> {
        self.plugins
            .get(to.plugin)
            .map(|p| &**p)
            .ok_or_else(|| CallError::Instantiate("no such plugin".into()))
    }

    fn note(&mut self, to: Target, resp: &Response) {
        match resp.body {
            Body::Stream(_) => self.stream_owner = Some(to.plugin),
            Body::File(_) => self.file_owner = Some(to.plugin),
            _ => {}
        }
    }

    /// Runs a call (waiting for the instance included) within the request's budget; a
    /// call still running when it is spent is dropped, and its instance with it.
    async fn bounded<R>(
        &self,
        plugin: &Plugin,
        call: impl Future<Output = Result<R, CallError>>,
    ) -> Result<R, CallError> {
        let Some(at) = self.deadline_ms else {
            return call.await;
        };
        if self.platform.now_ms() >= at {
            return Err(CallError::Deadline);
        }
        match select(call, self.platform.sleep_until(at)).await {
            Either::First(result) => result,
            Either::Second(()) => {
                let e = CallError::Deadline;
                plugin.log_failure("request budget spent, instance replaced", &e);
                Err(e)
            }
        }
    }
}

impl<P: Platform> Invoker for PluginInvoker<'_, P> {
    async fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError> {
        let plugin = self.plugin(to)?;
        let call = async {
            let mut lease = plugin.lease().await?;
            let result = lease.get().handle(to.handler, req).await;
            lease.finish(result)
        };
        let r = self.bounded(plugin, call).await?;
        self.note(to, &r);
        Ok(r)
    }

    async fn before(&mut self, to: Target, req: &Request) -> Result<BeforeOutcome, CallError> {
        let plugin = self.plugin(to)?;
        let call = async {
            let mut lease = plugin.lease().await?;
            let result = lease.get().before(to.handler, req).await;
            lease.finish(result)
        };
        let r = self.bounded(plugin, call).await?;
        if let BeforeOutcome::Respond(resp) = &r {
            self.note(to, resp);
        }
        Ok(r)
    }

    async fn after(
        &mut self,
        to: Target,
        req: &Request,
        resp: &Response,
    ) -> Result<Response, CallError> {
        let plugin = self.plugin(to)?;
        let call = async {
            let mut lease = plugin.lease().await?;
            let result = lease.get().after(to.handler, req, resp).await;
            lease.finish(result)
        };
        let r = self.bounded(plugin, call).await?;
        if r.body != resp.body {
            self.note(to, &r);
        }
        Ok(r)
    }

    async fn on_event(&mut self, to: Target, event: &Event) -> Result<EventOutcome, CallError> {
        let plugin = self.plugin(to)?;
        let call = async {
            let mut lease = plugin.lease().await?;
            let result = lease.get().on_event(to.handler, event).await;
            lease.finish(result)
        };
        self.bounded(plugin, call).await
    }
}
