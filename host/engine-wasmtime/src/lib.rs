//! # berth-engine-wasmtime
//!
//! Runs Berth plugin components on wasmtime, behind `berth_core::engine`'s traits.
//!
//! Wiring it up:
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(bytes: &[u8], host: berth_core::host::PluginHost) -> Result<(), Box<dyn std::error::Error>> {
//! use berth_core::engine::{Engine, EngineLimits};
//! let engine = berth_engine_wasmtime::WasmtimeEngine::new(EngineLimits::default())?;
//! let module = engine.compile(bytes)?;          // once per plugin file
//! let mut instance = module.instantiate(host)?; // once per pooled instance
//! let registration = instance.setup(&vec![])?;  // then handle/before/after/on_event
//! # Ok(()) }
//! ```
//!
//! How the limits hold:
//! - **Deadlines**: epoch interruption. ONE ticker thread per engine bumps the epoch every
//!   [`TICK`]; each call sets its store's deadline to `call_timeout / TICK` ticks, so a
//!   `loop {}` traps with `Interrupt` and the request gets a 504.
//! - **Memory**: a per-store limiter caps linear memory; a grow past the cap traps (rather
//!   than returning -1 to an allocator that would abort anyway), reported as
//!   [`CallError::OutOfMemory`].
//! - **Instances**: the pooling allocator pre-reserves slots, so instantiation is a few
//!   microseconds; `InstancePre` resolves imports once per plugin, not per instance.

#![deny(missing_docs)]

mod bindings;
mod cache;
mod host_impl;

pub use cache::{ArtifactCache, CacheError};

use std::sync::{Arc, Weak};
use std::time::Duration;

use berth_core::engine::{CallError, Engine, EngineLimits, Instance, LoadError, Module};
use berth_core::host::PluginHost;
use berth_core::model::{
    BeforeOutcome, Event, EventOutcome, HandlerId, Pairs, Registration, Request, Response,
};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use bindings::{FromWit, Plugin, PluginPre, ToWit};

/// How often the epoch ticker fires: the granularity of call deadlines.
pub const TICK: Duration = Duration::from_millis(5);

/// Instance slots the pooling allocator reserves (across all plugins).
const POOL_SLOTS: u32 = 1000;

/// The wasmtime engine. Cheap to share; compiling is the expensive part.
pub struct WasmtimeEngine {
    engine: wasmtime::Engine,
    linker: Arc<Linker<StoreData>>,
    limits: EngineLimits,
    // The ticker thread holds a `Weak` to this and stops once the engine and every
    // module compiled by it are dropped (modules outlive the engine in a server).
    ticker_alive: Arc<()>,
    cache: Option<ArtifactCache>,
}

/// Per-store data: the plugin's view of the host, and its memory limiter.
pub struct StoreData {
    host: PluginHost,
    limiter: MemoryCap,
}

/// Caps linear memory and remembers that it refused a grow, so the resulting trap is
/// reported as out-of-memory rather than as a generic trap.
struct MemoryCap {
    max_bytes: usize,
    hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Err(wasmtime::Error::msg("plugin memory limit reached"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl WasmtimeEngine {
    /// Creates the engine and its epoch ticker thread.
    pub fn new(limits: EngineLimits) -> Result<WasmtimeEngine, LoadError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // Plugins are small; a modest reservation per memory keeps thousands of pooled
        // slots within the address space (bounds checks become explicit, which is cheap).
        let reservation = (limits.memory_bytes as u64)
            .next_power_of_two()
            .max(1 << 20);
        config.memory_reservation(reservation);
        config.memory_guard_size(64 << 10);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_SLOTS)
            .total_core_instances(POOL_SLOTS * 4)
            .total_memories(POOL_SLOTS)
            .total_tables(POOL_SLOTS * 2)
            .max_memory_size(limits.memory_bytes);
        let pooled = config.clone();
        let engine = match wasmtime::Engine::new(
            pooled
                .clone()
                .allocation_strategy(InstanceAllocationStrategy::Pooling(pool)),
        ) {
            Ok(engine) => engine,
            Err(e) => {
                // Some sandboxes cap virtual memory; on-demand allocation still works.
                tracing::warn!("pooling allocator unavailable ({e}); allocating on demand");
                wasmtime::Engine::new(&config).map_err(|e| LoadError::Invalid(e.to_string()))?
            }
        };

        let mut linker = Linker::new(&engine);
        Plugin::add_to_linker::<StoreData, HasSelf<StoreData>>(&mut linker, |d| d)
            .map_err(|e| LoadError::Invalid(e.to_string()))?;

        let alive = Arc::new(());
        spawn_ticker(engine.clone(), Arc::downgrade(&alive));
        Ok(WasmtimeEngine {
            engine,
            linker: Arc::new(linker),
            limits,
            ticker_alive: alive,
            cache: None,
        })
    }

    /// Keeps compiled plugins in `cache`, so later runs skip compilation.
    pub fn with_cache(mut self, cache: Option<ArtifactCache>) -> WasmtimeEngine {
        self.cache = cache;
        self
    }
}

fn spawn_ticker(engine: wasmtime::Engine, alive: Weak<()>) {
    let spawned = std::thread::Builder::new()
        .name("berth-epoch".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        });
    if let Err(e) = spawned {
        // Without a ticker no deadline would ever fire: refuse to run unbounded.
        panic!("cannot start the epoch ticker thread: {e}");
    }
}

impl Engine for WasmtimeEngine {
    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn compile(&self, bytes: &[u8]) -> Result<Box<dyn Module>, LoadError> {
        if !is_component(bytes) {
            return Err(LoadError::Invalid("not a Wasm component".into()));
        }
        let component = match &self.cache {
            Some(cache) => cache.load(&self.engine, bytes),
            None => Component::new(&self.engine, bytes),
        }
        .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        let pre = PluginPre::new(pre).map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        Ok(Box::new(WasmtimeModule {
            engine: self.engine.clone(),
            pre,
            limits: self.limits,
            _ticker_alive: self.ticker_alive.clone(),
        }))
    }
}

/// A component is a Wasm binary whose header layer is 1 (core modules have 0).
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

struct WasmtimeModule {
    engine: wasmtime::Engine,
    pre: PluginPre<StoreData>,
    limits: EngineLimits,
    _ticker_alive: Arc<()>,
}

impl Module for WasmtimeModule {
    fn instantiate(&self, host: PluginHost) -> Result<Box<dyn Instance>, CallError> {
        let data = StoreData {
            host,
            limiter: MemoryCap {
                max_bytes: self.limits.memory_bytes,
                hit: false,
            },
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks(self.limits.call_timeout_ms));
        let plugin = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
        Ok(Box::new(WasmtimeInstance {
            store,
            plugin,
            timeout_ms: self.limits.call_timeout_ms,
        }))
    }
}

fn deadline_ticks(timeout_ms: u64) -> u64 {
    let tick = TICK.as_millis() as u64;
    timeout_ms.div_ceil(tick).max(1)
}

struct WasmtimeInstance {
    store: Store<StoreData>,
    plugin: Plugin,
    timeout_ms: u64,
}

impl WasmtimeInstance {
    /// Runs one guest call under a fresh deadline and classifies its failure.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&bindings::Guest, &mut Store<StoreData>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.store
            .set_epoch_deadline(deadline_ticks(self.timeout_ms));
        let guest = self.plugin.berth_plugin_guest();
        f(guest, &mut self.store).map_err(|e| classify(e, self.store.data().limiter.hit))
    }
}

fn classify(e: wasmtime::Error, memory_cap_hit: bool) -> CallError {
    if memory_cap_hit {
        return CallError::OutOfMemory;
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => CallError::Deadline,
        Some(trap) => CallError::Trap(trap.to_string()),
        None => CallError::Trap(e.to_string()),
    }
}

impl Instance for WasmtimeInstance {
    fn setup(&mut self, config: &Pairs) -> Result<Result<Registration, String>, CallError> {
        let r = self.call(|g, s| g.call_setup(s, config))?;
        Ok(r.map(Registration::from_wit))
    }

    fn handle(&mut self, handler: HandlerId, req: &Request) -> Result<Response, CallError> {
        let req = req.to_wit();
        self.call(|g, s| g.call_handle(s, handler, &req))
            .map(Response::from_wit)
    }

    fn before(&mut self, handler: HandlerId, req: &Request) -> Result<BeforeOutcome, CallError> {
        let req = req.to_wit();
        self.call(|g, s| g.call_before(s, handler, &req))
            .map(BeforeOutcome::from_wit)
    }

    fn after(
        &mut self,
        handler: HandlerId,
        req: &Request,
        resp: &Response,
    ) -> Result<Response, CallError> {
        let (req, resp) = (req.to_wit(), resp.to_wit());
        self.call(|g, s| g.call_after(s, handler, &req, &resp))
            .map(Response::from_wit)
    }

    fn on_event(&mut self, handler: HandlerId, event: &Event) -> Result<EventOutcome, CallError> {
        let event = event.to_wit();
        self.call(|g, s| g.call_on_event(s, handler, &event))
            .map(EventOutcome::from_wit)
    }

    fn next_chunk(&mut self, stream: u32) -> Result<Option<Vec<u8>>, CallError> {
        self.call(|g, s| g.call_next_chunk(s, stream))
    }
}
