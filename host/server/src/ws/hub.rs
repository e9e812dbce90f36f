//! Every open WebSocket connection, its rooms and its data: what the `ws-*` host imports
//! act on.
//!
//! Plugins address connections by id, from any request or event, so the hub is a shared
//! registry rather than something owned by the connection's task. Sending never touches
//! the socket: a message is queued for the connection's writer, and the bytes queued for
//! a connection are bounded (`ws_send_queue`). A client that stops reading fills its
//! queue and is disconnected with 1008 instead of growing the server's memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use berth_core::host::WsError;
use berth_core::model::WsPayload;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Message;

/// What a message costs in the send queue beyond its payload: frame header and
/// bookkeeping, so a flood of empty messages is bounded too.
const MESSAGE_OVERHEAD: usize = 64;

/// The close code for a client whose send queue overflowed (policy violation).
pub const CLOSE_SLOW_CONSUMER: u16 = 1008;

/// One open connection, as the rest of the server sees it.
pub struct Conn {
    /// The connection's id (what plugins use).
    pub id: u64,
    /// The path it connected to.
    pub path: String,
    tx: mpsc::UnboundedSender<Message>,
    /// Bytes queued and not yet written; bounded by the hub's `send_queue`.
    queued: AtomicUsize,
    /// The first close requested (by a plugin, the hub or shutdown); the writer sends it.
    close: Mutex<Option<(u16, String)>>,
    /// Wakes the writer when `close` is set.
    close_requested: Notify,
    /// Seed 000's `ws.data`: lives as long as the connection.
    data: Mutex<HashMap<String, String>>,
    /// The rooms it joined, so leaving them on disconnect needs no room scan.
    rooms: Mutex<BTreeSet<String>>,
}

impl Conn {
    /// Asks the writer to close with `code` and `reason`; the first request wins.
    pub fn request_close(&self, code: u16, reason: &str) {
        let mut close = lock(&self.close);
        if close.is_none() {
            *close = Some((code, reason.to_string()));
            self.close_requested.notify_one();
        }
    }

    /// Waits until a close is requested, then returns it.
    pub async fn closing(&self) -> (u16, String) {
        loop {
            if let Some(close) = lock(&self.close).clone() {
                return close;
            }
            self.close_requested.notified().await;
        }
    }

    /// Whether a close was requested.
    pub fn is_closing(&self) -> bool {
        lock(&self.close).is_some()
    }

    /// Called by the writer once a message left the queue.
    pub fn written(&self, cost: usize) {
        self.queued.fetch_sub(cost, Ordering::Relaxed);
    }

    /// Queues a message within the byte bound; overflowing it closes the connection.
    /// An empty queue takes any one message, so a message larger than the bound (but
    /// within the plugin's memory) is still deliverable to a client that keeps up.
    fn queue(&self, message: Message, limit: usize) -> Result<(), WsError> {
        if self.is_closing() {
            return Err(WsError::NoSuchConnection);
        }
        let cost = cost(&message);
        let before = self.queued.fetch_add(cost, Ordering::Relaxed);
        if before > 0 && before + cost > limit {
            self.queued.fetch_sub(cost, Ordering::Relaxed);
            tracing::warn!(conn = self.id, "client is not reading; disconnecting");
            self.request_close(CLOSE_SLOW_CONSUMER, "Send queue full");
            return Err(WsError::QueueFull);
        }
        self.tx.send(message).map_err(|_| {
            self.queued.fetch_sub(cost, Ordering::Relaxed);
            WsError::NoSuchConnection
        })
    }
}

/// What a queued message counts against the connection's send queue.
pub fn cost(message: &Message) -> usize {
    message.len() + MESSAGE_OVERHEAD
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a connection could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// `ws_max_connections` are open: answer 503.
    Full,
}

/// The registry of open connections.
pub struct Hub {
    conns: RwLock<HashMap<u64, Arc<Conn>>>,
    rooms: Mutex<HashMap<String, BTreeSet<u64>>>,
    next_id: AtomicU64,
    max_connections: usize,
    send_queue: usize,
    /// Notified whenever a connection leaves, for shutdown to wait on.
    left: Notify,
}

impl Hub {
    /// A hub for at most `max_connections`, each with `send_queue` bytes of queue.
    pub fn new(max_connections: usize, send_queue: usize) -> Hub {
        Hub {
            conns: RwLock::new(HashMap::new()),
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_connections,
            send_queue,
            left: Notify::new(),
        }
    }

    /// Registers a new connection; the receiver feeds its writer.
    pub fn register(
        &self,
        path: &str,
    ) -> Result<(Arc<Conn>, mpsc::UnboundedReceiver<Message>), RegisterError> {
        let mut conns = self.conns.write().unwrap_or_else(|p| p.into_inner());
        if conns.len() >= self.max_connections {
            return Err(RegisterError::Full);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            path: path.to_string(),
            tx,
            queued: AtomicUsize::new(0),
            close: Mutex::new(None),
            close_requested: Notify::new(),
            data: Mutex::new(HashMap::new()),
            rooms: Mutex::new(BTreeSet::new()),
        });
        conns.insert(conn.id, conn.clone());
        Ok((conn, rx))
    }

    /// Forgets a connection: it leaves its rooms and its data is dropped.
    pub fn unregister(&self, id: u64) {
        let removed = self
            .conns
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        if let Some(conn) = removed {
            let joined = std::mem::take(&mut *lock(&conn.rooms));
            let mut rooms = lock(&self.rooms);
            for room in joined {
                if let Some(members) = rooms.get_mut(&room) {
                    members.remove(&id);
                    if members.is_empty() {
                        rooms.remove(&room);
                    }
                }
            }
        }
        self.left.notify_waiters();
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.conns.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn get(&self, id: u64) -> Result<Arc<Conn>, WsError> {
        self.conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
            .ok_or(WsError::NoSuchConnection)
    }

    /// Queues a message for a connection.
    pub fn send(&self, id: u64, msg: WsPayload) -> Result<(), WsError> {
        self.get(id)?.queue(message(msg), self.send_queue)
    }

    /// Starts the close handshake of a connection.
    pub fn close(&self, id: u64, code: u16, reason: &str) -> Result<(), WsError> {
        self.get(id)?.request_close(code, reason);
        Ok(())
    }

    /// Closes every connection (server shutdown: 1001) and waits, up to `grace`, for
    /// their handshakes to finish.
    pub async fn close_all(&self, code: u16, reason: &str, grace: std::time::Duration) {
        let all: Vec<Arc<Conn>> = self
            .conns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for conn in all {
            conn.request_close(code, reason);
        }
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

    /// Reads per-connection data.
    pub fn data_get(&self, id: u64, key: &str) -> Option<String> {
        lock(&self.get(id).ok()?.data).get(key).cloned()
    }

    /// Writes (or removes) per-connection data.
    pub fn data_set(&self, id: u64, key: &str, value: Option<String>) -> Result<(), WsError> {
        let conn = self.get(id)?;
        let mut data = lock(&conn.data);
        match value {
            Some(v) => data.insert(key.to_string(), v),
            None => data.remove(key),
        };
        Ok(())
    }

    /// Adds a connection to a room.
    pub fn join(&self, id: u64, room: &str) -> Result<(), WsError> {
        let conn = self.get(id)?;
        lock(&conn.rooms).insert(room.to_string());
        lock(&self.rooms)
            .entry(room.to_string())
            .or_default()
            .insert(id);
        Ok(())
    }

    /// Removes a connection from a room.
    pub fn leave(&self, id: u64, room: &str) -> Result<(), WsError> {
        let conn = self.get(id)?;
        lock(&conn.rooms).remove(room);
        let mut rooms = lock(&self.rooms);
        if let Some(members) = rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
        Ok(())
    }

    /// The members of a room, in id order.
    pub fn room_members(&self, room: &str) -> Vec<u64> {
        lock(&self.rooms)
            .get(room)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Queues `msg` for every member of `room` (or every connection) but `except`;
    /// returns how many it was queued for. The payload is shared, not copied per client.
    pub fn broadcast(&self, room: Option<&str>, msg: WsPayload, except: Option<u64>) -> u32 {
        let targets: Vec<Arc<Conn>> = {
            let conns = self.conns.read().unwrap_or_else(|p| p.into_inner());
            match room {
                Some(room) => self
                    .room_members(room)
                    .iter()
                    .filter_map(|id| conns.get(id).cloned())
                    .collect(),
                None => conns.values().cloned().collect(),
            }
        };
        let message = message(msg);
        targets
            .iter()
            .filter(|c| Some(c.id) != except)
            .filter(|c| c.queue(message.clone(), self.send_queue).is_ok())
            .count() as u32
    }
}

/// A plugin's payload as a tungstenite message (whose payload is reference-counted, so
/// broadcasting clones a pointer, not the bytes).
pub fn message(msg: WsPayload) -> Message {
    match msg {
        WsPayload::Text(text) => Message::text(text),
        WsPayload::Binary(bytes) => Message::binary(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> WsPayload {
        WsPayload::Text(s.into())
    }

    #[test]
    fn rooms_broadcast_and_leave_on_unregister() {
        let hub = Hub::new(10, 1 << 20);
        let (a, mut ra) = hub.register("/").unwrap();
        let (b, mut rb) = hub.register("/").unwrap();
        let (c, _rc) = hub.register("/").unwrap();
        hub.join(a.id, "general").unwrap();
        hub.join(b.id, "general").unwrap();
        assert_eq!(hub.room_members("general"), vec![a.id, b.id]);
        assert_eq!(hub.broadcast(Some("general"), text("hi"), Some(a.id)), 1);
        assert_eq!(rb.try_recv().unwrap(), Message::text("hi"));
        assert!(ra.try_recv().is_err(), "the sender was excluded");
        assert_eq!(hub.broadcast(None, text("all"), None), 3);

        hub.unregister(b.id);
        assert_eq!(hub.room_members("general"), vec![a.id]);
        assert_eq!(hub.send(b.id, text("x")), Err(WsError::NoSuchConnection));
        hub.leave(a.id, "general").unwrap();
        assert!(hub.room_members("general").is_empty());
        assert_eq!(hub.len(), 2);
        drop(c);
    }

    #[test]
    fn a_full_queue_disconnects_the_slow_client() {
        let hub = Hub::new(10, 4 * (100 + MESSAGE_OVERHEAD));
        let (a, _ra) = hub.register("/").unwrap();
        let big = "x".repeat(100);
        for _ in 0..4 {
            hub.send(a.id, text(&big)).unwrap();
        }
        assert_eq!(hub.send(a.id, text(&big)), Err(WsError::QueueFull));
        assert!(a.is_closing());
        assert_eq!(
            a.queued.load(Ordering::Relaxed),
            4 * (100 + MESSAGE_OVERHEAD)
        );
        assert_eq!(
            lock(&a.close).clone(),
            Some((1008, "Send queue full".into()))
        );
        assert_eq!(hub.send(a.id, text("")), Err(WsError::NoSuchConnection));
    }

    #[test]
    fn an_empty_queue_takes_one_message_of_any_size() {
        let hub = Hub::new(10, 100);
        let (a, _ra) = hub.register("/").unwrap();
        hub.send(a.id, text(&"x".repeat(1000))).unwrap();
        assert_eq!(hub.send(a.id, text("y")), Err(WsError::QueueFull));
    }

    #[test]
    fn the_connection_cap_is_enforced_and_data_dies_with_the_connection() {
        let hub = Hub::new(1, 1024);
        let (a, _ra) = hub.register("/").unwrap();
        assert!(matches!(hub.register("/"), Err(RegisterError::Full)));
        hub.data_set(a.id, "username", Some("alice".into()))
            .unwrap();
        assert_eq!(hub.data_get(a.id, "username").as_deref(), Some("alice"));
        hub.unregister(a.id);
        assert_eq!(hub.data_get(a.id, "username"), None);
        assert!(hub.register("/").is_ok());
    }
}
