//! Plugin timers (`app.every`): berth-core's [`TimerPlan`] says which run (at most
//! `[limits] max_timers`, none more often than `timer_min_interval`; the rest are
//! refused with a warning naming the plugin), and each that runs gets a task that
//! delivers `tick(now)` to its handler on the core schedule ([`next_due`]): the first one
//! interval after start-up (like `setInterval`), never overlapping the previous tick of
//! the same timer, late ticks delayed rather than bunched. A handler that fails is
//! logged (the pool replaces its instance) and the timer keeps going.

use std::sync::Arc;
use std::time::Duration;

use berth_core::model::Event;
use berth_core::pipeline::Invoker;
use berth_core::timers::{next_due, TimerPlan};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::pool::PoolInvoker;
use crate::Shared;

/// The running timers of a server.
pub struct Timers {
    tasks: Vec<JoinHandle<()>>,
}

impl Timers {
    /// Starts one task per timer the plan accepts; logs the refused ones.
    pub fn start(shared: &Arc<Shared>) -> Timers {
        let limits = &shared.limits;
        let plan = TimerPlan::new(
            shared.app.timers(),
            limits.max_timers,
            limits.timer_min_interval_ms,
        );
        for (target, why) in &plan.refused {
            tracing::warn!(plugin = shared_name(shared, target.plugin), "{why}");
        }
        let epoch = Instant::now();
        let ms = move || epoch.elapsed().as_millis() as u64;
        let tasks = plan
            .accepted
            .into_iter()
            .map(|(interval_ms, target)| {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let mut due = ms().saturating_add(u64::from(interval_ms.max(1)));
                    loop {
                        tokio::time::sleep_until(epoch + Duration::from_millis(due)).await;
                        // A call yields while it computes, so a slow timer handler
                        // shares the worker with the connections instead of holding it.
                        let now = Event::Tick(unix_ms());
                        let call = PoolInvoker(&shared.pools).on_event(target, &now).await;
                        if let Err(e) = call {
                            let plugin = shared_name(&shared, target.plugin);
                            tracing::error!(
                                plugin,
                                "timer handler failed ({e}); the timer keeps running"
                            );
                        }
                        due = next_due(due, interval_ms, ms());
                    }
                })
            })
            .collect();
        Timers { tasks }
    }

    /// Stops every timer (a tick already running finishes on its own).
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn shared_name(shared: &Shared, plugin: usize) -> &str {
    shared.pools.get(plugin).map_or("?", |p| p.name())
}
