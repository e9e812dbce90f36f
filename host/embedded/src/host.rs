//! The embedded [`HostApi`]: the platform's clock, randomness, log, pins and heap
//! figures, and glue to berth-core's shared registries — the state store
//! ([`MemoryStore`]), the WebSocket registry ([`WsRegistry`]) and the SSE table
//! ([`SseTable`]) — which hold every rule and bound; this file only locks them.
//!
//! A plugin call runs synchronously inside one connection's future; what it sends to
//! another connection is queued in the registry and that connection's future is woken
//! (through its `Waker`) to write it.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::{Context, Poll};

use berth_core::device::{DeviceError, MemoryStats};
use berth_core::host::{HostApi, Level, WsError};
use berth_core::limits::Limits;
use berth_core::model::WsPayload;
use berth_core::sse::{format_event, Heartbeat, SsePoll, SseSettings, SseTable};
use berth_core::state::{Clock, MemoryStore, Store};
use berth_core::ws_registry::{Outbox, WsRegistry};
use spin::Mutex;

use crate::net::Platform;

/// Something queued for a WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A message.
    Message(WsPayload),
    /// The close handshake to start, once everything before it was written.
    Close(u16, String),
}

fn payload_size(p: &WsPayload) -> usize {
    match p {
        WsPayload::Text(t) => t.len(),
        WsPayload::Binary(b) => b.len(),
    }
}

/// One Server-Sent Event in wire format (berth-core's [`format_event`]).
pub fn sse_event(data: &str, event: Option<&str>, id: Option<&str>) -> String {
    format_event(data, event, id)
}

/// The platform's monotonic clock, for state expiry.
pub struct PlatformClock<P: Platform>(Arc<P>);

impl<P: Platform> Clock for PlatformClock<P> {
    fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }
}

/// What every plugin on this host shares.
pub struct EmbeddedHost<P: Platform> {
    platform: Arc<P>,
    store: MemoryStore<PlatformClock<P>>,
    hub: Mutex<WsRegistry<WsPayload>>,
    sse: Mutex<SseTable<String>>,
}

impl<P: Platform> EmbeddedHost<P> {
    /// A host over `platform`, bounded by `limits` (state quotas, send queues, SSE).
    pub fn new(platform: Arc<P>, limits: &Limits) -> EmbeddedHost<P> {
        let sse = SseSettings {
            replay_bytes: limits.sse_replay_bytes,
            queue_bytes: limits.ws_send_queue,
            max_topics: limits.sse_max_topics,
            ..SseSettings::default()
        };
        EmbeddedHost {
            store: MemoryStore::new(limits.state(), PlatformClock(platform.clone())),
            platform,
            // Connection slots already bound the WebSockets; the registry need not.
            hub: Mutex::new(
                WsRegistry::new(usize::MAX, limits.ws_send_queue)
                    .with_budget(limits.ws_max_data, limits.ws_max_rooms),
            ),
            sse: Mutex::new(SseTable::new(sse)),
        }
    }

    /// Uses `settings` for SSE (`[sse]`) instead of the defaults `new` derives.
    pub fn with_sse(self, settings: SseSettings) -> EmbeddedHost<P> {
        EmbeddedHost {
            sse: Mutex::new(SseTable::new(settings)),
            ..self
        }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Registers a new WebSocket connection and returns its id.
    pub fn ws_open(&self) -> u64 {
        // The registry's cap is `usize::MAX`: it cannot be reached.
        self.hub.lock().open().unwrap_or(0)
    }

    /// Forgets a connection (its rooms and data go with it).
    pub fn ws_end(&self, conn: u64) {
        self.hub.lock().end(conn);
    }

    /// Asks every WebSocket session to close with `code` and `reason` (shutdown); a
    /// close already requested wins.
    pub fn ws_close_all(&self, code: u16, reason: &str) {
        self.hub.lock().close_all(code, reason);
    }

    /// The number of open WebSocket connections.
    pub fn ws_count(&self) -> usize {
        self.hub.lock().len()
    }

    /// Takes what is queued for `conn`: messages, then (alone) the close to send.
    /// `Err(())` when the connection is gone.
    pub fn ws_poll(&self, conn: u64, cx: &mut Context<'_>) -> Poll<Result<Vec<Outgoing>, ()>> {
        self.hub.lock().poll(conn, cx).map(|next| match next {
            Outbox::Messages(m) => Ok(m.into_iter().map(Outgoing::Message).collect()),
            Outbox::Close(code, reason) => Ok(alloc::vec![Outgoing::Close(code, reason)]),
            Outbox::Gone => Err(()),
        })
    }

    /// Subscribes to an SSE topic; returns the subscription id.
    pub fn sse_subscribe(&self, topic: &str) -> u64 {
        self.sse_subscribe_after(topic, None).0
    }

    /// Subscribes to an SSE topic; returns the subscription id and the kept events
    /// published after the one with id `last_event_id` (`Last-Event-ID`).
    pub fn sse_subscribe_after(
        &self,
        topic: &str,
        last_event_id: Option<&str>,
    ) -> (u64, Vec<String>) {
        // A closed table (never, here: the loop ends instead) subscribes to nothing.
        self.sse
            .lock()
            .subscribe(topic, last_event_id)
            .unwrap_or_default()
    }

    /// The heartbeat schedule of a subscription opened at `now_ms`.
    pub fn sse_heartbeat(&self, now_ms: u64) -> Heartbeat {
        Heartbeat::new(now_ms, self.sse.lock().settings().heartbeat_ms)
    }

    /// Ends an SSE subscription; its topic goes too when nothing is left in it.
    pub fn sse_end(&self, sub: u64) {
        self.sse.lock().unsubscribe(sub);
    }

    /// Takes the events queued for a subscription; `Err(())` when it fell behind and
    /// was dropped.
    pub fn sse_poll(&self, sub: u64, cx: &mut Context<'_>) -> Poll<Result<Vec<String>, ()>> {
        self.sse.lock().poll(sub, cx).map(|next| match next {
            SsePoll::Events(events) => Ok(events),
            SsePoll::Lagged | SsePoll::Ended => Err(()),
        })
    }

    /// Ends every SSE stream and refuses new events (shutdown).
    pub fn sse_close(&self) {
        self.sse.lock().close();
    }

    /// SSE topics kept right now (for tests and diagnostics).
    pub fn sse_topics(&self) -> usize {
        self.sse.lock().topic_count()
    }
}

impl<P: Platform> HostApi for EmbeddedHost<P> {
    fn log(&self, plugin: &str, level: Level, message: &str) {
        self.platform.log(plugin, level, format_args!("{message}"));
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn now_ms(&self) -> u64 {
        self.platform.unix_ms()
    }

    fn random_u64(&self) -> u64 {
        self.platform.random_u64()
    }

    fn ws_send(&self, conn: u64, msg: WsPayload) -> Result<(), WsError> {
        let size = payload_size(&msg);
        self.hub.lock().send(conn, msg, size)
    }

    fn ws_close(&self, conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
        self.hub.lock().close(conn, code, reason)
    }

    fn ws_data_get(&self, conn: u64, key: &str) -> Option<String> {
        self.hub.lock().data_get(conn, key)
    }

    fn ws_data_set(&self, conn: u64, key: &str, value: Option<String>) -> Result<(), WsError> {
        self.hub.lock().data_set(conn, key, value)
    }

    fn ws_join(&self, conn: u64, room: &str) -> Result<(), WsError> {
        self.hub.lock().join(conn, room)
    }

    fn ws_leave(&self, conn: u64, room: &str) -> Result<(), WsError> {
        self.hub.lock().leave(conn, room)
    }

    fn ws_broadcast(&self, room: Option<&str>, msg: WsPayload, except: Option<u64>) -> u32 {
        let size = payload_size(&msg);
        self.hub.lock().broadcast(room, &msg, size, except)
    }

    fn ws_room_members(&self, room: &str) -> Vec<u64> {
        self.hub.lock().room_members(room)
    }

    fn publish(&self, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
        let text = format_event(data, event, id);
        let size = text.len();
        // A dropped subscriber's session sees `Err` on its next poll (it was woken).
        self.sse.lock().publish(topic, text, size, id).reached
    }

    fn gpio_write(&self, plugin: &str, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.platform.gpio_write(pin, high)?;
        let level = if high { "high" } else { "low" };
        self.platform.log(
            plugin,
            Level::Info,
            format_args!("gpio pin={pin} level={level}"),
        );
        Ok(())
    }

    fn gpio_read(&self, _plugin: &str, pin: u8) -> Result<bool, DeviceError> {
        self.platform.gpio_read(pin)
    }

    fn memory(&self) -> MemoryStats {
        MemoryStats {
            free: self.platform.heap_free().unwrap_or(0),
            used: self.platform.heap_used().unwrap_or(0),
        }
    }

    /// The embedded host keeps nothing only for speed (one instance per plugin, fixed
    /// buffers), so this frees the one thing that lingers: state entries that expired
    /// and that nobody has touched since (otherwise they go at the next `state-set`).
    fn memory_collect(&self, plugin: &str) {
        let purged = self.store.purge_expired();
        self.platform.log(
            plugin,
            Level::Debug,
            format_args!("memory-collect: {purged} expired state entries freed"),
        );
    }
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
