//! [`WasmiEngine`] and its compiled [`WasmiModule`]s.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use berth_core::engine::{CallError, Engine, EngineLimits, Instance, LoadError, Module, YieldNow};
use berth_core::host::PluginHost;
use wasmi::{Config, Store};

use crate::limits::GuestLimits;

use crate::imports::host_funcs;
use crate::instance::{boxed, Export, WasmiInstance};
use crate::load::{check_contract, main_module};
use crate::runtime::{map_error, run_blocking, Deadline, FuelPolicy, HostState, Realloc};
use crate::wit::{FuncSig, GUEST_FUNCS, GUEST_PREFIX};

/// Fuel per millisecond of `call_timeout_ms`. wasmi spends roughly one unit per
/// instruction; a desktop CPU runs a few hundred million a second, a microcontroller a
/// few tens of millions. With `std` this only sizes the slices between clock checks.
#[cfg(feature = "std")]
pub const DEFAULT_FUEL_PER_MS: u64 = 200_000;
/// Fuel per millisecond of `call_timeout_ms`. wasmi spends roughly one unit per
/// instruction; without `std` the whole call gets `timeout × this`, so it is sized for
/// a microcontroller (an ESP32-C6 runs some tens of millions of wasmi instructions/s).
#[cfg(not(feature = "std"))]
pub const DEFAULT_FUEL_PER_MS: u64 = 20_000;

/// Runs Berth plugin components on the wasmi interpreter.
///
/// Every compiled module gets a `wasmi::Engine` of its own. A wasmi engine keeps each
/// function it compiled, or will translate on first call, until the engine itself is
/// dropped; with one engine for every module, a plugin replaced by a live reload or a
/// push to a device left all its code behind (about 95 KB a load of the test guest,
/// `tests/reload_memory.rs`). Its own engine goes with the module and its instances.
pub struct WasmiEngine {
    config: Config,
    limits: EngineLimits,
    fuel_per_ms: u64,
    yield_now: Option<YieldNow>,
}

impl WasmiEngine {
    /// An engine enforcing `limits` on every instance.
    pub fn new(limits: EngineLimits) -> WasmiEngine {
        let mut config = Config::default();
        config.consume_fuel(true);
        // berth-build links plugins with one-byte pages (the custom-page-sizes proposal):
        // an instance's memory is then the bytes it uses, not 64 KiB steps of them.
        config.wasm_custom_page_sizes(true);
        // wasmi translates a function on its first call and, by default, charges the
        // call fuel for it. Out of fuel there, wasmi 2.0 fails the call for good instead
        // of letting it resume (the lazy translation's error is not a resumable
        // outcome), so a call whose slice was smaller than a function's translation
        // failed as if past its deadline. Translation is a one-off cost of the module the
        // operator loaded, not of the call that happens to come first: it is not metered.
        // Copies (`memory.grow`, `memory.copy`…) keep wasmi's default price.
        config.fuel_cost(wasmi::CustomFuelCosts {
            bytes_copied_per_fuel: 64,
            fuel_per_bytes_translated: 0,
            fuel_per_bytes_validated: 0,
        });
        WasmiEngine {
            config,
            limits,
            fuel_per_ms: DEFAULT_FUEL_PER_MS,
            yield_now: None,
        }
    }

    /// Overrides [`DEFAULT_FUEL_PER_MS`] (the deadline's exchange rate of fuel for time).
    pub fn with_fuel_per_ms(mut self, fuel_per_ms: u64) -> WasmiEngine {
        self.fuel_per_ms = fuel_per_ms.max(1);
        self
    }

    /// Makes busy guests yield with the executor's own yield between fuel slices (see
    /// [`YieldNow`]); without one a call wakes itself and returns `Pending` once.
    pub fn with_yield(mut self, yield_now: YieldNow) -> WasmiEngine {
        self.yield_now = Some(yield_now);
        self
    }

    /// Compiles a plugin component into a concrete [`WasmiModule`].
    pub fn compile_module(&self, bytes: &[u8]) -> Result<WasmiModule, LoadError> {
        let core = main_module(bytes)?;
        let engine = wasmi::Engine::new(&self.config);
        let module =
            wasmi::Module::new(&engine, core).map_err(|e| LoadError::Invalid(format!("{e}")))?;
        let imports = check_contract(&module)?;
        Ok(WasmiModule {
            imports,
            module,
            limits: self.limits,
            policy: FuelPolicy {
                timeout_ms: self.limits.call_timeout_ms,
                fuel_per_ms: self.fuel_per_ms,
            },
            yield_now: self.yield_now,
        })
    }
}

impl Engine for WasmiEngine {
    fn name(&self) -> &'static str {
        "wasmi"
    }

    fn compile(&self, bytes: &[u8]) -> Result<Box<dyn Module>, LoadError> {
        Ok(Box::new(self.compile_module(bytes)?))
    }
}

/// A compiled plugin: its core module (which owns the engine that holds its code),
/// checked against the contract.
pub struct WasmiModule {
    /// The host function behind each import, in the module's import order.
    imports: Vec<&'static FuncSig>,
    module: wasmi::Module,
    limits: EngineLimits,
    policy: FuelPolicy,
    yield_now: Option<YieldNow>,
}

fn instantiate_error(e: impl core::fmt::Display) -> CallError {
    CallError::Instantiate(format!("{e}"))
}

impl WasmiModule {
    /// Creates a concrete instance whose imports call into `host`.
    pub fn instantiate_wasmi(&self, host: PluginHost) -> Result<WasmiInstance, CallError> {
        let limits = GuestLimits::new(self.limits.memory_bytes);
        let state = HostState {
            host,
            limits,
            guest: None,
            deadline: Deadline::new(self.policy),
            yield_now: self.yield_now,
        };
        let mut store = Store::new(self.module.engine(), state);
        store.limiter(|state| &mut state.limits);
        // The budget is armed here for `_initialize`'s refills, and handed over whole to
        // the start function, which runs inside `instantiate_and_start` and cannot resume
        // after running out of fuel.
        let _ = store.data_mut().deadline.start();
        let fuel = store.data().deadline.whole();
        store.set_fuel(fuel).map_err(instantiate_error)?;
        let imports = host_funcs(&mut store, &self.imports);
        let instance =
            wasmi::Instance::new(&mut store, &self.module, &imports).map_err(
                |e| match map_error(&e) {
                    CallError::Trap(why) => CallError::Instantiate(why),
                    other => other,
                },
            )?;

        let memory = instance
            .get_memory(&store, "memory")
            .ok_or_else(|| instantiate_error("no memory"))?;
        let realloc: Realloc = instance
            .get_typed_func(&store, "cabi_realloc")
            .map_err(instantiate_error)?;
        store.data_mut().guest = Some((memory, realloc));
        let mut exports = Vec::with_capacity(GUEST_FUNCS.len());
        for sig in &GUEST_FUNCS {
            let name = format!("{GUEST_PREFIX}{}", sig.name);
            let func = instance
                .get_func(&store, &name)
                .ok_or_else(|| instantiate_error(&name))?;
            let post = instance.get_func(&store, &format!("cabi_post_{name}"));
            exports.push(Export::new(sig, func, post));
        }
        let exports: [Export; 6] = exports
            .try_into()
            .map_err(|_| instantiate_error("exports"))?;
        // wit-component runs a core module's `_initialize` (if any) when instantiating.
        if let Some(init) = instance.get_func(&store, "_initialize") {
            run_blocking(&mut store, &init, &[], &mut [])?;
        }
        Ok(WasmiInstance {
            store,
            memory,
            realloc,
            exports,
            poisoned: false,
            flat: Vec::new(),
            vals: Vec::new(),
        })
    }
}

impl Module for WasmiModule {
    fn instantiate(&self, host: PluginHost) -> Result<Box<dyn Instance>, CallError> {
        self.instantiate_wasmi(host).map(boxed)
    }
}
