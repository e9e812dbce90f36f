//! Tests for plugin authors: [`TestApp`] runs a plugin's routes, middleware, hooks,
//! WebSocket handlers and timers against an in-memory host, so `cargo test` in the
//! plugin's crate checks its behaviour without a server.
//!
//! On a native target (where `cargo test` runs) the SDK's host calls — [`state`],
//! [`ws`](crate::ws), [`publish`](crate::publish), [`now_ms`](crate::now_ms), logs, pins
//! — go to this in-memory host, one per test thread, so a test may also call them
//! directly to arrange or inspect state. The host's request rules that a plugin sees
//! are followed: middleware in order with `stop` and the onion of `after`s, response
//! headers from `before`s merged, static segments before `<param>`s, 404/405 as JSON,
//! `HEAD` answered by the `GET` route without a body, the `ws:*` hooks before a
//! WebSocket route's handlers, and the last reply winning. What only a server does
//! (sockets, framing, limits, files) is not here: the black-box tests of Berth itself
//! cover that.
//!
//! ```
//! use berth_sdk::prelude::*;
//! use berth_sdk::testing::TestApp;
//!
//! struct Hello;
//! impl Plugin for Hello {
//!     fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
//!         app.get("/hello/<name>", |req| json!({"hello": req.param("name")}));
//!         app.websocket("/ws").on_message(|_ws, m| Outcome::reply(format!("Echo: {}", m.text().unwrap_or(""))));
//!         Ok(())
//!     }
//! }
//!
//! let app = TestApp::new::<Hello>();
//! let resp = app.get("/hello/ada").send();
//! assert_eq!(resp.status(), 200);
//! assert_eq!(resp.json::<Value>()["hello"], "ada");
//! assert_eq!(app.get("/nope").send().status(), 404);
//!
//! let ws = app.ws("/ws").expect("accepted");
//! ws.send("hi");
//! assert_eq!(ws.recv_text().as_deref(), Some("Echo: hi"));
//! ```

pub(crate) mod host;
mod http;
mod router;
mod socket;

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::time::Duration;

use crate::bindings::berth::plugin::types::Registration;
use crate::{rt, Event, EventKind, Level, Plugin, ServerInfo};

pub use host::Published;
pub use http::{TestRequest, TestResponse};
pub use socket::{Refused, TestWs};

thread_local! {
    /// Whether a [`TestApp`] is alive on this thread (the host and the handler table
    /// are per thread, so two at once would share them).
    static ALIVE: Cell<bool> = const { Cell::new(false) };
}

/// One plugin, set up against this thread's fresh in-memory host.
///
/// Only one `TestApp` may be alive per thread (cargo runs each test on its own thread).
pub struct TestApp {
    registration: Registration,
    /// Next due time (Unix ms) of each timer, by its index in the registration.
    timers: RefCell<Vec<u64>>,
    next_request: Cell<u64>,
    // The host and handlers are thread-locals: keep the app on its thread.
    _not_send: PhantomData<*const ()>,
}

impl TestApp {
    /// Sets up `P` with an empty config. Panics when its `setup` fails.
    pub fn new<P: Plugin>() -> TestApp {
        match TestApp::with_config::<P>(&[]) {
            Ok(app) => app,
            Err(e) => panic!("the plugin's setup failed: {e}"),
        }
    }

    /// Sets up `P` with these config pairs (as the host passes a `[plugin.<name>]`
    /// table: scalars as their text, arrays and tables as JSON); `Err` is what `setup`
    /// returned.
    pub fn with_config<P: Plugin>(config: &[(&str, &str)]) -> Result<TestApp, String> {
        if ALIVE.with(|a| a.replace(true)) {
            panic!("one TestApp per thread: drop the other one first");
        }
        host::reset();
        let pairs = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let registration = match rt::setup::<P>(pairs, &crate_name::<P>()) {
            Ok(r) => r,
            Err(e) => {
                ALIVE.with(|a| a.set(false));
                return Err(e);
            }
        };
        let now = crate::now_ms();
        let timers = registration
            .timers
            .iter()
            .map(|t| now + u64::from(t.interval_ms))
            .collect();
        Ok(TestApp {
            registration,
            timers: RefCell::new(timers),
            next_request: Cell::new(1),
            _not_send: PhantomData,
        })
    }

    /// What the plugin declared in `setup`.
    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Runs the `server:start` hooks, as a server on `127.0.0.1:8000` without a
    /// dedicated WebSocket port.
    pub fn start(&self) {
        self.start_with(ServerInfo {
            http_addr: "127.0.0.1:8000".into(),
            ws_addr: None,
        })
    }

    /// Runs the `server:start` hooks with these addresses.
    pub fn start_with(&self, info: ServerInfo) {
        self.broadcast(EventKind::ServerStart, &Event::ServerStart(info));
    }

    /// Runs the `server:stop` hooks.
    pub fn stop(&self) {
        self.broadcast(EventKind::ServerStop, &Event::ServerStop);
    }

    fn broadcast(&self, kind: EventKind, event: &Event) {
        for hook in self.registration.hooks.iter().filter(|h| h.event == kind) {
            rt::on_event(hook.handler, event.clone());
        }
    }

    /// Moves the host's clock on by `by`, firing every timer that falls due on the way,
    /// in time order, each with the time it was due.
    pub fn advance(&self, by: Duration) {
        let until =
            crate::now_ms().saturating_add(u64::try_from(by.as_millis()).unwrap_or(u64::MAX));
        loop {
            let next = {
                let timers = self.timers.borrow();
                timers
                    .iter()
                    .enumerate()
                    .filter(|(_, due)| **due <= until)
                    .min_by_key(|(_, due)| **due)
                    .map(|(i, due)| (i, *due))
            };
            let Some((i, due)) = next else { break };
            host::with(|h| h.now_ms = h.now_ms.max(due));
            let timer = &self.registration.timers[i];
            self.timers.borrow_mut()[i] = due + u64::from(timer.interval_ms);
            rt::on_event(timer.handler, Event::Tick(due));
        }
        host::with(|h| h.now_ms = h.now_ms.max(until));
    }

    /// Sets the host's clock (Unix milliseconds) without firing timers.
    pub fn set_now_ms(&self, now: u64) {
        host::with(|h| h.now_ms = now);
    }

    /// Limits each state namespace to `max` keys (the host's `[limits] state_max_keys`),
    /// so a test can see how the plugin handles a refused write.
    pub fn limit_state_keys(&self, max: usize) {
        host::with(|h| h.max_keys = Some(max));
    }

    /// Makes the state store unreachable (`true`) or reachable again, as a cluster
    /// node's is while its Redis is down: the `try_` calls, `try_set` and `incr` fail
    /// with [`StateError::Unavailable`](crate::state::StateError::Unavailable) (which
    /// answers 503), and the others answer "missing", `false` or no keys.
    pub fn state_unavailable(&self, unreachable: bool) {
        host::with(|h| h.unavailable = unreachable);
    }

    /// Grants GPIO `pin` to the plugin (`[grants.<plugin>] gpio`).
    pub fn grant_gpio(&self, pin: u8) {
        host::with(|h| {
            h.granted_pins.insert(pin);
        });
    }

    /// The level last written to GPIO `pin`, if any.
    pub fn gpio(&self, pin: u8) -> Option<bool> {
        host::with(|h| h.pins.get(&pin).copied())
    }

    /// How often the plugin asked the host to collect memory.
    pub fn memory_collects(&self) -> u32 {
        host::with(|h| h.collects)
    }

    /// Every line the plugin logged, in order.
    pub fn logs(&self) -> Vec<(Level, String)> {
        host::with(|h| h.logs.clone())
    }

    /// Whether some logged line contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        host::with(|h| h.logs.iter().any(|(_, l)| l.contains(text)))
    }

    /// Every Server-Sent Event the plugin published, in order.
    pub fn published(&self) -> Vec<Published> {
        host::with(|h| h.published.clone())
    }

    fn request_id(&self) -> u64 {
        let id = self.next_request.get();
        self.next_request.set(id + 1);
        id
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        ALIVE.with(|a| a.set(false));
    }
}

/// The plugin's name when it sets no [`Plugin::NAME`]: its crate's name, from the type's
/// path (`rate_limit::RateLimit` → `rate-limit`).
fn crate_name<P>() -> String {
    let path = std::any::type_name::<P>();
    path.split("::").next().unwrap_or(path).replace('_', "-")
}
