//! The in-memory host: the same functions as the WIT `host` interface, kept in a
//! thread-local, so a test (one thread) has a host of its own.
//!
//! It follows the contract's documented behaviour (state with TTLs and quotas,
//! per-connection data and rooms, SSE publishing, a clock, pins granted per plugin);
//! it is not the real host (berth-core), which the SDK does not ship with.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub(crate) use crate::bindings::berth::plugin::host::{
    DeviceError, Level, MemoryStats, Scope, WsError,
};
use crate::Payload;

/// One open (or closed) WebSocket connection of the in-memory host.
#[derive(Debug, Default)]
pub(crate) struct MemConn {
    pub(crate) data: BTreeMap<String, String>,
    pub(crate) rooms: BTreeSet<String>,
    /// What the plugin sent to this connection (sends, broadcasts, replies), in order.
    pub(crate) outbox: VecDeque<Payload>,
    /// The close code and reason, once the plugin (or the test) closed it.
    pub(crate) closed: Option<(u16, String)>,
}

/// One `publish` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The topic.
    pub topic: String,
    /// The event's data.
    pub data: String,
    /// The event name, if any.
    pub event: Option<String>,
    /// The event id, if any.
    pub id: Option<String>,
}

#[derive(Debug)]
pub(crate) struct MemHost {
    /// (shared?, key) → (value, expiry in Unix ms).
    pub(crate) state: BTreeMap<(bool, String), (Vec<u8>, Option<u64>)>,
    /// `[limits] state_max_keys` for each namespace, when a test sets one.
    pub(crate) max_keys: Option<usize>,
    /// Whether the store is unreachable (a cluster's Redis down), when a test says so.
    pub(crate) unavailable: bool,
    pub(crate) now_ms: u64,
    pub(crate) random: u64,
    pub(crate) logs: Vec<(Level, String)>,
    pub(crate) conns: BTreeMap<u64, MemConn>,
    pub(crate) next_conn: u64,
    pub(crate) published: Vec<Published>,
    /// Topic → SSE responses the plugin answered with (its subscribers).
    pub(crate) subscribers: BTreeMap<String, u32>,
    pub(crate) granted_pins: BTreeSet<u8>,
    pub(crate) pins: BTreeMap<u8, bool>,
    pub(crate) memory: MemoryStats,
    pub(crate) collects: u32,
}

impl Default for MemHost {
    fn default() -> MemHost {
        MemHost {
            state: BTreeMap::new(),
            max_keys: None,
            unavailable: false,
            // 2026-01-01T00:00:00Z: a fixed start, so tests are repeatable.
            now_ms: 1_767_225_600_000,
            random: 0x9E37_79B9_7F4A_7C15,
            logs: Vec::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            published: Vec::new(),
            subscribers: BTreeMap::new(),
            granted_pins: BTreeSet::new(),
            pins: BTreeMap::new(),
            memory: MemoryStats {
                free: 256 * 1024,
                used: 64 * 1024,
            },
            collects: 0,
        }
    }
}

thread_local! {
    static HOST: RefCell<MemHost> = RefCell::new(MemHost::default());
}

/// Runs `f` on this thread's in-memory host.
pub(crate) fn with<R>(f: impl FnOnce(&mut MemHost) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Replaces this thread's host with a fresh one.
pub(crate) fn reset() {
    with(|h| *h = MemHost::default());
}

fn shared(scope: Scope) -> bool {
    matches!(scope, Scope::Shared)
}

impl MemHost {
    fn live(&mut self, scope: Scope, key: &str) -> Option<&mut (Vec<u8>, Option<u64>)> {
        let now = self.now_ms;
        let k = (shared(scope), key.to_string());
        if matches!(self.state.get(&k), Some((_, Some(exp))) if *exp <= now) {
            self.state.remove(&k);
        }
        self.state.get_mut(&k)
    }

    fn count(&mut self, scope: Scope) -> usize {
        let now = self.now_ms;
        let s = shared(scope);
        self.state.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
        self.state.keys().filter(|(sh, _)| *sh == s).count()
    }

    fn store(
        &mut self,
        scope: Scope,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), String> {
        let exists = self.live(scope, key).is_some();
        if let Some(max) = self.max_keys {
            if !exists && self.count(scope) >= max {
                return Err(format!("namespace is full: at most {max} keys"));
            }
        }
        let expiry = ttl_ms.map(|t| self.now_ms.saturating_add(t));
        self.state
            .insert((shared(scope), key.to_string()), (value.to_vec(), expiry));
        Ok(())
    }
}

pub(crate) fn log(level: Level, message: &str) {
    with(|h| h.logs.push((level, message.to_string())));
}

pub(crate) fn log_enabled(_level: Level) -> bool {
    true
}

/// What the host answers while a test has made the store unreachable.
const UNREACHABLE: &str = "state store unavailable: the test made the store unreachable";

impl MemHost {
    /// `Err` while the store is unreachable, else `f`'s answer.
    fn reach<T>(&mut self, f: impl FnOnce(&mut MemHost) -> T) -> Result<T, String> {
        if self.unavailable {
            Err(UNREACHABLE.to_string())
        } else {
            Ok(f(self))
        }
    }
}

/// A call without an error in the WIT: the default while unreachable, logged.
fn logged<T: Default>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| {
        log(Level::Warn, &e);
        T::default()
    })
}

pub(crate) fn state_try_get(scope: Scope, key: &str) -> Result<Option<Vec<u8>>, String> {
    with(|h| h.reach(|h| h.live(scope, key).map(|(v, _)| v.clone())))
}

pub(crate) fn state_get(scope: Scope, key: &str) -> Option<Vec<u8>> {
    logged(state_try_get(scope, key))
}

pub(crate) fn state_set(scope: Scope, key: &str, value: &[u8], ttl_ms: Option<u64>) {
    if let Err(e) = state_try_set(scope, key, value, ttl_ms) {
        log(Level::Warn, &format!("state-set {key}: {e}"));
    }
}

pub(crate) fn state_try_set(
    scope: Scope,
    key: &str,
    value: &[u8],
    ttl_ms: Option<u64>,
) -> Result<(), String> {
    with(|h| h.reach(|h| h.store(scope, key, value, ttl_ms)))?
}

pub(crate) fn state_try_delete(scope: Scope, key: &str) -> Result<bool, String> {
    with(|h| {
        h.reach(|h| {
            let existed = h.live(scope, key).is_some();
            h.state.remove(&(shared(scope), key.to_string()));
            existed
        })
    })
}

pub(crate) fn state_delete(scope: Scope, key: &str) -> bool {
    logged(state_try_delete(scope, key))
}

pub(crate) fn state_incr(scope: Scope, key: &str, delta: i64) -> Result<i64, String> {
    with(|h| {
        h.reach(|_| ())?;
        let (current, expiry) = match h.live(scope, key) {
            None => (0, None),
            Some((v, exp)) => {
                let n = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .ok_or("value is not an integer")?;
                (n, *exp)
            }
        };
        let next = current
            .checked_add(delta)
            .ok_or("increment overflows a 64-bit integer")?;
        let ttl = expiry.map(|e| e.saturating_sub(h.now_ms).max(1));
        h.store(scope, key, next.to_string().as_bytes(), ttl)?;
        Ok(next)
    })
}

pub(crate) fn state_keys(scope: Scope, prefix: &str) -> Vec<String> {
    logged(state_try_keys(scope, prefix))
}

pub(crate) fn state_try_keys(scope: Scope, prefix: &str) -> Result<Vec<String>, String> {
    with(|h| {
        h.reach(|_| ())?;
        h.count(scope);
        let s = shared(scope);
        Ok(h.state
            .keys()
            .filter(|(sh, k)| *sh == s && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect())
    })
}

fn open(h: &mut MemHost, conn: u64) -> Result<&mut MemConn, WsError> {
    h.conns
        .get_mut(&conn)
        .filter(|c| c.closed.is_none())
        .ok_or(WsError::NoSuchConnection)
}

pub(crate) fn ws_send(conn: u64, msg: &Payload) -> Result<(), WsError> {
    with(|h| {
        open(h, conn)?.outbox.push_back(msg.clone());
        Ok(())
    })
}

pub(crate) fn ws_close(conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
    with(|h| {
        open(h, conn)?.closed = Some((code, reason.to_string()));
        Ok(())
    })
}

pub(crate) fn ws_data_get(conn: u64, key: &str) -> Option<String> {
    with(|h| h.conns.get(&conn)?.data.get(key).cloned())
}

pub(crate) fn ws_data_set(conn: u64, key: &str, value: Option<&str>) -> Result<(), WsError> {
    with(|h| {
        let c = open(h, conn)?;
        match value {
            Some(v) => c.data.insert(key.to_string(), v.to_string()),
            None => c.data.remove(key),
        };
        Ok(())
    })
}

pub(crate) fn ws_join(conn: u64, room: &str) -> Result<(), WsError> {
    with(|h| {
        open(h, conn)?.rooms.insert(room.to_string());
        Ok(())
    })
}

pub(crate) fn ws_leave(conn: u64, room: &str) -> Result<(), WsError> {
    with(|h| {
        open(h, conn)?.rooms.remove(room);
        Ok(())
    })
}

pub(crate) fn ws_broadcast(room: Option<&str>, msg: &Payload, except: Option<u64>) -> u32 {
    with(|h| {
        let mut n = 0;
        for (id, c) in h.conns.iter_mut() {
            let member = room.is_none_or(|r| c.rooms.contains(r));
            if c.closed.is_none() && member && Some(*id) != except {
                c.outbox.push_back(msg.clone());
                n += 1;
            }
        }
        n
    })
}

pub(crate) fn ws_room_members(room: &str) -> Vec<u64> {
    with(|h| {
        h.conns
            .iter()
            .filter(|(_, c)| c.closed.is_none() && c.rooms.contains(room))
            .map(|(id, _)| *id)
            .collect()
    })
}

pub(crate) fn publish(topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
    with(|h| {
        h.published.push(Published {
            topic: topic.to_string(),
            data: data.to_string(),
            event: event.map(str::to_string),
            id: id.map(str::to_string),
        });
        h.subscribers.get(topic).copied().unwrap_or(0)
    })
}

pub(crate) fn now_ms() -> u64 {
    with(|h| h.now_ms)
}

pub(crate) fn random_u64() -> u64 {
    // xorshift64*: repeatable across runs, which is what a test wants.
    with(|h| {
        let mut x = h.random;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        h.random = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Pins a board of the in-memory host has: 0–63, as the server's simulated bank.
const PINS: u8 = 64;

fn granted(h: &MemHost, pin: u8) -> Result<(), DeviceError> {
    if !h.granted_pins.contains(&pin) {
        return Err(DeviceError::NotGranted);
    }
    if pin >= PINS {
        return Err(DeviceError::NoSuchPin);
    }
    Ok(())
}

pub(crate) fn gpio_write(pin: u8, high: bool) -> Result<(), DeviceError> {
    with(|h| {
        granted(h, pin)?;
        h.pins.insert(pin, high);
        Ok(())
    })
}

pub(crate) fn gpio_read(pin: u8) -> Result<bool, DeviceError> {
    with(|h| {
        granted(h, pin)?;
        Ok(h.pins.get(&pin).copied().unwrap_or(false))
    })
}

pub(crate) fn memory() -> MemoryStats {
    with(|h| h.memory)
}

pub(crate) fn memory_collect() {
    with(|h| h.collects += 1);
}
