//! The server's handle on berth-core's [`WsRegistry`]: every open WebSocket connection,
//! its rooms, data and send queue, behind one mutex.
//!
//! The rules (bounded queues with a per-item cost, first close wins, close reasons cut,
//! the 1008 for a client that stops reading) live in the registry, shared with the
//! embedded runtime; this file adds only what tokio needs: futures over the registry's
//! polls for the connection's writer, and a notification when a connection leaves, for
//! shutdown to wait on. Queued messages are [`Outbound`] payloads, reference-counted,
//! so a broadcast clones a pointer per client, not the bytes (each connection's writer
//! frames, and compresses when it negotiated permessage-deflate, its own copy).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_core::host::WsError;
use berth_core::model::WsPayload;
use berth_core::ws_registry::WsRegistry;
pub use berth_core::ws_registry::{Outbox, RegisterError};
use bytes::Bytes;
use tokio::sync::Notify;

type Registry = Arc<Mutex<WsRegistry<Message>>>;

fn lock_routed(
    routed: &Mutex<HashMap<u64, (String, String)>>,
) -> MutexGuard<'_, HashMap<u64, (String, String)>> {
    // Single inserts and removals: a panic cannot leave the map torn.
    routed.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock(registry: &Mutex<WsRegistry<Message>>) -> MutexGuard<'_, WsRegistry<Message>> {
    // Every registry operation is a single map update: a panic cannot leave it torn.
    registry.lock().unwrap_or_else(|p| p.into_inner())
}

/// One open connection, as its session sees it.
pub struct Conn {
    /// The connection's id (what plugins use).
    pub id: u64,
    /// The path it connected to.
    pub path: String,
    /// The plugin whose WebSocket route it connected through (`None` on the dedicated
    /// port, where only hooks hear it). By name: after a swap the route is looked up
    /// again, and the connection is closed with 1001 when that plugin no longer has it.
    pub owner: Option<String>,
    registry: Registry,
}

impl Conn {
    /// Asks the writer to close with `code` and `reason`; the first request wins.
    pub fn request_close(&self, code: u16, reason: &str) {
        let _ = lock(&self.registry).close(self.id, code, reason);
    }

    /// Waits until a close is requested, then returns it.
    pub async fn closing(&self) -> (u16, String) {
        std::future::poll_fn(|cx| lock(&self.registry).poll_close(self.id, cx)).await
    }

    /// Whether a close was requested.
    pub fn is_closing(&self) -> bool {
        lock(&self.registry).closing(self.id).is_some()
    }
}

/// What the writer of one connection reads: its messages, then its close.
pub struct Outgoing {
    id: u64,
    registry: Registry,
}

impl Outgoing {
    /// The next batch of messages, or the close to send once they are all out.
    pub async fn next(&mut self) -> Outbox<Message> {
        std::future::poll_fn(|cx| lock(&self.registry).poll(self.id, cx)).await
    }
}

/// What runs after a connection leaves: its id, the rooms it was in, its data keys
/// (a cluster removes them from Redis).
pub type OnLeave = Box<dyn Fn(u64, Vec<String>, Vec<String>) + Send + Sync>;

/// The registry of open connections.
pub struct Hub {
    registry: Registry,
    /// Notified whenever a connection leaves, for shutdown to wait on.
    left: Notify,
    /// Connections made through a plugin's WebSocket route: id → (path, plugin), for
    /// closing those whose plugin went away in a swap.
    routed: Mutex<HashMap<u64, (String, String)>>,
    /// Set once by a cluster (see [`Hub::on_leave`]).
    on_leave: std::sync::OnceLock<OnLeave>,
    /// Set once by a cluster: told the number of connections whenever it changes.
    on_count: std::sync::OnceLock<OnCount>,
}

/// What hears the number of open connections when it changes.
pub type OnCount = Box<dyn Fn(usize) + Send + Sync>;

impl Hub {
    /// A hub within `limits`: `ws_max_connections`, each with `ws_send_queue` bytes of
    /// queue and `ws_max_data` / `ws_max_rooms` of data and rooms.
    pub fn new(limits: &berth_core::limits::Limits) -> Hub {
        Hub::with_id_base(limits, 0)
    }

    /// A hub whose ids start after `base` (a cluster node's share of the id space).
    pub fn with_id_base(limits: &berth_core::limits::Limits, base: u64) -> Hub {
        let registry = WsRegistry::new(limits.ws_max_connections, limits.ws_send_queue)
            .with_budget(limits.ws_max_data, limits.ws_max_rooms)
            .with_id_base(base);
        Hub {
            registry: Arc::new(Mutex::new(registry)),
            left: Notify::new(),
            routed: Mutex::new(HashMap::new()),
            on_leave: std::sync::OnceLock::new(),
            on_count: std::sync::OnceLock::new(),
        }
    }

    /// Runs `hook` after every connection leaves, with the rooms and data keys it held;
    /// only the first call counts.
    pub fn on_leave(&self, hook: OnLeave) {
        let _ = self.on_leave.set(hook);
    }

    /// Runs `hook` with the number of open connections whenever it changes; only the
    /// first call counts.
    pub fn on_count(&self, hook: OnCount) {
        let _ = self.on_count.set(hook);
    }

    fn counted(&self) {
        if let Some(hook) = self.on_count.get() {
            hook(self.len());
        }
    }

    /// Every room with a member here, and those members.
    pub fn memberships(&self) -> Vec<(String, Vec<u64>)> {
        self.registry()
            .rooms()
            .map(|(room, members)| (room.to_string(), members.iter().copied().collect()))
            .collect()
    }

    fn registry(&self) -> MutexGuard<'_, WsRegistry<Message>> {
        lock(&self.registry)
    }

    /// Registers a new connection, made through `owner`'s WebSocket route (or on the
    /// dedicated port: `None`); the [`Outgoing`] feeds its writer.
    pub fn register(
        &self,
        path: &str,
        owner: Option<&str>,
    ) -> Result<(Arc<Conn>, Outgoing), RegisterError> {
        let id = self.registry().open()?;
        if let Some(owner) = owner {
            lock_routed(&self.routed).insert(id, (path.to_string(), owner.to_string()));
        }
        let conn = Arc::new(Conn {
            id,
            path: path.to_string(),
            owner: owner.map(str::to_string),
            registry: self.registry.clone(),
        });
        let outgoing = Outgoing {
            id,
            registry: self.registry.clone(),
        };
        self.counted();
        Ok((conn, outgoing))
    }

    /// Forgets a connection: it leaves its rooms and its data is dropped.
    pub fn unregister(&self, id: u64) {
        lock_routed(&self.routed).remove(&id);
        let held = {
            let mut registry = self.registry();
            let held = self
                .on_leave
                .get()
                .map(|_| (registry.rooms_of(id), registry.data_keys(id)));
            registry.end(id);
            held
        };
        if let (Some(hook), Some((rooms, keys))) = (self.on_leave.get(), held) {
            hook(id, rooms, keys);
        }
        self.counted();
        self.left.notify_waiters();
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.registry().len()
    }

    /// Queues a message for a connection.
    pub fn send(&self, id: u64, msg: WsPayload) -> Result<(), WsError> {
        let message = message(msg);
        let size = message.len();
        let sent = self.registry().send(id, message, size);
        if sent == Err(WsError::QueueFull) {
            tracing::warn!(conn = id, "client is not reading; disconnecting");
        }
        sent
    }

    /// Starts the close handshake of a connection.
    pub fn close(&self, id: u64, code: u16, reason: &str) -> Result<(), WsError> {
        self.registry().close(id, code, reason)
    }

    /// Closes every connection (server shutdown: 1001) and waits, up to `grace`, for
    /// their handshakes to finish.
    pub async fn close_all(&self, code: u16, reason: &str, grace: std::time::Duration) {
        self.registry().close_all(code, reason);
        let drained = async {
            loop {
                let left = self.left.notified();
                if self.len() == 0 {
                    return;
                }
                left.await;
            }
        };
        let _ = tokio::time::timeout(grace, drained).await;
    }

    /// Closes, with `code`, every routed connection whose route `still_served(path,
    /// plugin)` says is gone (its plugin was removed, or no longer routes that path);
    /// returns how many.
    pub fn close_orphans(
        &self,
        still_served: impl Fn(&str, &str) -> bool,
        code: u16,
        reason: &str,
    ) -> usize {
        let orphans: Vec<u64> = lock_routed(&self.routed)
            .iter()
            .filter(|(_, (path, owner))| !still_served(path, owner))
            .map(|(id, _)| *id)
            .collect();
        let mut registry = self.registry();
        for id in &orphans {
            let _ = registry.close(*id, code, reason);
        }
        orphans.len()
    }

    /// Reads per-connection data.
    pub fn data_get(&self, id: u64, key: &str) -> Option<String> {
        self.registry().data_get(id, key)
    }

    /// Writes (or removes) per-connection data.
    pub fn data_set(&self, id: u64, key: &str, value: Option<String>) -> Result<(), WsError> {
        self.registry().data_set(id, key, value)
    }

    /// Adds a connection to a room.
    pub fn join(&self, id: u64, room: &str) -> Result<(), WsError> {
        self.registry().join(id, room)
    }

    /// Removes a connection from a room.
    pub fn leave(&self, id: u64, room: &str) -> Result<(), WsError> {
        self.registry().leave(id, room)
    }

    /// The members of a room, in id order.
    pub fn room_members(&self, room: &str) -> Vec<u64> {
        self.registry().room_members(room)
    }

    /// Queues `msg` for every member of `room` (or every connection) but `except`;
    /// returns how many it was queued for.
    pub fn broadcast(&self, room: Option<&str>, msg: WsPayload, except: Option<u64>) -> u32 {
        let message = message(msg);
        let size = message.len();
        self.registry().broadcast(room, &message, size, except)
    }
}

/// A queued message. The payload is reference-counted: broadcasting clones a pointer,
/// not the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8: it came from a Rust `String`).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (the writer's keepalive; never queued by plugins).
    Ping,
}

impl Message {
    /// The payload's size in bytes (what the send queue counts).
    pub fn len(&self) -> usize {
        match self {
            Message::Text(b) | Message::Binary(b) => b.len(),
            Message::Ping => 0,
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame that carries it (compressed, if at all, by the connection's writer).
    pub fn frame(self) -> yawc::Frame {
        match self {
            Message::Text(b) => yawc::Frame::text(b),
            Message::Binary(b) => yawc::Frame::binary(b),
            Message::Ping => yawc::Frame::ping(Bytes::new()),
        }
    }
}

/// A plugin's payload as a queued message.
pub fn message(msg: WsPayload) -> Message {
    match msg {
        WsPayload::Text(text) => Message::Text(Bytes::from(text)),
        WsPayload::Binary(bytes) => Message::Binary(Bytes::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Context, Poll, Waker};

    fn text(s: &str) -> WsPayload {
        WsPayload::Text(s.into())
    }

    fn limits(ws_max_connections: usize, ws_send_queue: usize) -> berth_core::limits::Limits {
        berth_core::limits::Limits {
            ws_max_connections,
            ws_send_queue,
            ..Default::default()
        }
    }

    fn poll(out: &mut Outgoing) -> Poll<Outbox<Message>> {
        lock(&out.registry).poll(out.id, &Context::from_waker(Waker::noop()))
    }

    #[test]
    fn frames_are_queued_and_a_full_queue_closes_with_1008() {
        let hub = Hub::new(&limits(
            10,
            4 * (100 + berth_core::ws_registry::ITEM_OVERHEAD),
        ));
        let (a, mut out) = hub.register("/", None).unwrap();
        let big = "x".repeat(100);
        for _ in 0..4 {
            hub.send(a.id, text(&big)).unwrap();
        }
        assert_eq!(hub.send(a.id, text(&big)), Err(WsError::QueueFull));
        assert!(a.is_closing());
        assert_eq!(
            poll(&mut out),
            Poll::Ready(Outbox::Close(1008, "Send queue full".into()))
        );
        hub.unregister(a.id);
        assert_eq!(poll(&mut out), Poll::Ready(Outbox::Gone));
    }

    #[test]
    fn broadcast_shares_the_frame() {
        let hub = Hub::new(&limits(10, 1 << 20));
        let (a, mut ra) = hub.register("/", None).unwrap();
        let (b, mut rb) = hub.register("/", None).unwrap();
        hub.join(a.id, "r").unwrap();
        hub.join(b.id, "r").unwrap();
        assert_eq!(hub.broadcast(Some("r"), text("hi"), Some(a.id)), 1);
        assert_eq!(
            poll(&mut rb),
            Poll::Ready(Outbox::Messages(vec![Message::Text("hi".into())]))
        );
        assert!(poll(&mut ra).is_pending());
    }
}
