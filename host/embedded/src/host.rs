//! The embedded [`HostApi`]: the platform's clock, randomness, log, pins and heap
//! figures, the in-memory [`KvStore`], and the hub of open WebSocket connections and SSE
//! subscribers that `ws-*` and `publish` reach.
//!
//! A plugin call runs synchronously inside one connection's future; what it sends to
//! another connection is queued in the [`Hub`] and that connection's future is woken to
//! write it. Queues are bounded by `ws_send_queue` bytes: a client that does not read is
//! disconnected (1008) instead of growing the heap.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::{Context, Poll, Waker};

use berth_core::device::{DeviceError, MemoryStats};
use berth_core::host::{HostApi, Level, WsError};
use berth_core::model::WsPayload;
use berth_core::state::{add_to_counter, StateError, Store};
use spin::Mutex;

use crate::net::Platform;

/// Something queued for a WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A message.
    Message(WsPayload),
    /// A close handshake a plugin asked for.
    Close(u16, String),
}

struct Queue<T> {
    items: VecDeque<T>,
    bytes: usize,
    overflow: bool,
    waker: Option<Waker>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            items: VecDeque::new(),
            bytes: 0,
            overflow: false,
            waker: None,
        }
    }
}

impl<T> Queue<T> {
    fn push(&mut self, item: T, size: usize, cap: usize) -> bool {
        if self.overflow || self.bytes.saturating_add(size) > cap {
            self.overflow = true;
        } else {
            self.items.push_back(item);
            self.bytes += size;
        }
        if let Some(w) = &self.waker {
            w.wake_by_ref();
        }
        !self.overflow
    }

    /// Takes everything queued, or registers the waker. `Err(())` once it overflowed.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, ()>> {
        if self.overflow {
            return Poll::Ready(Err(()));
        }
        if self.items.is_empty() {
            self.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        self.bytes = 0;
        Poll::Ready(Ok(self.items.drain(..).collect()))
    }
}

#[derive(Default)]
struct WsConn {
    queue: Queue<Outgoing>,
    data: BTreeMap<String, String>,
    rooms: BTreeSet<String>,
}

struct Subscriber {
    topic: String,
    queue: Queue<String>,
}

/// Open WebSocket connections and SSE subscribers.
#[derive(Default)]
pub struct Hub {
    conns: BTreeMap<u64, WsConn>,
    subs: BTreeMap<u64, Subscriber>,
    next_id: u64,
}

fn payload_size(p: &WsPayload) -> usize {
    match p {
        WsPayload::Text(t) => t.len(),
        WsPayload::Binary(b) => b.len(),
    }
}

/// One Server-Sent Event in wire format: optional `event:` and `id:`, a `data:` line per
/// line of `data`, and the blank line that ends it.
pub fn sse_event(data: &str, event: Option<&str>, id: Option<&str>) -> String {
    let mut out = String::new();
    // A field value cannot contain a line break: those would start new fields.
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    if let Some(event) = event {
        out.push_str("event: ");
        out.push_str(&clean(event));
        out.push('\n');
    }
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(&clean(id));
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    out
}

/// What every plugin on this host shares.
pub struct EmbeddedHost<P: Platform> {
    platform: Arc<P>,
    store: KvStore<P>,
    hub: Mutex<Hub>,
    send_queue: usize,
}

impl<P: Platform> EmbeddedHost<P> {
    /// A host over `platform`; `send_queue` bounds each connection's queued bytes.
    pub fn new(platform: Arc<P>, send_queue: usize) -> EmbeddedHost<P> {
        EmbeddedHost {
            store: KvStore::new(platform.clone()),
            platform,
            hub: Mutex::new(Hub::default()),
            send_queue,
        }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Registers a new WebSocket connection and returns its id.
    pub fn ws_open(&self) -> u64 {
        let mut hub = self.hub.lock();
        hub.next_id += 1;
        let id = hub.next_id;
        hub.conns.insert(id, WsConn::default());
        id
    }

    /// Forgets a connection (its rooms and data go with it).
    pub fn ws_end(&self, conn: u64) {
        self.hub.lock().conns.remove(&conn);
    }

    /// The number of open WebSocket connections.
    pub fn ws_count(&self) -> usize {
        self.hub.lock().conns.len()
    }

    /// Takes what is queued for `conn`; `Err(())` when its queue overflowed (or it is gone).
    pub fn ws_poll(&self, conn: u64, cx: &mut Context<'_>) -> Poll<Result<Vec<Outgoing>, ()>> {
        match self.hub.lock().conns.get_mut(&conn) {
            Some(c) => c.queue.poll(cx),
            None => Poll::Ready(Err(())),
        }
    }

    /// Subscribes to an SSE topic; returns the subscription id.
    pub fn sse_subscribe(&self, topic: &str) -> u64 {
        let mut hub = self.hub.lock();
        hub.next_id += 1;
        let id = hub.next_id;
        let sub = Subscriber {
            topic: topic.into(),
            queue: Queue::default(),
        };
        hub.subs.insert(id, sub);
        id
    }

    /// Ends an SSE subscription.
    pub fn sse_end(&self, sub: u64) {
        self.hub.lock().subs.remove(&sub);
    }

    /// Takes the events queued for a subscription; `Err(())` when it overflowed.
    pub fn sse_poll(&self, sub: u64, cx: &mut Context<'_>) -> Poll<Result<Vec<String>, ()>> {
        match self.hub.lock().subs.get_mut(&sub) {
            Some(s) => s.queue.poll(cx),
            None => Poll::Ready(Err(())),
        }
    }

    fn with_conn<R>(&self, conn: u64, f: impl FnOnce(&mut WsConn) -> R) -> Result<R, WsError> {
        self.hub
            .lock()
            .conns
            .get_mut(&conn)
            .map(f)
            .ok_or(WsError::NoSuchConnection)
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
        let cap = self.send_queue;
        let size = payload_size(&msg);
        match self.with_conn(conn, |c| c.queue.push(Outgoing::Message(msg), size, cap))? {
            true => Ok(()),
            false => Err(WsError::QueueFull),
        }
    }

    fn ws_close(&self, conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
        let close = Outgoing::Close(code, reason.into());
        // A close always fits: it is what ends the queue.
        self.with_conn(conn, |c| c.queue.push(close, 0, usize::MAX))
            .map(|_| ())
    }

    fn ws_data_get(&self, conn: u64, key: &str) -> Option<String> {
        self.with_conn(conn, |c| c.data.get(key).cloned())
            .ok()
            .flatten()
    }

    fn ws_data_set(&self, conn: u64, key: &str, value: Option<String>) -> Result<(), WsError> {
        self.with_conn(conn, |c| match value {
            Some(v) => {
                c.data.insert(key.into(), v);
            }
            None => {
                c.data.remove(key);
            }
        })
    }

    fn ws_join(&self, conn: u64, room: &str) -> Result<(), WsError> {
        self.with_conn(conn, |c| {
            c.rooms.insert(room.into());
        })
    }

    fn ws_leave(&self, conn: u64, room: &str) -> Result<(), WsError> {
        self.with_conn(conn, |c| {
            c.rooms.remove(room);
        })
    }

    fn ws_broadcast(&self, room: Option<&str>, msg: WsPayload, except: Option<u64>) -> u32 {
        let (cap, size) = (self.send_queue, payload_size(&msg));
        let mut hub = self.hub.lock();
        let mut reached = 0;
        for (id, conn) in hub.conns.iter_mut() {
            let member = room.is_none_or(|r| conn.rooms.contains(r));
            if member
                && Some(*id) != except
                && conn.queue.push(Outgoing::Message(msg.clone()), size, cap)
            {
                reached += 1;
            }
        }
        reached
    }

    fn ws_room_members(&self, room: &str) -> Vec<u64> {
        let hub = self.hub.lock();
        hub.conns
            .iter()
            .filter(|(_, c)| c.rooms.contains(room))
            .map(|(id, _)| *id)
            .collect()
    }

    fn publish(&self, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
        let text = sse_event(data, event, id);
        let cap = self.send_queue;
        let mut hub = self.hub.lock();
        let mut reached = 0;
        for sub in hub.subs.values_mut().filter(|s| s.topic == topic) {
            if sub.queue.push(text.clone(), text.len(), cap) {
                reached += 1;
            }
        }
        reached
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

struct Entry {
    value: Vec<u8>,
    expires_ms: Option<u64>,
}

/// The in-memory key-value store (design §7's embedded default): a `BTreeMap` behind a
/// spin lock, TTLs on the platform's monotonic clock.
pub struct KvStore<P: Platform> {
    platform: Arc<P>,
    map: Mutex<BTreeMap<String, Entry>>,
}

impl<P: Platform> KvStore<P> {
    /// An empty store.
    pub fn new(platform: Arc<P>) -> KvStore<P> {
        KvStore {
            platform,
            map: Mutex::new(BTreeMap::new()),
        }
    }

    fn live(&self, e: &Entry, now: u64) -> bool {
        e.expires_ms.is_none_or(|at| at > now)
    }

    /// Drops every expired entry; returns how many there were.
    pub fn purge_expired(&self) -> usize {
        let now = self.platform.now_ms();
        let mut map = self.map.lock();
        let before = map.len();
        map.retain(|_, e| e.expires_ms.is_none_or(|at| at > now));
        before - map.len()
    }
}

impl<P: Platform> Store for KvStore<P> {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = self.platform.now_ms();
        let mut map = self.map.lock();
        match map.get(key) {
            Some(e) if self.live(e, now) => Some(e.value.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    fn set(&self, key: &str, value: Vec<u8>, ttl_ms: Option<u64>) {
        let now = self.platform.now_ms();
        let mut map = self.map.lock();
        // Expired keys nobody reads again must not pile up on a small heap.
        map.retain(|_, e| e.expires_ms.is_none_or(|at| at > now));
        let expires_ms = ttl_ms.map(|t| now.saturating_add(t));
        map.insert(key.into(), Entry { value, expires_ms });
    }

    fn delete(&self, key: &str) -> bool {
        let now = self.platform.now_ms();
        self.map
            .lock()
            .remove(key)
            .is_some_and(|e| self.live(&e, now))
    }

    fn incr(&self, key: &str, delta: i64) -> Result<i64, StateError> {
        let now = self.platform.now_ms();
        let mut map = self.map.lock();
        let current = map.get(key).filter(|e| self.live(e, now));
        let value = add_to_counter(current.map(|e| e.value.as_slice()), delta)?;
        let expires_ms = current.and_then(|e| e.expires_ms);
        let bytes = alloc::format!("{value}").into_bytes();
        map.insert(
            key.into(),
            Entry {
                value: bytes,
                expires_ms,
            },
        );
        Ok(value)
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        let now = self.platform.now_ms();
        self.map
            .lock()
            .range::<str, _>((
                core::ops::Bound::Included(prefix),
                core::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| self.live(e, now))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
