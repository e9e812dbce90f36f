//! Warm instance pools, one per plugin, and the [`Invoker`] the pipeline calls through.
//!
//! Creating an instance means instantiating the component and running its `setup` (the
//! guest rebuilds its handler table there). That is done once per pooled instance, never
//! per request. An instance whose call failed is dropped, never returned to the pool: its
//! memory may be half-updated. The next call gets a fresh one.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use berth_core::engine::{CallError, Instance, Module};
use berth_core::host::PluginHost;
use berth_core::model::{
    BeforeOutcome, Event, EventOutcome, Pairs, Registration, Request, Response,
};
use berth_core::pipeline::{Invoker, Target};

/// The instances of one plugin.
pub struct Pool {
    name: String,
    module: Box<dyn Module>,
    host: PluginHost,
    config: Pairs,
    idle: Mutex<Vec<Box<dyn Instance>>>,
    // Idle instances kept beyond this are dropped: memory stays bounded after a burst.
    max_idle: usize,
    /// What the pool was made from, so a rescan can tell an unchanged plugin (kept,
    /// warm instances and all) from one that must be loaded again.
    source: Source,
    /// This plugin's metric series, set once the pool serves (see [`Pool::attach`]).
    metrics: OnceLock<crate::metrics::PluginMetrics>,
}

/// What a pool was made from: the file's hash and the grants and config it was set up
/// with. Two equal sources make the same plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The SHA-256 of the plugin file, in hex.
    pub hash: String,
    /// `[grants.<plugin>] gpio`.
    pub gpio: berth_core::device::GpioGrant,
    /// The `[plugin.<name>]` pairs its `setup` received.
    pub config: Pairs,
}

impl Source {
    /// The first 12 hex digits of the hash, for log lines.
    pub fn short(&self) -> &str {
        self.hash.get(..12).unwrap_or(&self.hash)
    }
}

impl Pool {
    /// Creates the pool and its first instance; returns the plugin's registration.
    /// A `setup` that refuses is reported as [`CallError::Instantiate`] with its reason.
    pub async fn new(
        name: &str,
        module: Box<dyn Module>,
        host: PluginHost,
        config: Pairs,
        max_idle: usize,
    ) -> Result<(Pool, Registration), CallError> {
        let pool = Pool {
            name: name.to_string(),
            module,
            host,
            config,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
            source: Source::default(),
            metrics: OnceLock::new(),
        };
        let (instance, registration) = pool.fresh().await?;
        pool.checkin(instance);
        Ok((pool, registration))
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records what the pool was made from (see [`Source`]).
    pub fn with_source(mut self, source: Source) -> Pool {
        self.source = source;
        self
    }

    /// What the pool was made from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Records this plugin's calls in `metrics` from now on (once; later calls are
    /// ignored, so a pool kept across a swap keeps its series). Its first instance,
    /// made when the pool was, is counted here.
    pub(crate) fn attach(&self, metrics: &crate::metrics::Metrics) {
        let mut first = false;
        let series = self.metrics.get_or_init(|| {
            first = true;
            metrics.plugin(&self.name)
        });
        if first {
            series.instantiated.inc();
        }
    }

    /// Records one call of `entry` that started at `started`.
    pub(crate) fn record<R>(
        &self,
        entry: crate::metrics::Entry,
        started: Instant,
        result: &Result<R, CallError>,
    ) {
        if let Some(m) = self.metrics.get() {
            m.call(entry, started.elapsed(), result.as_ref().err());
        }
    }

    async fn fresh(&self) -> Result<(Box<dyn Instance>, Registration), CallError> {
        if let Some(m) = self.metrics.get() {
            m.instantiated.inc();
        }
        let mut instance = self.module.instantiate(self.host.clone())?;
        let registration = instance
            .setup(&self.config)
            .await?
            .map_err(CallError::Instantiate)?;
        Ok((instance, registration))
    }

    /// Returns an instance to the pool after a call that succeeded (dropped instead when
    /// the pool already holds `max_idle`).
    pub fn checkin(&self, instance: Box<dyn Instance>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(instance);
        }
    }

    /// How many idle instances the pool holds.
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Creates instances until `n` are idle (at most `max_idle`): a swap warms the new
    /// version like the old one was, so the requests after it do not pay for `setup`.
    /// Stops at the first failure (the pool then makes instances on demand, as usual).
    pub async fn warm(&self, n: usize) {
        while self.idle() < n.min(self.max_idle) {
            match self.fresh().await {
                Ok((instance, _)) => self.checkin(instance),
                Err(_) => return,
            }
        }
    }

    /// Drops idle instances beyond `keep`; returns how many were dropped. Their memory
    /// goes back to the engine (wasmtime's pooling allocator decommits it).
    pub fn trim(&self, keep: usize) -> usize {
        let dropped: Vec<Box<dyn Instance>> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let keep = keep.min(idle.len());
            idle.drain(keep..).collect()
        };
        // Dropped outside the lock: freeing an instance is not free.
        let n = dropped.len();
        drop(dropped);
        n
    }

    /// Takes an idle (or fresh) instance out of the pool: nobody else calls it until it
    /// is handed back with [`Pool::checkin`] — or dropped, after a failed call or when
    /// its guest-side state can no longer be trusted. This is how a streamed body pins
    /// the instance whose iterator produces it.
    pub async fn checkout(&self) -> Result<Box<dyn Instance>, CallError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(instance) => Ok(instance),
            None => self
                .fresh()
                .await
                .map(|(instance, _)| instance)
                .inspect_err(|e| {
                    tracing::error!(plugin = %self.name, "cannot create an instance: {e}");
                }),
        }
    }

    /// Ends a call made on a checked-out `instance`: back to the pool when it succeeded;
    /// dropped, with the failure logged under the plugin's name, when it did not.
    pub fn finish<R>(
        &self,
        instance: Box<dyn Instance>,
        result: Result<R, CallError>,
    ) -> Result<R, CallError> {
        match &result {
            Ok(_) => self.checkin(instance),
            Err(e) => self.report_failure(e),
        }
        result
    }

    /// Logs a failed call; the instance that made it must be dropped, never checked in.
    pub fn report_failure(&self, e: &CallError) {
        tracing::warn!(plugin = %self.name, "call failed, instance replaced: {e}");
    }
}

/// Calls plugins through their pools; pool `i` belongs to plugin `i` of the app.
pub struct PoolInvoker<'a>(pub &'a [Arc<Pool>]);

impl PoolInvoker<'_> {
    fn pool(&self, to: Target) -> Result<&Arc<Pool>, CallError> {
        self.0
            .get(to.plugin)
            .ok_or_else(|| CallError::Instantiate("no such plugin".into()))
    }
}

impl Invoker for PoolInvoker<'_> {
    async fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError> {
        let pool = self.pool(to)?;
        let mut instance = pool.checkout().await?;
        let started = Instant::now();
        let result = instance.handle(to.handler, req).await;
        pool.record(crate::metrics::Entry::Handle, started, &result);
        pool.finish(instance, result)
    }

    async fn before(&mut self, to: Target, req: &Request) -> Result<BeforeOutcome, CallError> {
        let pool = self.pool(to)?;
        let mut instance = pool.checkout().await?;
        let started = Instant::now();
        let result = instance.before(to.handler, req).await;
        pool.record(crate::metrics::Entry::Before, started, &result);
        pool.finish(instance, result)
    }

    async fn after(
        &mut self,
        to: Target,
        req: &Request,
        resp: &Response,
    ) -> Result<Response, CallError> {
        let pool = self.pool(to)?;
        let mut instance = pool.checkout().await?;
        let started = Instant::now();
        let result = instance.after(to.handler, req, resp).await;
        pool.record(crate::metrics::Entry::After, started, &result);
        pool.finish(instance, result)
    }

    async fn on_event(&mut self, to: Target, event: &Event) -> Result<EventOutcome, CallError> {
        let pool = self.pool(to)?;
        let mut instance = pool.checkout().await?;
        let started = Instant::now();
        let result = instance.on_event(to.handler, event).await;
        let entry = match event {
            Event::Tick(_) => crate::metrics::Entry::Timer,
            _ => crate::metrics::Entry::Event,
        };
        pool.record(entry, started, &result);
        pool.finish(instance, result)
    }
}
