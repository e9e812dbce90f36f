//! The registry of open WebSocket connections that the `ws-*` imports act on: rooms,
//! per-connection data, and each connection's send queue — one implementation for the
//! desktop server and the embedded runtime, which keep only the sockets.
//!
//! Plugins address connections by id from any request or event, so the registry is
//! shared data, not something a connection's task owns. Sending never touches a socket:
//! a message is queued and the connection's writer is woken through a
//! [`core::task::Waker`] (which both runtimes' executors provide). The rules:
//!
//! - **Bounded queues.** Every queued item costs its payload plus [`ITEM_OVERHEAD`], so
//!   empty messages are bounded too. An empty queue takes any one message (one larger
//!   than the bound is still deliverable to a client that keeps up); past the bound the
//!   client is not reading, its queue is dropped and it is closed with
//!   [`CLOSE_SLOW_CONSUMER`].
//! - **First close wins.** A close is not queued behind messages but kept once per
//!   connection, so repeated `ws-close` costs nothing; the writer sends what was queued
//!   before it, then the close. Nothing more is accepted once a close is requested.
//! - **Only valid close frames.** The reason is cut to [`MAX_CLOSE_REASON`] bytes on a
//!   UTF-8 boundary (a control frame's payload is at most 125 bytes), and a code a peer
//!   may not receive is replaced by 1000 (see [`sendable_close_code`]).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::task::{Context, Poll, Waker};

/// Why a WebSocket operation did not happen (see the WIT for what each means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum WsError {
    NoSuchConnection,
    QueueFull,
    Unsupported,
}

/// What a queued item costs beyond its payload: frame header and bookkeeping.
pub const ITEM_OVERHEAD: usize = 64;

/// The close code for a client whose send queue overflowed (policy violation).
pub const CLOSE_SLOW_CONSUMER: u16 = 1008;

/// The close every WebSocket gets when the server stops (going away), on both runtimes.
pub const CLOSE_SHUTDOWN: (u16, &str) = (1001, "Server shutting down");

/// Longest close reason, bytes: a close frame's payload is at most 125 bytes, two of
/// which are the code (RFC 6455 §5.5).
pub const MAX_CLOSE_REASON: usize = 123;

/// Whether `code` may be sent in a close frame (RFC 6455 §7.4): 1000–1003, 1007–1011
/// and 3000–4999. 1004–1006 and 1015 are reserved or only reported, never sent.
pub fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// `reason` cut to at most [`MAX_CLOSE_REASON`] bytes, on a character boundary.
pub fn close_reason(reason: &str) -> &str {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason;
    }
    let mut end = MAX_CLOSE_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// The close a plugin asked for, made sendable: an unsendable code becomes 1000 and the
/// reason is cut. The second value says whether the code was replaced.
pub fn plugin_close(code: u16, reason: &str) -> (u16, &str, bool) {
    let ok = sendable_close_code(code);
    (if ok { code } else { 1000 }, close_reason(reason), !ok)
}

/// A bounded queue with a waker: what one connection (or SSE subscriber) has waiting.
pub struct Queue<T> {
    items: VecDeque<T>,
    cost: usize,
    waker: Option<Waker>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            items: VecDeque::new(),
            cost: 0,
            waker: None,
        }
    }
}

impl<T> Queue<T> {
    /// Queues `item` of `size` payload bytes within `cap` (costs included); `false` when
    /// it does not fit. An empty queue takes any one item.
    pub fn push(&mut self, item: T, size: usize, cap: usize) -> bool {
        let cost = size.saturating_add(ITEM_OVERHEAD);
        if !self.items.is_empty() && self.cost.saturating_add(cost) > cap {
            return false;
        }
        self.items.push_back(item);
        self.cost = self.cost.saturating_add(cost);
        self.wake();
        true
    }

    /// Takes everything queued.
    pub fn take(&mut self) -> Vec<T> {
        self.cost = 0;
        self.items.drain(..).collect()
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.cost = 0;
        self.items.clear();
    }

    /// How many items are queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The cost of what is queued, bytes.
    pub fn cost(&self) -> usize {
        self.cost
    }

    /// Remembers who to wake when something arrives.
    pub fn register(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }

    /// Wakes the consumer, if it waits.
    pub fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// What a connection's writer gets from [`WsRegistry::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbox<M> {
    /// Messages to send, in order.
    Messages(Vec<M>),
    /// Everything before it was sent: send this close frame and end.
    Close(u16, String),
    /// The connection is not registered (any more).
    Gone,
}

struct Conn<M> {
    queue: Queue<M>,
    /// The first close requested (by a plugin, the host or shutdown).
    close: Option<(u16, String)>,
    /// Seed 000's `ws.data`: lives as long as the connection.
    data: BTreeMap<String, String>,
    /// The rooms it joined, so leaving them on disconnect needs no room scan.
    rooms: BTreeSet<String>,
    /// What `data` and `rooms` cost: bytes plus [`ITEM_OVERHEAD`] per entry, held
    /// against [`WsRegistry::with_budget`]'s cap.
    held: usize,
}

/// The close a connection gets when its plugin stores more on it than
/// `[limits] ws_max_data` or `ws_max_rooms` allow.
pub const CLOSE_OVER_BUDGET: (u16, &str) = (CLOSE_SLOW_CONSUMER, "Connection data over limit");

/// Why a connection could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// `ws_max_connections` are open: answer 503.
    Full,
}

/// Every open connection, its rooms and its queue. `M` is what a runtime queues (the
/// server's reference-counted frames, the embedded runtime's payloads).
pub struct WsRegistry<M> {
    conns: BTreeMap<u64, Conn<M>>,
    rooms: BTreeMap<String, BTreeSet<u64>>,
    next_id: u64,
    max_connections: usize,
    send_queue: usize,
    /// Bytes of per-connection data and room names one connection may hold.
    max_data: usize,
    /// Rooms one connection may be in.
    max_rooms: usize,
}

impl<M: Clone> WsRegistry<M> {
    /// A registry for at most `max_connections`, each with a queue of `send_queue` bytes.
    pub fn new(max_connections: usize, send_queue: usize) -> WsRegistry<M> {
        WsRegistry {
            conns: BTreeMap::new(),
            rooms: BTreeMap::new(),
            next_id: 1,
            max_connections,
            send_queue,
            max_data: usize::MAX,
            max_rooms: usize::MAX,
        }
    }

    /// Caps what plugins may hold on one connection: `max_data` bytes of data and room
    /// names (each entry costed [`ITEM_OVERHEAD`] more), in at most `max_rooms` rooms
    /// (`[limits] ws_max_data`, `ws_max_rooms`). A write past either fails with
    /// [`WsError::QueueFull`] and closes the connection with [`CLOSE_OVER_BUDGET`], as a
    /// full send queue does: the connection has used up its share of the host.
    pub fn with_budget(mut self, max_data: usize, max_rooms: usize) -> WsRegistry<M> {
        self.max_data = max_data;
        self.max_rooms = max_rooms;
        self
    }

    /// Starts ids after `base` (a cluster node's share of the id space, so that ids are
    /// unique across every node); call before the first [`WsRegistry::open`].
    pub fn with_id_base(mut self, base: u64) -> WsRegistry<M> {
        self.next_id = base + 1;
        self
    }

    /// Registers a new connection and returns its id.
    pub fn open(&mut self) -> Result<u64, RegisterError> {
        if self.conns.len() >= self.max_connections {
            return Err(RegisterError::Full);
        }
        let id = self.next_id;
        self.next_id += 1;
        let conn = Conn {
            queue: Queue::default(),
            close: None,
            data: BTreeMap::new(),
            rooms: BTreeSet::new(),
            held: 0,
        };
        self.conns.insert(id, conn);
        Ok(id)
    }

    /// Forgets a connection: it leaves its rooms and its data and queue are dropped.
    pub fn end(&mut self, id: u64) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        for room in conn.rooms {
            if let Some(members) = self.rooms.get_mut(&room) {
                members.remove(&id);
                if members.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The ids of every open connection.
    pub fn ids(&self) -> Vec<u64> {
        self.conns.keys().copied().collect()
    }

    fn conn(&mut self, id: u64) -> Result<&mut Conn<M>, WsError> {
        self.conns.get_mut(&id).ok_or(WsError::NoSuchConnection)
    }

    /// Queues `msg` (of `size` payload bytes) for a connection. A connection that is
    /// closing takes nothing; one whose queue is full is closed with
    /// [`CLOSE_SLOW_CONSUMER`] and what it had queued is dropped.
    pub fn send(&mut self, id: u64, msg: M, size: usize) -> Result<(), WsError> {
        let cap = self.send_queue;
        Self::queue(self.conn(id)?, msg, size, cap)
    }

    fn queue(conn: &mut Conn<M>, msg: M, size: usize, cap: usize) -> Result<(), WsError> {
        if conn.close.is_some() {
            return Err(WsError::NoSuchConnection);
        }
        if conn.queue.push(msg, size, cap) {
            return Ok(());
        }
        conn.queue.clear();
        conn.close = Some((CLOSE_SLOW_CONSUMER, String::from("Send queue full")));
        conn.queue.wake();
        Err(WsError::QueueFull)
    }

    /// Requests the close handshake; the first request wins and later ones change
    /// nothing. The reason is cut to [`MAX_CLOSE_REASON`] bytes.
    pub fn close(&mut self, id: u64, code: u16, reason: &str) -> Result<(), WsError> {
        let conn = self.conn(id)?;
        if conn.close.is_none() {
            conn.close = Some((code, close_reason(reason).to_string()));
            conn.queue.wake();
        }
        Ok(())
    }

    /// Requests a close of every connection (shutdown); first close still wins.
    pub fn close_all(&mut self, code: u16, reason: &str) {
        for id in self.ids() {
            let _ = self.close(id, code, reason);
        }
    }

    /// The close requested for a connection, if any.
    pub fn closing(&self, id: u64) -> Option<(u16, String)> {
        self.conns.get(&id).and_then(|c| c.close.clone())
    }

    /// What the writer of `id` should do next: send the queued messages, then the
    /// close once nothing precedes it. `Pending` registers the waker.
    pub fn poll(&mut self, id: u64, cx: &Context<'_>) -> Poll<Outbox<M>> {
        let Some(conn) = self.conns.get_mut(&id) else {
            return Poll::Ready(Outbox::Gone);
        };
        if !conn.queue.is_empty() {
            return Poll::Ready(Outbox::Messages(conn.queue.take()));
        }
        if let Some((code, reason)) = &conn.close {
            return Poll::Ready(Outbox::Close(*code, reason.clone()));
        }
        conn.queue.register(cx);
        Poll::Pending
    }

    /// Ready with the close once one is requested (a writer blocked on a client that
    /// does not read races its send against this). `Pending` registers the waker.
    pub fn poll_close(&mut self, id: u64, cx: &Context<'_>) -> Poll<(u16, String)> {
        let Some(conn) = self.conns.get_mut(&id) else {
            return Poll::Ready((1006, String::new()));
        };
        match &conn.close {
            Some(close) => Poll::Ready(close.clone()),
            None => {
                conn.queue.register(cx);
                Poll::Pending
            }
        }
    }

    /// Reads per-connection data.
    pub fn data_get(&self, id: u64, key: &str) -> Option<String> {
        self.conns.get(&id)?.data.get(key).cloned()
    }

    /// Writes (or, with `None`, removes) per-connection data, within the budget.
    pub fn data_set(&mut self, id: u64, key: &str, value: Option<String>) -> Result<(), WsError> {
        let max = self.max_data;
        let conn = self.conn(id)?;
        let entry = |v: &str| key.len() + v.len() + ITEM_OVERHEAD;
        let old = conn.data.get(key).map_or(0, |v| entry(v));
        let new = value.as_deref().map_or(0, entry);
        let held = conn.held - old + new;
        if new > old && held > max {
            return Err(Self::over_budget(conn));
        }
        conn.held = held;
        match value {
            Some(v) => conn.data.insert(key.to_string(), v),
            None => conn.data.remove(key),
        };
        Ok(())
    }

    /// Adds a connection to a room, within the budget.
    pub fn join(&mut self, id: u64, room: &str) -> Result<(), WsError> {
        let (max_data, max_rooms) = (self.max_data, self.max_rooms);
        let conn = self.conn(id)?;
        if conn.rooms.contains(room) {
            return Ok(());
        }
        let held = conn.held + room.len() + ITEM_OVERHEAD;
        if conn.rooms.len() >= max_rooms || held > max_data {
            return Err(Self::over_budget(conn));
        }
        conn.held = held;
        conn.rooms.insert(room.to_string());
        self.rooms.entry(room.to_string()).or_default().insert(id);
        Ok(())
    }

    /// Closes a connection whose plugin went over its budget (the first close wins).
    fn over_budget(conn: &mut Conn<M>) -> WsError {
        if conn.close.is_none() {
            conn.close = Some((CLOSE_OVER_BUDGET.0, String::from(CLOSE_OVER_BUDGET.1)));
            conn.queue.wake();
        }
        WsError::QueueFull
    }

    /// Removes a connection from a room.
    pub fn leave(&mut self, id: u64, room: &str) -> Result<(), WsError> {
        let conn = self.conn(id)?;
        if conn.rooms.remove(room) {
            conn.held -= room.len() + ITEM_OVERHEAD;
        }
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
        Ok(())
    }

    /// The rooms a connection is in (none for an unknown id).
    pub fn rooms_of(&self, id: u64) -> Vec<String> {
        self.conns
            .get(&id)
            .map(|c| c.rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every room with a member here, and its members.
    pub fn rooms(&self) -> impl Iterator<Item = (&str, &BTreeSet<u64>)> {
        self.rooms
            .iter()
            .map(|(room, members)| (room.as_str(), members))
    }

    /// The data keys a connection holds (none for an unknown id).
    pub fn data_keys(&self, id: u64) -> Vec<String> {
        self.conns
            .get(&id)
            .map(|c| c.data.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The members of a room, in id order.
    pub fn room_members(&self, room: &str) -> Vec<u64> {
        self.rooms
            .get(room)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Queues `msg` for every member of `room` (or every connection) but `except`;
    /// returns how many it was queued for.
    pub fn broadcast(
        &mut self,
        room: Option<&str>,
        msg: &M,
        size: usize,
        except: Option<u64>,
    ) -> u32 {
        let targets = match room {
            Some(room) => self.room_members(room),
            None => self.ids(),
        };
        let cap = self.send_queue;
        let mut reached = 0;
        for id in targets.into_iter().filter(|id| Some(*id) != except) {
            if let Some(conn) = self.conns.get_mut(&id) {
                if Self::queue(conn, msg.clone(), size, cap).is_ok() {
                    reached += 1;
                }
            }
        }
        reached
    }

    /// The cost queued for `id`, bytes (for tests and diagnostics).
    pub fn queued(&self, id: u64) -> usize {
        self.conns.get(&id).map_or(0, |c| c.queue.cost())
    }
}

#[cfg(test)]
#[path = "ws_registry_tests.rs"]
mod tests;
