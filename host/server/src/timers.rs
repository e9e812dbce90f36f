//! Plugin timers (`app.every`): each registered interval gets a task that delivers
//! `tick(now)` to its handler, the first one interval after start-up (like
//! `setInterval`). A tick never overlaps the previous one of the same timer; when the
//! handler falls behind, later ticks are delayed rather than bunched. A handler that
//! fails is logged (the pool replaces its instance) and the timer keeps going.

use std::sync::Arc;
use std::time::Duration;

use berth_core::model::Event;
use berth_core::pipeline::Invoker;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::pool::PoolInvoker;
use crate::Shared;

/// The running timers of a server.
pub struct Timers {
    tasks: Vec<JoinHandle<()>>,
}

impl Timers {
    /// Starts one task per registered timer.
    pub fn start(shared: &Arc<Shared>) -> Timers {
        let tasks = shared
            .app
            .timers()
            .map(|(interval_ms, target)| {
                let shared = shared.clone();
                let period = Duration::from_millis(u64::from(interval_ms.max(1)));
                tokio::spawn(async move {
                    let start = tokio::time::Instant::now() + period;
                    let mut ticks = tokio::time::interval_at(start, period);
                    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    loop {
                        ticks.tick().await;
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
