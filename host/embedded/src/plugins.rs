//! Loading plugins and calling them: compile → instantiate with a [`PluginHost`] →
//! `setup(config)` → [`App::new`], exactly the sequence berth-core documents.
//!
//! A microcontroller keeps **one** instance per plugin (no pool): the loop is
//! single-threaded, so two calls never overlap. An instance whose call failed is dropped
//! and the next call gets a fresh one (setup run again), as on the desktop server.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;

use berth_core::device::GpioGrant;
use berth_core::engine::{CallError, Engine, Instance, LoadError, Module};
use berth_core::host::{HostApi, Level, PluginHost};
use berth_core::model::{
    BeforeOutcome, Body, Event, EventOutcome, Pairs, Registration, Request, Response,
};
use berth_core::pipeline::{App, AppError, Invoker, PluginEntry, Target};

use crate::store;

/// A plugin file to load.
#[derive(Debug, Clone)]
pub struct PluginSource<'a> {
    /// The plugin's name (its file stem, or its name in the flash store).
    pub name: &'a str,
    /// The component bytes.
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

/// Why the plugins could not be loaded. Start-up reports it and stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadFailure {
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
    /// Streamed bodies of this instance being written now.
    open_streams: Cell<usize>,
    /// A stream was abandoned: its iterator lives on in the instance, which is dropped
    /// once no other stream needs it.
    abandoned: Cell<bool>,
    /// Counts instances dropped: a stream of an earlier instance is gone with it, and
    /// must be cut off, not read as ended (a fresh instance knows no such stream).
    generation: Cell<u64>,
}

impl Plugin {
    fn fresh(&self) -> Result<(Box<dyn Instance>, Registration), CallError> {
        let mut instance = self.module.instantiate(self.host.clone())?;
        let registration = instance
            .setup(&self.config)?
            .map_err(CallError::Instantiate)?;
        Ok((instance, registration))
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on the live instance (creating one if needed). A failed call drops it.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut dyn Instance) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        // Taken out of the cell for the call: a nested call (impossible today, as host
        // functions never call plugins) would get a fresh instance rather than a panic.
        let taken = self.instance.borrow_mut().take();
        let mut instance = match taken {
            Some(i) => i,
            None => match self.fresh() {
                Ok((i, _)) => i,
                Err(e) => {
                    self.log_failure("cannot create an instance", &e);
                    return Err(e);
                }
            },
        };
        let result = f(&mut *instance);
        match &result {
            Ok(_) => *self.instance.borrow_mut() = Some(instance),
            Err(e) => {
                self.generation.set(self.generation.get() + 1);
                self.log_failure("call failed, instance replaced", e);
            }
        }
        result
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
        if self.open_streams.get() == 0 && self.abandoned.replace(false) {
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

/// Loads every plugin, in order, and assembles the app.
pub fn load(
    engine: &dyn Engine,
    api: Arc<dyn HostApi>,
    sources: &[PluginSource<'_>],
    server_name: Option<String>,
) -> Result<(App, Vec<Plugin>), LoadFailure> {
    let mut plugins = Vec::with_capacity(sources.len());
    let mut entries = Vec::with_capacity(sources.len());
    for src in sources {
        let module = engine
            .compile(src.bytes)
            .map_err(|source| LoadFailure::Compile {
                plugin: src.name.to_string(),
                source,
            })?;
        let plugin = Plugin {
            name: src.name.to_string(),
            module,
            host: PluginHost::new(api.clone(), src.name).with_gpio(src.gpio),
            config: src.config.clone(),
            instance: RefCell::new(None),
            open_streams: Cell::new(0),
            abandoned: Cell::new(false),
            generation: Cell::new(0),
        };
        let (instance, registration) = plugin.fresh().map_err(|source| LoadFailure::Setup {
            plugin: src.name.to_string(),
            source,
        })?;
        *plugin.instance.borrow_mut() = Some(instance);
        entries.push(PluginEntry {
            name: src.name.to_string(),
            registration,
        });
        plugins.push(plugin);
    }
    let mut app = App::new(entries).map_err(LoadFailure::App)?;
    app.set_server_header(server_name);
    Ok((app, plugins))
}

/// The [`Invoker`] over the loaded plugins. It remembers which plugin produced a
/// `stream` body, so the connection can pull that stream's chunks from it.
pub struct PluginInvoker<'a> {
    plugins: &'a [Plugin],
    /// The plugin whose response carries a `stream` body, if any did.
    pub stream_owner: Option<usize>,
}

impl<'a> PluginInvoker<'a> {
    /// An invoker over `plugins` (index = plugin order in the app).
    pub fn new(plugins: &'a [Plugin]) -> PluginInvoker<'a> {
        PluginInvoker {
            plugins,
            stream_owner: None,
        }
    }

    fn plugin(&self, to: Target) -> Result<&'a Plugin, CallError> {
        self.plugins
            .get(to.plugin)
            .ok_or_else(|| CallError::Instantiate("no such plugin".into()))
    }

    fn note(&mut self, to: Target, resp: &Response) {
        if matches!(resp.body, Body::Stream(_)) {
            self.stream_owner = Some(to.plugin);
        }
    }
}

impl Invoker for PluginInvoker<'_> {
    fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError> {
        let r = self.plugin(to)?.with(|i| i.handle(to.handler, req))?;
        self.note(to, &r);
        Ok(r)
    }

    fn before(&mut self, to: Target, req: &Request) -> Result<BeforeOutcome, CallError> {
        let r = self.plugin(to)?.with(|i| i.before(to.handler, req))?;
        if let BeforeOutcome::Respond(resp) = &r {
            self.note(to, resp);
        }
        Ok(r)
    }

    fn after(&mut self, to: Target, req: &Request, resp: &Response) -> Result<Response, CallError> {
        let r = self.plugin(to)?.with(|i| i.after(to.handler, req, resp))?;
        if r.body != resp.body {
            self.note(to, &r);
        }
        Ok(r)
    }

    fn on_event(&mut self, to: Target, event: &Event) -> Result<EventOutcome, CallError> {
        self.plugin(to)?.with(|i| i.on_event(to.handler, event))
    }
}
