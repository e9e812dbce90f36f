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
//! let config = vec![];
//! let registration = instance.setup(&config);   // a future: await it on any executor
//! # Ok(()) }
//! ```
//!
//! How the limits hold:
//! - **Deadlines and fair sharing**: epoch interruption. ONE ticker thread per engine
//!   bumps the epoch every [`TICK`]. Calls are async (`call_async`, on a fiber): on each
//!   tick a running guest checks its call's wall-clock deadline and, while it holds,
//!   yields to the executor and resumes after the other ready tasks; past it, it traps
//!   with `Interrupt` and the request gets a 504. So a `loop {}` shares its worker in
//!   slices of one tick instead of holding it for `plugin_timeout`.
//! - **Memory**: a per-store limiter caps linear memory; a grow past the cap traps (rather
//!   than returning -1 to an allocator that would abort anyway), reported as
//!   [`CallError::OutOfMemory`].
//! - **Instances**: the pooling allocator pre-reserves slots, so instantiation is a few
//!   microseconds; `InstancePre` resolves imports once per plugin, not per instance.
//! - **WASI**: a component that imports `wasi:` interfaces (a Python plugin) is compiled
//!   by a second engine, made on first use, with WASI 0.2 linked and nothing granted
//!   ([`wasi`](crate::wasi)), a pool of [`WASI_POOL_SLOTS`] larger slots, and the
//!   `wasi_memory_bytes` cap. Every other plugin never links WASI.

#![deny(missing_docs)]

mod bindings;
mod cache;
mod host_impl;
mod lower;
mod wasi;

pub use cache::{ArtifactCache, CacheError};

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use berth_core::engine::{
    CallError, CallFuture, Engine, EngineLimits, Instance, LoadError, Module, YieldNow,
};
use berth_core::host::PluginHost;
use berth_core::model::{
    BeforeOutcome, Event, EventOutcome, HandlerId, Pairs, Registration, Request, Response,
};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use bindings::{FromWit, Plugin, PluginPre, ToWit};

/// How often the epoch ticker fires: the granularity of call deadlines, and the longest
/// a busy guest runs before it yields. Every busy call on a worker gets one tick before
/// a waiting request is looked at, so this bounds what a spinning plugin costs the
/// others (16 spinning calls on 2 workers: a request waits about 8 ticks).
pub const TICK: Duration = Duration::from_millis(1);

/// Instance slots the pooling allocator reserves (across all plugins).
const POOL_SLOTS: u32 = 1000;

/// Instance slots of the WASI engine's pool (across all plugins that import WASI): at
/// most this many Python instances exist at once (idle in the pools or in a call). Each
/// slot reserves `wasi_plugin_memory` of address space and holds some 6 MiB once used,
/// so fewer, larger slots than [`POOL_SLOTS`]; a call that finds none free fails (500)
/// and is logged, as any instantiation failure.
pub const WASI_POOL_SLOTS: u32 = 64;

/// A compiled Python plugin is one component of about a dozen core modules sharing one
/// memory (CPython, libc, the bindings): the per-component allowances of its pool.
const WASI_CORE_INSTANCES_PER_COMPONENT: u32 = 32;
/// Function-table entries of one WASI module (CPython's indirect table is large).
const WASI_TABLE_ELEMENTS: usize = 100_000;

/// One wasmtime engine and the linker over it.
struct Flavor {
    engine: wasmtime::Engine,
    linker: Arc<Linker<StoreData>>,
    /// The linear-memory cap of its instances.
    memory_bytes: usize,
    /// Whether WASI is linked (its instances get a [`wasi::WasiState`]).
    wasi: bool,
}

/// The wasmtime engine. Cheap to share; compiling is the expensive part.
pub struct WasmtimeEngine {
    plain: Flavor,
    /// The engine for components that import WASI, made when the first one is compiled
    /// (its pool reserves address space a server without Python plugins never needs).
    wasi: OnceLock<Result<Flavor, String>>,
    limits: EngineLimits,
    // The ticker thread holds a `Weak` to this and stops once the engine and every
    // module compiled by it are dropped (modules outlive the engine in a server).
    ticker_alive: Arc<()>,
    cache: Option<ArtifactCache>,
    yield_now: Option<YieldNow>,
}

/// Per-store data: the plugin's view of the host, its memory limiter, and the current
/// call's deadline.
pub struct StoreData {
    host: PluginHost,
    limiter: MemoryCap,
    /// When the current call must have returned (`None`: no call yet).
    deadline: Option<Instant>,
    /// Whether the current call runs as a future and so may yield on an epoch tick (a
    /// synchronous instantiation may not; it only checks the deadline).
    may_yield: bool,
    /// The executor's own yield, when it has one.
    yield_now: Option<YieldNow>,
    /// WASI's context, for a component that imports WASI (made on first use).
    wasi: Option<Box<wasi::WasiState>>,
}

/// What a guest does on each epoch tick: trap past its call's deadline, otherwise yield
/// to the executor (or, outside a future, carry on) and look again on the next tick.
fn on_epoch(data: &StoreData) -> UpdateDeadline {
    match data.deadline {
        Some(at) if Instant::now() < at && data.may_yield => match data.yield_now {
            Some(yield_now) => UpdateDeadline::YieldCustom(1, yield_now()),
            None => UpdateDeadline::Yield(1),
        },
        Some(at) if Instant::now() < at => UpdateDeadline::Continue(1),
        _ => UpdateDeadline::Interrupt,
    }
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
        let alive = Arc::new(());
        let plain = flavor(limits.memory_bytes, false, &alive)?;
        Ok(WasmtimeEngine {
            plain,
            wasi: OnceLock::new(),
            limits,
            ticker_alive: alive,
            cache: None,
            yield_now: None,
        })
    }

    /// The engine for components that import WASI, made on first use.
    fn wasi_flavor(&self) -> Result<&Flavor, LoadError> {
        self.wasi
            .get_or_init(|| {
                flavor(self.limits.wasi_memory_bytes, true, &self.ticker_alive)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| LoadError::Invalid(format!("the WASI engine: {e}")))
    }

    /// Makes busy guests yield with the executor's own yield (see [`YieldNow`]).
    pub fn with_yield(mut self, yield_now: YieldNow) -> WasmtimeEngine {
        self.yield_now = Some(yield_now);
        self
    }

    /// Keeps compiled plugins in `cache`, so later runs skip compilation.
    pub fn with_cache(mut self, cache: Option<ArtifactCache>) -> WasmtimeEngine {
        self.cache = cache;
        self
    }
}

/// Makes one engine (pooled when the sandbox allows), its linker and its epoch ticker.
/// `wasi`: the WASI engine, with larger, fewer slots and WASI 0.2 linked.
fn flavor(memory_bytes: usize, wasi: bool, alive: &Arc<()>) -> Result<Flavor, LoadError> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    // berth-build links plugins with one-byte pages (the custom-page-sizes proposal), so
    // that a device's instance holds only the bytes it uses; the same file runs here.
    config.wasm_custom_page_sizes(true);
    // Plugins are small; a modest reservation per memory keeps thousands of pooled
    // slots within the address space (bounds checks become explicit, which is cheap).
    let reservation = (memory_bytes as u64).next_power_of_two().max(1 << 20);
    config.memory_reservation(reservation);
    config.memory_guard_size(64 << 10);
    let mut pool = PoolingAllocationConfig::default();
    if wasi {
        let slots = WASI_POOL_SLOTS;
        pool.total_component_instances(slots)
            .total_core_instances(slots * WASI_CORE_INSTANCES_PER_COMPONENT)
            .max_core_instances_per_component(WASI_CORE_INSTANCES_PER_COMPONENT)
            .total_memories(slots)
            .total_tables(slots * WASI_CORE_INSTANCES_PER_COMPONENT)
            .table_elements(WASI_TABLE_ELEMENTS)
            .total_stacks(slots)
            .max_memory_size(memory_bytes);
    } else {
        pool.total_component_instances(POOL_SLOTS)
            .total_core_instances(POOL_SLOTS * 4)
            .total_memories(POOL_SLOTS)
            .total_tables(POOL_SLOTS * 2)
            // Async calls run on fiber stacks; one per call in flight, from the pool.
            .total_stacks(POOL_SLOTS)
            .max_memory_size(memory_bytes);
    }
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
    if wasi {
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Invalid(e.to_string()))?;
    }
    spawn_ticker(engine.clone(), Arc::downgrade(alive));
    Ok(Flavor {
        engine,
        linker: Arc::new(linker),
        memory_bytes,
        wasi,
    })
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
        let flavor = if wasi::imports_wasi(bytes) {
            self.wasi_flavor()?
        } else {
            &self.plain
        };
        let component = match &self.cache {
            Some(cache) => cache.load(&flavor.engine, bytes),
            None => Component::new(&flavor.engine, bytes),
        }
        .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let pre = flavor
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        let pre = PluginPre::new(pre).map_err(|e| LoadError::Contract(format!("{e:#}")))?;
        Ok(Box::new(WasmtimeModule {
            engine: flavor.engine.clone(),
            pre,
            limits: EngineLimits {
                memory_bytes: flavor.memory_bytes,
                ..self.limits
            },
            wasi: flavor.wasi,
            yield_now: self.yield_now,
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
    /// The limits of its instances (`memory_bytes`: its flavor's cap).
    limits: EngineLimits,
    /// Whether its instances get a WASI context.
    wasi: bool,
    yield_now: Option<YieldNow>,
    _ticker_alive: Arc<()>,
}

impl Module for WasmtimeModule {
    fn instantiate(&self, host: PluginHost) -> Result<Box<dyn Instance>, CallError> {
        let wasi = self.wasi.then(|| Box::new(wasi::WasiState::new(&host)));
        let data = StoreData {
            host,
            limiter: MemoryCap {
                max_bytes: self.limits.memory_bytes,
                hit: false,
            },
            deadline: deadline_from_now(self.limits.call_timeout_ms),
            may_yield: false,
            yield_now: self.yield_now,
            wasi,
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_callback(|ctx| Ok(on_epoch(ctx.data())));
        store.set_epoch_deadline(1);
        // WASI's host functions are async, so such a component is instantiated by its
        // first call (always `setup`), inside that call's future; the rest right here.
        let plugin = if self.wasi {
            Instantiated::Pending(self.pre.clone())
        } else {
            let plugin = self
                .pre
                .instantiate(&mut store)
                .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
            let exports = lower::check(&store, &plugin)
                .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
            Instantiated::Ready(plugin, exports)
        };
        Ok(Box::new(WasmtimeInstance {
            store,
            plugin,
            timeout_ms: self.limits.call_timeout_ms,
        }))
    }
}

fn deadline_from_now(timeout_ms: u64) -> Option<Instant> {
    Instant::now().checked_add(Duration::from_millis(timeout_ms))
}

/// An instance's exports, or what makes them on the first call.
enum Instantiated {
    /// The exports, and the request exports typed over borrowed requests.
    Ready(Plugin, lower::RequestExports),
    Pending(PluginPre<StoreData>),
}

struct WasmtimeInstance {
    store: Store<StoreData>,
    plugin: Instantiated,
    timeout_ms: u64,
}

impl WasmtimeInstance {
    /// Starts a call's clock: its deadline, and a look at it on the next epoch tick.
    fn begin(&mut self) {
        let data = self.store.data_mut();
        data.deadline = deadline_from_now(self.timeout_ms);
        data.may_yield = true;
        self.store.set_epoch_deadline(1);
    }

    /// Instantiates a pending (WASI) instance, under the current call's deadline.
    async fn ready(&mut self) -> Result<(), CallError> {
        if let Instantiated::Pending(pre) = &self.plugin {
            let pre = pre.clone();
            let plugin =
                pre.instantiate_async(&mut self.store).await.map_err(|e| {
                    match classify(e, self.store.data().limiter.hit) {
                        CallError::Trap(message) => CallError::Instantiate(message),
                        other => other,
                    }
                })?;
            let exports = lower::check(&self.store, &plugin)
                .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
            self.plugin = Instantiated::Ready(plugin, exports);
        }
        Ok(())
    }

    /// Classifies a call's failure.
    fn finish<R>(&self, result: wasmtime::Result<R>) -> Result<R, CallError> {
        result.map_err(|e| classify(e, self.store.data().limiter.hit))
    }
}

/// One async guest export call on `$self`, under a fresh deadline.
macro_rules! guest_call {
    ($self:ident . $export:ident ( $($arg:expr),* )) => {{
        $self.begin();
        match $self.ready().await {
            Err(e) => Err(e),
            Ok(()) => match &$self.plugin {
                Instantiated::Ready(plugin, _) => {
                    let guest = plugin.berth_plugin_guest();
                    let result = guest.$export(&mut $self.store, $($arg),*).await;
                    $self.finish(result)
                }
                Instantiated::Pending(_) => Err(CallError::Instantiate("not instantiated".into())),
            },
        }
    }};
}

/// One async call of a request export on `$self`, lowered from borrowed data
/// (see [`lower`]), under a fresh deadline.
macro_rules! request_call {
    ($self:ident . $export:ident ( $($arg:expr),* )) => {{
        $self.begin();
        match $self.ready().await {
            Err(e) => Err(e),
            Ok(()) => match &$self.plugin {
                Instantiated::Ready(_, exports) => {
                    let func = exports.$export();
                    let result = func.call_async(&mut $self.store, ($($arg),*)).await;
                    $self.finish(result.map(|(r,)| r))
                }
                Instantiated::Pending(_) => Err(CallError::Instantiate("not instantiated".into())),
            },
        }
    }};
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
    fn setup<'a>(&'a mut self, config: &'a Pairs) -> CallFuture<'a, Result<Registration, String>> {
        Box::pin(async move {
            let r = guest_call!(self.call_setup(config))?;
            Ok(r.map(Registration::from_wit))
        })
    }

    fn handle<'a>(&'a mut self, handler: HandlerId, req: &'a Request) -> CallFuture<'a, Response> {
        Box::pin(async move {
            let req = lower::RequestRef::of(req);
            request_call!(self.handle(handler, req)).map(Response::from_wit)
        })
    }

    fn before<'a>(
        &'a mut self,
        handler: HandlerId,
        req: &'a Request,
    ) -> CallFuture<'a, BeforeOutcome> {
        Box::pin(async move {
            let req = lower::RequestRef::of(req);
            request_call!(self.before(handler, req)).map(BeforeOutcome::from_wit)
        })
    }

    fn after<'a>(
        &'a mut self,
        handler: HandlerId,
        req: &'a Request,
        resp: &'a Response,
    ) -> CallFuture<'a, Response> {
        Box::pin(async move {
            let (req, resp) = (lower::RequestRef::of(req), lower::ResponseRef::of(resp));
            request_call!(self.after(handler, req, resp)).map(Response::from_wit)
        })
    }

    fn on_event<'a>(
        &'a mut self,
        handler: HandlerId,
        event: &'a Event,
    ) -> CallFuture<'a, EventOutcome> {
        Box::pin(async move {
            let event = event.to_wit();
            guest_call!(self.call_on_event(handler, &event)).map(EventOutcome::from_wit)
        })
    }

    fn next_chunk(&mut self, stream: u32) -> CallFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move { guest_call!(self.call_next_chunk(stream)) })
    }
}
