//! The single-threaded loop: [`Server::run`] serves a fixed number of connection *slots*
//! plus the plugins' timers.
//!
//! ```text
//! run ─┬─ slot 0: accept → serve HTTP (keep-alive) → maybe WebSocket / SSE → close → accept …
//!      ├─ slot 1 …            (all slots are polled by the one future `run` returns)
//!      └─ timers: sleep until the next tick, deliver `tick` events
//! ```
//!
//! Nothing is spawned: `run` is one future, so the same code runs under embassy's
//! executor on a microcontroller, under a plain poll loop on bare metal, and under
//! async-io's `block_on` on a desktop.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;

use berth_core::host::Level;
use berth_core::model::{Event, EventKind, ServerInfo};
use berth_core::timers::{Schedule, TimerPlan};
use embassy_futures::select::select;

use crate::net::{Connection, Listener, Platform};
use crate::server::Server;

impl<P: Platform> Server<P> {
    /// Runs `server-start` hooks, serves `listener` until `shutdown` completes, then runs
    /// `server-stop` hooks. `http_addr` is what `server-start` reports.
    pub async fn run<L: Listener>(&self, listener: &L, http_addr: &str, shutdown: impl Future) {
        let info = ServerInfo {
            http_addr: http_addr.into(),
            ws_addr: None,
        };
        self.app
            .broadcast_event(
                EventKind::ServerStart,
                &Event::ServerStart(info),
                &mut self.invoker(),
            )
            .await;
        self.log(Level::Info, format_args!("listening on http://{http_addr}"));

        let mut tasks: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
        for slot in 0..self.options.slots.max(1) {
            tasks.push(Box::pin(self.slot(listener, slot)));
        }
        tasks.push(Box::pin(self.timers()));
        let all = core::future::poll_fn(|cx| {
            for task in tasks.iter_mut() {
                let _ = task.as_mut().poll(cx);
            }
            Poll::<()>::Pending
        });
        let _ = select(all, shutdown).await;

        self.log(Level::Info, format_args!("shutting down"));
        self.app
            .broadcast_event(
                EventKind::ServerStop,
                &Event::ServerStop,
                &mut self.invoker(),
            )
            .await;
    }

    /// One slot: accept, serve, close, forever.
    async fn slot<L: Listener>(&self, listener: &L, slot: usize) {
        loop {
            let mut conn = match listener.accept(slot).await {
                Ok(conn) => conn,
                Err(e) => {
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
    /// schedule and within its bounds (refused timers are logged once, here).
    async fn timers(&self) {
        let limits = &self.options.limits;
        let plan = TimerPlan::new(
            self.app.timers(),
            limits.max_timers,
            limits.timer_min_interval_ms,
        );
        for (target, why) in &plan.refused {
            let plugin = self
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
                let mut invoker = self.invoker();
                let _ = berth_core::pipeline::Invoker::on_event(&mut invoker, target, &tick).await;
            }
            // Handlers slower than their interval leave the next tick already due: let
            // the connections run before it, or one timer would freeze the loop.
            embassy_futures::yield_now().await;
            next = schedule.deadline().unwrap_or(u64::MAX);
        }
    }
}
