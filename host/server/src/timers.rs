//! Plugin timers (`app.every`): berth-core's [`TimerPlan`] says which run (at most
//! `[limits] max_timers`, none more often than `timer_min_interval`; the rest are
//! refused with a warning naming the plugin), and each that runs gets a task that
//! delivers `tick(now)` to its handler on the core schedule ([`next_due`]): the first one
//! interval after start-up (like `setInterval`), never overlapping the previous tick of
//! the same timer, late ticks delayed rather than bunched. A handler that fails is
//! logged (the pool replaces its instance) and the timer keeps going.
//!
//! **In a cluster** (`[cluster] timers`), a plugin's timers may be cluster-wide: every
//! node keeps the schedule, but a tick fires only on the node holding the timer's lease
//! (`cluster::lease`), so two nodes do not both publish.
//!
//! **Across swaps.** A timer is known by its plugin's *name*, its place among that
//! plugin's timers and its interval ([`Key`]), and each tick finds its handler in the
//! snapshot live at that moment. So when a plugin is replaced, its timers go on on the
//! same schedule and tick the new version; [`Timers::reconcile`] (run after every swap)
//! stops the timers that no longer exist and starts the new ones.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_core::model::Event;
use berth_core::pipeline::{Invoker, Target};
use berth_core::timers::{next_due, TimerPlan};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::pool::PoolInvoker;
use crate::snapshot::Snapshot;
use crate::Shared;

/// A timer across swaps: plugin name, its index among the plugin's timers, interval.
type Key = (String, usize, u32);

/// The running timers of a server.
#[derive(Default)]
pub struct Timers {
    tasks: BTreeMap<Key, JoinHandle<()>>,
    /// When the server started: every schedule counts from it.
    epoch: Option<Instant>,
}

impl Timers {
    /// Makes the running timers those of the live snapshot: keeps the ones that still
    /// exist (on their schedule), stops the others, starts the new ones. Logs the
    /// timers the plan refuses.
    pub fn reconcile(&mut self, shared: &Arc<Shared>) {
        let snap = shared.live.load_full();
        let limits = &shared.limits;
        let plan = TimerPlan::new(
            snap.app.timers(),
            limits.max_timers,
            limits.timer_min_interval_ms,
        );
        for (target, why) in &plan.refused {
            tracing::warn!(plugin = snap.name(target.plugin), "{why}");
        }
        let epoch = *self.epoch.get_or_insert_with(Instant::now);
        // `accepted` keeps registration order, so it is a subsequence of `every`.
        let every = keys(&snap);
        let mut wanted: BTreeSet<Key> = BTreeSet::new();
        let mut rest = every.iter();
        for accepted in &plan.accepted {
            if let Some((_, k)) = rest.find(|(candidate, _)| candidate == accepted) {
                wanted.insert(k.clone());
            }
        }
        self.tasks.retain(|k, task| {
            let keep = wanted.contains(k);
            if !keep {
                task.abort();
            }
            keep
        });
        for k in wanted {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.tasks.entry(k) {
                let key = slot.key().clone();
                slot.insert(tokio::spawn(run(shared.clone(), key, epoch)));
            }
        }
    }

    /// Stops every timer (a tick already running finishes on its own).
    pub fn stop(&mut self) {
        for (_, task) in std::mem::take(&mut self.tasks) {
            task.abort();
        }
    }
}

/// Every timer of `snap` in registration order, as the plan sees it and by its key.
fn keys(snap: &Snapshot) -> Vec<((u32, Target), Key)> {
    let mut out = Vec::new();
    for (plugin, entry) in snap.app.plugins().iter().enumerate() {
        for (index, t) in entry.registration.timers.iter().enumerate() {
            let target = Target {
                plugin,
                handler: t.handler,
            };
            let key = (entry.name.clone(), index, t.interval_ms);
            out.push(((t.interval_ms, target), key));
        }
    }
    out
}

/// The target of timer `key` in `snap`, when its plugin still has it.
fn target(snap: &Snapshot, (name, index, interval): &Key) -> Option<Target> {
    let (plugin, _) = snap.find(name)?;
    let timer = snap
        .app
        .plugins()
        .get(plugin)?
        .registration
        .timers
        .get(*index)?;
    (timer.interval_ms == *interval).then_some(Target {
        plugin,
        handler: timer.handler,
    })
}

/// One timer's task: ticks on the core schedule until it is aborted.
async fn run(shared: Arc<Shared>, key: Key, epoch: Instant) {
    let ms = move || epoch.elapsed().as_millis() as u64;
    let interval_ms = key.2;
    let mut due = ms().saturating_add(u64::from(interval_ms.max(1)));
    loop {
        tokio::time::sleep_until(epoch + Duration::from_millis(due)).await;
        let snap = shared.live.load_full();
        // Between a swap and its reconcile, a removed timer has no target: skip a beat.
        // A cluster-wide timer fires only on the node holding its lease.
        let fires = shared
            .cluster
            .as_ref()
            .is_none_or(|c| c.fires_timer(&key.0, key.1));
        if let Some(target) = target(&snap, &key).filter(|_| fires) {
            // A call yields while it computes, so a slow timer handler shares the
            // worker with the connections instead of holding it.
            let now = Event::Tick(unix_ms());
            let call = PoolInvoker(&snap.pools).on_event(target, &now).await;
            if let Err(e) = call {
                tracing::error!(
                    plugin = key.0,
                    "timer handler failed ({e}); the timer keeps running"
                );
            }
        }
        due = next_due(due, interval_ms, ms());
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
