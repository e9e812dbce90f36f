//! The single-threaded loop: [`Server::run`] serves a fixed number of connection *slots*
//! plus the plugins' timers.
//!
//! ```text
//! run ─┬─ slot 0: accept → serve HTTP (keep-alive) → maybe WebSocket / SSE → close → accept …
//!      ├─ slot 1 …            (all slots are polled by the one future `run` returns)
//!      └─ timers: sleep until the next tick, deliver `tick` events
//! ```
//!
//! A shutdown ends each slot where it stands: an idle one at once, a busy one after its
//! connection (see [`Server::run`]).
//!
//! Nothing is spawned: `run` is one future, so the same code runs under embassy's
//! executor on a microcontroller, under a plain poll loop on bare metal, and under
//! async-io's `block_on` on a desktop.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use berth_core::host::Level;
use berth_core::model::{Event, EventKind, ServerInfo};
use berth_core::timers::{Schedule, TimerPlan};
use berth_core::ws_registry::CLOSE_SHUTDOWN;
use embassy_futures::select::{select, Either};

use crate::net::{Connection, Listener, Platform};
use crate::server::Server;

/// A connection slot's task: it ends only at a shutdown.
type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Polls every slot task still running; `true` once none is.
fn poll_slots(slots: &mut [Option<Task<'_>>], cx: &mut Context<'_>) -> bool {
    let mut done = true;
    for slot in slots.iter_mut() {
        if let Some(task) = slot {
            if task.as_mut().poll(cx).is_ready() {
                *slot = None;
            } else {
                done = false;
            }
        }
    }
    done
}

impl<P: Platform> Server<P> {
    /// Runs `server-start` hooks, serves `listener` until `shutdown` completes, then
    /// stops as the desktop server does: the listener closes, idle connections close,
    /// every WebSocket is closed with 1001 and every SSE stream ends, open requests get
    /// up to `shutdown_timeout` to finish (with `Connection: close`), and what is left
    /// after that is dropped. Last, `server-stop` hooks run. `http_addr` is what
    /// `server-start` reports.
    pub async fn run<L: Listener>(&self, listener: &L, http_addr: &str, shutdown: impl Future) {
        *self.http_addr.borrow_mut() = http_addr.into();
        let info = ServerInfo {
            http_addr: http_addr.into(),
            ws_addr: None,
        };
        let live = self.live();
        live.app
            .broadcast_event(
                EventKind::ServerStart,
                &Event::ServerStart(info),
                &mut self.invoker(&live),
            )
            .await;
        drop(live);
        self.log(Level::Info, format_args!("listening on http://{http_addr}"));

        let mut slots: Vec<Option<Task<'_>>> = (0..self.options.slots.max(1))
            .map(|slot| Some(Box::pin(self.slot(listener, slot)) as Task<'_>))
            .collect();
        let mut timers = Box::pin(self.timers());
        // The slots first: a swap made by one of them is then seen by the timers at once.
        let serving = core::future::poll_fn(|cx| {
            poll_slots(&mut slots, cx);
            let _ = timers.as_mut().poll(cx);
            Poll::<()>::Pending
        });
        let _ = select(serving, shutdown).await;
        drop(timers);

        let grace_ms = self.options.shutdown_timeout_ms;
        self.log(
            Level::Info,
            format_args!(
                "shutting down ({} connections; waiting up to {grace_ms} ms for them)",
                self.busy.get()
            ),
        );
        // From here every slot is polled again at once, so each sees the drain.
        self.begin_drain();
        listener.close();
        self.host.ws_close_all(CLOSE_SHUTDOWN.0, CLOSE_SHUTDOWN.1);
        self.host.sse_close();
        let finished = core::future::poll_fn(|cx| {
            if poll_slots(&mut slots, cx) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let grace = self.platform().now_ms().saturating_add(grace_ms);
        if let Either::Second(()) = select(finished, self.platform().sleep_until(grace)).await {
            self.log(
                Level::Warn,
                format_args!(
                    "{} connections still open after {grace_ms} ms: closing them",
                    self.busy.get()
                ),
            );
        }
        // Dropping a slot's task drops its connection, which closes it unanswered.
        drop(slots);

        let live = self.live();
        live.app
            .broadcast_event(
                EventKind::ServerStop,
                &Event::ServerStop,
                &mut self.invoker(&live),
            )
            .await;
    }

    /// One slot: accept, serve, close, until a shutdown.
    async fn slot<L: Listener>(&self, listener: &L, slot: usize) {
        loop {
            // The drain first: once it has begun, a closed listener's error is no news.
            let mut conn = match select(self.drained(), listener.accept(slot)).await {
                Either::First(()) => return,
                Either::Second(Ok(conn)) => conn,
                Either::Second(Err(e)) => {
                    // Out of sockets and the like: back off, keep serving.
                    self.log(Level::Warn, format_args!("accept failed: {e}"));
                    let at = self.platform().now_ms() + 50;
                    self.platform().sleep_until(at).await;
                    continue;
                }
            };
            let limits = &self.options.limits;
            let busy = self.busy.get();
            if busy >= self.capacity() {
                self.log(
                    Level::Warn,
                    format_args!("{busy} connections: refusing with 503"),
                );
                crate::io::refuse(&mut conn).await;
                conn.close().await;
                continue;
            }
            self.busy.set(busy + 1);
            let warn_at = limits.connection_warning_at().min(self.capacity());
            if busy + 1 >= warn_at && !self.warned.replace(true) {
                self.log(
                    Level::Warn,
                    format_args!(
                        "{} of {} connections in use (80 % of max_connections)",
                        busy + 1,
                        self.capacity()
                    ),
                );
            }
            crate::conn::serve(self, &mut conn).await;
            conn.close().await;
            let now = self.busy.get().saturating_sub(1);
            self.busy.set(now);
            if now < limits.connection_warning_at().min(self.capacity()) {
                self.warned.set(false);
            }
        }
    }

    /// Delivers `tick` events to the plugins' timers, forever, on berth-core's
    /// schedule and within its bounds (refused timers are logged once per plan). A swap
    /// of the plugin set makes a new plan: the timers of a pushed plugin start, those of
    /// a removed one stop.
    async fn timers(&self) {
        loop {
            let generation = self.generation.get();
            let live = self.live();
            let swapped = core::future::poll_fn(|_| {
                // No waker: `run` polls the timers after the slots, where swaps happen.
                if self.generation.get() != generation {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            let _ = select(swapped, self.timers_of(&live)).await;
        }
    }

    async fn timers_of(&self, live: &crate::server::Live) {
        let limits = &self.options.limits;
        let plan = TimerPlan::new(
            live.app.timers(),
            limits.max_timers,
            limits.timer_min_interval_ms,
        );
        for (target, why) in &plan.refused {
            let plugin = live
                .app
                .plugins()
                .get(target.plugin)
                .map_or("?", |p| &p.name);
            self.platform()
                .log(plugin, Level::Warn, format_args!("{why}"));
        }
        let mut schedule = Schedule::new(&plan, self.platform().now_ms());
        let Some(mut next) = schedule.deadline() else {
            return core::future::pending().await;
        };
        loop {
            self.platform().sleep_until(next).await;
            for target in schedule.take_due(self.platform().now_ms()) {
                let tick = Event::Tick(self.platform().unix_ms());
                let mut invoker = self.invoker(live);
                let _ = berth_core::pipeline::Invoker::on_event(&mut invoker, target, &tick).await;
            }
            // Handlers slower than their interval leave the next tick already due: let
            // the connections run before it, or one timer would freeze the loop.
            embassy_futures::yield_now().await;
            next = schedule.deadline().unwrap_or(u64::MAX);
        }
    }
}
