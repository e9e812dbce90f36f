//! Hot swap: a rescan of the plugins folder and `berth.toml` while the server runs.
//!
//! [`Reloader::rescan`] re-reads the configuration, lists the plugin files and, for
//! each file whose hash (or config table, or grants) differs from the running
//! version's, compiles it (off the request path, on the blocking pool; wasmtime's
//! artifact cache applies) and runs its `setup` in a new pool. The new versions are
//! then tried into the app one at a time, in plugin order, so a route conflict refuses
//! exactly the file that causes it. What is left becomes one new [`Snapshot`], stored
//! in one step (see `snapshot` for what that guarantees to requests in flight).
//!
//! A file that fails — not a component, a trap or refusal in `setup`, a route conflict,
//! an unreadable file — is refused with one log line naming the file and why, and the
//! version running before (if any) keeps serving. The same bad file is not tried
//! again until it (or its config) changes. A file that fails while it is still being
//! written (it changed during the read, or was modified within `[reload] settle`) is
//! not refused but retried: see [`Rescan::retry`].
//!
//! After a swap: WebSocket connections whose route is gone are closed with 1001; the
//! `server:stop` hooks of replaced and removed plugins run on their old instances, the
//! `server:start` hooks of new and replaced ones on the new; timers are reconciled.
//! [`watch`] decides when to rescan: file events, SIGHUP.

pub mod watch;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use berth_core::engine::Engine;
use berth_core::host::HostApi;
use berth_core::model::{Event, EventKind, ServerInfo};
use berth_core::pipeline::{App, Invoker, PluginEntry};

use crate::config::Config;
use crate::loader;
use crate::pool::{Pool, PoolInvoker, Source};
use crate::snapshot::Snapshot;
use crate::static_files::StaticFiles;
use crate::Shared;

/// Where a running server re-reads its configuration on a rescan (the CLI re-reads
/// `berth.toml` and applies its flags again). `Err` is a message naming the file.
pub type ConfigSource = Arc<dyn Fn() -> Result<Config, String> + Send + Sync>;

/// One plugin that a rescan loaded.
#[derive(Debug, Clone)]
pub struct Swapped {
    /// The plugin.
    pub plugin: String,
    /// The running version's hash (short), `None` for a new plugin.
    pub old: Option<String>,
    /// The new version's hash (short).
    pub new: String,
    /// Reading, compiling and setting up this file.
    pub load: Duration,
}

/// What one rescan did.
#[derive(Debug, Clone, Default)]
pub struct Rescan {
    /// Plugins loaded (new) or replaced.
    pub swapped: Vec<Swapped>,
    /// Plugins whose file went away: unloaded.
    pub removed: Vec<String>,
    /// Files refused (`file: reason`); the version before them keeps serving.
    pub refused: Vec<String>,
    /// A file failed while it was still being written: rescan again once it settles.
    pub retry: bool,
    /// From the start of the rescan to the new snapshot being live (`None`: no swap).
    pub took: Option<Duration>,
}

/// Rescans a running server's plugins; one rescan at a time.
pub struct Reloader {
    shared: Arc<Shared>,
    engine: Arc<dyn Engine>,
    api: Arc<dyn HostApi>,
    max_idle: usize,
    config: Mutex<ConfigSource>,
    /// How long a file must be left alone before a failure to load it counts.
    settle: Duration,
    /// The addresses `server:start` hooks are told; set once the server runs (a swap
    /// before that runs no start hooks: `run` broadcasts to every plugin).
    pub(crate) info: OnceLock<ServerInfo>,
    /// Refused files by plugin: what was refused, so an unchanged bad file is neither
    /// loaded nor logged again on every rescan.
    refused: Mutex<HashMap<String, Source>>,
    turn: tokio::sync::Mutex<()>,
}

/// A plugin file, as a rescan found it.
enum Candidate {
    /// Unchanged (or refused before, unchanged): the running version, if any, stays.
    Keep,
    /// Loaded: its pool and entry.
    New(Box<(Pool, PluginEntry)>, Duration),
    /// Gone between the listing and the read.
    Gone,
    /// Still being written.
    Retry,
    /// Refused, with the log line's reason.
    Refused(Source, String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each holder replaces or reads one value: a panic cannot leave it torn.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A file's length and modification time: how a rescan sees that it is being written.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

impl Reloader {
    pub(crate) fn new(
        shared: Arc<Shared>,
        engine: Arc<dyn Engine>,
        api: Arc<dyn HostApi>,
        max_idle: usize,
        config: ConfigSource,
        settle: Duration,
    ) -> Reloader {
        Reloader {
            shared,
            engine,
            api,
            max_idle,
            config: Mutex::new(config),
            settle,
            info: OnceLock::new(),
            refused: Mutex::new(HashMap::new()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Replaces where the configuration is re-read from.
    pub(crate) fn set_config(&self, config: ConfigSource) {
        *lock(&self.config) = config;
    }

    /// Forgets the refused files, so the next rescan tries them again (SIGHUP).
    pub fn forget_refused(&self) {
        lock(&self.refused).clear();
    }

    /// How long a write must have been quiet before a failing file counts as refused.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// Rescans now: see the module documentation.
    pub async fn rescan(&self) -> Rescan {
        let _turn = self.turn.lock().await;
        let started = Instant::now();
        let mut report = Rescan::default();
        let source = lock(&self.config).clone();
        let config = match source() {
            Ok(config) => config,
            Err(e) => {
                tracing::error!("{e}; the running plugins keep serving");
                return report;
            }
        };
        let files = match loader::present_plugin_files(&config) {
            Ok(files) => files,
            Err(e) => {
                tracing::error!("{e}; the running plugins keep serving");
                return report;
            }
        };
        let old = self.shared.live.load_full();

        // The running version of each listed plugin, in the new order; then the new
        // versions tried in one at a time.
        let mut slots: Vec<Option<(Arc<Pool>, PluginEntry)>> = Vec::new();
        let mut loaded = Vec::new();
        for (name, path) in &files {
            let current = old
                .find(name)
                .and_then(|(i, p)| Some((p.clone(), old.app.plugins().get(i)?.clone())));
            match self.candidate(&config, name, path, current.as_ref()).await {
                Candidate::Keep => slots.push(current),
                Candidate::Gone => {
                    lock(&self.refused).remove(name);
                    slots.push(None);
                }
                Candidate::Retry => {
                    report.retry = true;
                    slots.push(current);
                }
                Candidate::Refused(source, reason) => {
                    self.refuse(&mut report, name, path, Some(source), &reason);
                    slots.push(current);
                }
                Candidate::New(new, took) => {
                    loaded.push((slots.len(), *new, took, path));
                    slots.push(current);
                }
            }
        }
        let mut swapped_names = HashSet::new();
        for (slot, (pool, entry), took, path) in loaded {
            let previous = slots[slot].replace((Arc::new(pool), entry));
            let entries: Vec<PluginEntry> = slots.iter().flatten().map(|s| s.1.clone()).collect();
            if let Err(e) = App::new(entries) {
                let (pool, _) = std::mem::replace(&mut slots[slot], previous)
                    .expect("the slot was just filled");
                // Not remembered: the conflict may go when the other plugin does.
                self.refuse(&mut report, pool.name(), path, None, &e.reason);
                continue;
            }
            let (pool, _) = slots[slot].as_ref().expect("the slot was just filled");
            swapped_names.insert(pool.name().to_string());
            report.swapped.push(Swapped {
                plugin: pool.name().to_string(),
                old: previous.map(|(p, _)| p.source().short().to_string()),
                new: pool.source().short().to_string(),
                load: took,
            });
        }
        let kept: Vec<(Arc<Pool>, PluginEntry)> = slots.into_iter().flatten().collect();
        report.removed = old
            .pools
            .iter()
            .filter(|p| !kept.iter().any(|(k, _)| k.name() == p.name()))
            .map(|p| p.name().to_string())
            .collect();
        let order_same = kept.len() == old.pools.len()
            && kept
                .iter()
                .zip(&old.pools)
                .all(|((k, _), o)| Arc::ptr_eq(k, o));
        if order_same {
            return report;
        }

        let (pools, entries): (Vec<Arc<Pool>>, Vec<PluginEntry>) = kept.into_iter().unzip();
        let new = match assemble(&config, pools, entries) {
            Ok(snap) => Arc::new(snap),
            Err(e) => {
                tracing::error!("{e}; the running plugins keep serving");
                report.swapped.clear();
                report.removed.clear();
                return report;
            }
        };
        for pool in &new.pools {
            pool.attach(&self.shared.metrics);
        }
        self.shared.live.store(new.clone());
        self.shared
            .metrics
            .hot_swaps
            .inc_by(report.swapped.len() as u64);
        let took = started.elapsed();
        report.took = Some(took);
        self.after_swap(&old, &new, &report, &swapped_names).await;
        report
    }

    /// Reads, compiles and sets up one listed file, unless the running version is it.
    async fn candidate(
        &self,
        config: &Config,
        name: &str,
        path: &Path,
        current: Option<&(Arc<Pool>, PluginEntry)>,
    ) -> Candidate {
        let started = Instant::now();
        let before = stamp(path);
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Candidate::Gone,
            Err(e) => return Candidate::Refused(Source::default(), format!("cannot read: {e}")),
        };
        let source = loader::source_of(config, name, &bytes);
        if current.is_some_and(|(pool, _)| *pool.source() == source) {
            lock(&self.refused).remove(name);
            return Candidate::Keep;
        }
        if lock(&self.refused).get(name) == Some(&source) {
            return Candidate::Keep;
        }
        let engine = self.engine.clone();
        let compiled = tokio::task::spawn_blocking(move || engine.compile(&bytes)).await;
        let module = match compiled {
            Ok(Ok(module)) => module,
            Ok(Err(e)) if self.still_written(path, before) => {
                tracing::debug!("{}: {e} (still being written; retrying)", path.display());
                return Candidate::Retry;
            }
            Ok(Err(e)) => return Candidate::Refused(source, e.to_string()),
            Err(e) => return Candidate::Refused(source, format!("the compiler failed: {e}")),
        };
        match loader::set_up(module, &self.api, name, path, source.clone(), self.max_idle).await {
            Ok(new) => {
                // As warm as the version it replaces, before any request reaches it.
                if let Some((old, _)) = current {
                    new.0.warm(old.idle()).await;
                }
                Candidate::New(Box::new(new), started.elapsed())
            }
            Err(loader::PluginError::Setup { source: e, .. }) => {
                Candidate::Refused(source, format!("setup failed: {e}"))
            }
            Err(e) => Candidate::Refused(source, e.to_string()),
        }
    }

    /// Whether the file changed since `before`, or was modified within `settle`.
    fn still_written(&self, path: &Path, before: Option<(u64, SystemTime)>) -> bool {
        let now = stamp(path);
        let young = now
            .is_some_and(|(_, modified)| modified.elapsed().map_or(true, |age| age < self.settle));
        now != before || young
    }

    /// Logs a refusal; `remember` keeps the refused source from being tried again
    /// until it changes.
    fn refuse(
        &self,
        report: &mut Rescan,
        name: &str,
        path: &Path,
        remember: Option<Source>,
        why: &str,
    ) {
        tracing::error!(
            plugin = name,
            file = %path.display(),
            "plugin {} refused: {why}; the running version keeps serving",
            path.display()
        );
        report.refused.push(format!("{}: {why}", path.display()));
        if let Some(source) = remember {
            lock(&self.refused).insert(name.to_string(), source);
        }
    }

    /// Logs the swap, closes orphaned WebSockets, runs the hooks, moves the timers.
    async fn after_swap(
        &self,
        old: &Snapshot,
        new: &Snapshot,
        report: &Rescan,
        swapped: &HashSet<String>,
    ) {
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        let took = report.took.map(ms).unwrap_or_default();
        for s in &report.swapped {
            let old_hash = s.old.as_deref().unwrap_or("none");
            tracing::info!(
                plugin = s.plugin,
                old = old_hash,
                new = s.new,
                load_ms = ms(s.load),
                swap_ms = took,
                "plugin {} swapped: {old_hash} -> {} in {took} ms",
                s.plugin,
                s.new
            );
        }
        for name in &report.removed {
            tracing::info!(plugin = name, "plugin {name} unloaded: its file is gone");
        }
        let closed = self.shared.ws.close_orphans(
            |path, owner| new.ws_route_of(path, owner).is_some(),
            1001,
            "Plugin unloaded",
        );
        if closed > 0 {
            tracing::info!("{closed} WebSocket connection(s) closed: their route is gone");
        }
        let gone = |name: &str| swapped.contains(name) || report.removed.iter().any(|r| r == name);
        let stops = old.hooks_of(EventKind::ServerStop, |i| gone(old.name(i)));
        let mut invoker = PoolInvoker(&old.pools);
        for target in stops {
            let _ = invoker.on_event(target, &Event::ServerStop).await;
        }
        if let Some(info) = self.info.get() {
            let starts = new.hooks_of(EventKind::ServerStart, |i| swapped.contains(new.name(i)));
            let event = Event::ServerStart(info.clone());
            let mut invoker = PoolInvoker(&new.pools);
            for target in starts {
                let _ = invoker.on_event(target, &event).await;
            }
            lock(&self.shared.timers).reconcile(&self.shared);
        }
    }
}

/// A snapshot of `pools` and `entries` (in plugin order) under `config`.
pub(crate) fn assemble(
    config: &Config,
    pools: Vec<Arc<Pool>>,
    entries: Vec<PluginEntry>,
) -> Result<Snapshot, String> {
    let mut app = App::new(entries).map_err(|e| e.to_string())?;
    app.set_server_header(config.server_name.clone());
    let statics =
        StaticFiles::resolve(&config.statics, app.plugins()).map_err(|e| e.to_string())?;
    app.set_static_prefixes(statics.prefixes());
    Ok(Snapshot {
        app,
        pools,
        statics,
    })
}
