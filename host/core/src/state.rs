//! Key-value state that lives in the host, never in guest globals: instances are pooled
//! and replaced at any time, so anything a plugin wants to remember goes here.
//!
//! One store serves both runtimes: [`StateMap`] holds the rules (expiry, atomic
//! increments, and the [`Quota`] of every namespace) as plain data driven with the time
//! passed in, and [`MemoryStore`] puts it behind a lock with an injected [`Clock`] — the
//! desktop server's monotonic clock, or the embedded platform's.
//!
//! Every namespace (a plugin's own, or the shared one) is bounded in keys, bytes and
//! value size, checked before anything is stored: a plugin that writes random keys in a
//! loop gets an error it can see, not a server that grows until it is killed. Expired
//! entries still count until they are swept, so a write that would go over first sweeps
//! the namespace and checks again.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Why a state operation failed. The text ([`fmt::Display`]) is what the plugin sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// `incr` on a value that is not a decimal integer; the value is left unchanged.
    NotAnInteger,
    /// `incr` would overflow an `i64`; the value is left unchanged.
    Overflow,
    /// The value is larger than `state_max_value`.
    ValueTooLarge {
        /// The value's size, bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A new key would pass `state_max_keys` for the namespace.
    TooManyKeys {
        /// The limit.
        max: usize,
    },
    /// The write would pass `state_max_bytes` for the namespace.
    NamespaceFull {
        /// The limit.
        max: usize,
    },
    /// The store could not be reached (a cluster's Redis is down or slower than
    /// `[cluster] timeout`): nothing is known to be stored. The text starts with
    /// [`UNAVAILABLE`], which the guest SDK answers with 503.
    Unavailable(String),
}

/// How the text of [`StateError::Unavailable`] starts: the guest SDK recognises it.
pub const UNAVAILABLE: &str = "state store unavailable";

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotAnInteger => f.write_str("value is not an integer"),
            StateError::Overflow => f.write_str("increment overflows a 64-bit integer"),
            StateError::ValueTooLarge { size, max } => write!(
                f,
                "state value of {size} bytes is over the {max}-byte limit ([limits] state_max_value)"
            ),
            StateError::TooManyKeys { max } => write!(
                f,
                "state namespace already holds {max} keys ([limits] state_max_keys)"
            ),
            StateError::NamespaceFull { max } => write!(
                f,
                "state namespace would hold more than {max} bytes ([limits] state_max_bytes)"
            ),
            StateError::Unavailable(why) => write!(f, "{UNAVAILABLE}: {why}"),
        }
    }
}

/// How much one namespace may hold (`[limits] state_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Live keys per namespace.
    pub max_keys: usize,
    /// Bytes per namespace: every key and value, plus [`ENTRY_OVERHEAD`] per entry.
    pub max_bytes: usize,
    /// Bytes per value.
    pub max_value: usize,
}

impl Default for Quota {
    /// `[limits]`' defaults: 10,000 keys, 16 MiB and 1 MiB values per namespace.
    fn default() -> Self {
        Quota {
            max_keys: 10_000,
            max_bytes: 16 << 20,
            max_value: 1 << 20,
        }
    }
}

/// What an entry costs beyond its key and value (map node, expiry, allocation headers),
/// so that a flood of empty values is bounded by `max_bytes` too.
pub const ENTRY_OVERHEAD: usize = 48;

/// A key-value store with expiry and atomic increments, shared by all plugins. Keys
/// live in namespaces: `ns` is the plugin's (`plugin/<name>`) or the shared one.
pub trait Store: Send + Sync {
    /// The value of a live key. Fails only with [`StateError::Unavailable`] (a store
    /// across the network that did not answer in time); so do `delete` and `keys`.
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// Sets a key; with `ttl_ms` it expires that many milliseconds from now. Fails,
    /// storing nothing, when the namespace's quota would be passed.
    fn set(
        &self,
        ns: &str,
        key: &str,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), StateError>;
    /// Removes a key; returns whether it was live.
    fn delete(&self, ns: &str, key: &str) -> Result<bool, StateError>;
    /// Atomically adds `delta` to a decimal integer (missing counts as 0), keeping any
    /// expiry, and returns the new value.
    fn incr(&self, ns: &str, key: &str, delta: i64) -> Result<i64, StateError>;
    /// The live keys starting with `prefix`, sorted.
    fn keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StateError>;
}

/// Parses a stored counter and adds `delta`.
pub fn add_to_counter(stored: Option<&[u8]>, delta: i64) -> Result<i64, StateError> {
    let current = match stored {
        None => 0,
        Some(bytes) => core::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or(StateError::NotAnInteger)?,
    };
    current.checked_add(delta).ok_or(StateError::Overflow)
}

/// A monotonic clock in milliseconds, for expiry.
pub trait Clock: Send + Sync {
    /// Milliseconds since some fixed point; never goes backwards.
    fn now_ms(&self) -> u64;
}

struct Entry {
    value: Vec<u8>,
    expires_ms: Option<u64>,
}

impl Entry {
    fn live(&self, now: u64) -> bool {
        self.expires_ms.is_none_or(|at| at > now)
    }
}

fn cost(key: &str, value: &[u8]) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

#[derive(Default)]
struct Namespace {
    // A BTreeMap so that `keys(prefix)` is a range scan, not a full sweep.
    map: BTreeMap<String, Entry>,
    /// The [`cost`] of every entry, live or not yet swept.
    bytes: usize,
}

impl Namespace {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.map.remove(key)?;
        self.bytes -= cost(key, &entry.value);
        Some(entry)
    }

    fn sweep(&mut self, now: u64) -> usize {
        let before = self.map.len();
        let mut freed = 0;
        self.map.retain(|k, e| {
            let keep = e.live(now);
            if !keep {
                freed += cost(k, &e.value);
            }
            keep
        });
        self.bytes -= freed;
        before - self.map.len()
    }
}

/// Expired keys are dropped when touched, when a namespace nears its quota, and all of
/// them every `SWEEP_EVERY` writes, so keys that nobody reads again cannot pile up.
const SWEEP_EVERY: u32 = 1024;

/// The store's rules as plain data: every method takes the time, so it is tested
/// without a clock and used behind whatever lock a runtime has.
pub struct StateMap {
    spaces: BTreeMap<String, Namespace>,
    quota: Quota,
    writes: u32,
}

impl StateMap {
    /// An empty map enforcing `quota` on every namespace.
    pub fn new(quota: Quota) -> StateMap {
        StateMap {
            spaces: BTreeMap::new(),
            quota,
            writes: 0,
        }
    }

    /// The value of a live key.
    pub fn get(&mut self, ns: &str, key: &str, now: u64) -> Option<Vec<u8>> {
        let space = self.spaces.get_mut(ns)?;
        match space.map.get(key) {
            Some(e) if e.live(now) => Some(e.value.clone()),
            Some(_) => {
                space.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value`, unless that would pass the quota (then nothing changes).
    pub fn set(
        &mut self,
        ns: &str,
        key: &str,
        value: Vec<u8>,
        expires_ms: Option<u64>,
        now: u64,
    ) -> Result<(), StateError> {
        let quota = self.quota;
        if value.len() > quota.max_value {
            return Err(StateError::ValueTooLarge {
                size: value.len(),
                max: quota.max_value,
            });
        }
        let space = self.spaces.entry(ns.to_string()).or_default();
        let fits = |space: &Namespace| {
            let old = space.map.get(key).map(|e| cost(key, &e.value));
            let keys = space.map.len() + usize::from(old.is_none());
            let bytes = space.bytes - old.unwrap_or(0) + cost(key, &value);
            if keys > quota.max_keys {
                Err(StateError::TooManyKeys {
                    max: quota.max_keys,
                })
            } else if bytes > quota.max_bytes {
                Err(StateError::NamespaceFull {
                    max: quota.max_bytes,
                })
            } else {
                Ok(())
            }
        };
        if fits(space).is_err() {
            space.sweep(now);
            fits(space)?;
        }
        space.remove(key);
        space.bytes += cost(key, &value);
        space
            .map
            .insert(key.to_string(), Entry { value, expires_ms });
        self.wrote(now);
        Ok(())
    }

    /// Removes a key; returns whether it was live.
    pub fn delete(&mut self, ns: &str, key: &str, now: u64) -> bool {
        self.spaces
            .get_mut(ns)
            .and_then(|space| space.remove(key))
            .is_some_and(|e| e.live(now))
    }

    /// Adds `delta` to a counter, keeping its expiry.
    pub fn incr(&mut self, ns: &str, key: &str, delta: i64, now: u64) -> Result<i64, StateError> {
        let current = self
            .spaces
            .get(ns)
            .and_then(|space| space.map.get(key))
            .filter(|e| e.live(now));
        let next = add_to_counter(current.map(|e| e.value.as_slice()), delta)?;
        let expires_ms = current.and_then(|e| e.expires_ms);
        self.set(ns, key, next.to_string().into_bytes(), expires_ms, now)?;
        Ok(next)
    }

    /// The live keys of `ns` starting with `prefix`, sorted.
    pub fn keys(&self, ns: &str, prefix: &str, now: u64) -> Vec<String> {
        let Some(space) = self.spaces.get(ns) else {
            return Vec::new();
        };
        space
            .map
            .range::<str, _>((
                core::ops::Bound::Included(prefix),
                core::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| e.live(now))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Drops every expired entry; returns how many there were.
    pub fn purge_expired(&mut self, now: u64) -> usize {
        self.spaces.values_mut().map(|s| s.sweep(now)).sum()
    }

    /// Entries (live or not yet swept) and bytes held by `ns`.
    pub fn usage(&self, ns: &str) -> (usize, usize) {
        self.spaces
            .get(ns)
            .map_or((0, 0), |s| (s.map.len(), s.bytes))
    }

    fn wrote(&mut self, now: u64) {
        self.writes = self.writes.wrapping_add(1);
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            self.purge_expired(now);
        }
    }
}

/// The in-memory [`Store`]: a [`StateMap`] behind a spin lock, expiry on `C`. Every
/// operation is short and allocation-bounded, so the lock is never held across anything
/// slow (and a spin lock works the same on a server and on a microcontroller).
pub struct MemoryStore<C: Clock> {
    map: spin::Mutex<StateMap>,
    clock: C,
}

impl<C: Clock> MemoryStore<C> {
    /// An empty store enforcing `quota`, with expiry on `clock`.
    pub fn new(quota: Quota, clock: C) -> MemoryStore<C> {
        MemoryStore {
            map: spin::Mutex::new(StateMap::new(quota)),
            clock,
        }
    }

    /// Drops every expired entry; returns how many there were.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now_ms();
        self.map.lock().purge_expired(now)
    }

    /// Entries and bytes held by `ns` (for tests and diagnostics).
    pub fn usage(&self, ns: &str) -> (usize, usize) {
        self.map.lock().usage(ns)
    }
}

impl<C: Clock> Store for MemoryStore<C> {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let now = self.clock.now_ms();
        Ok(self.map.lock().get(ns, key, now))
    }

    fn set(
        &self,
        ns: &str,
        key: &str,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), StateError> {
        let now = self.clock.now_ms();
        let expires_ms = ttl_ms.map(|t| now.saturating_add(t));
        self.map.lock().set(ns, key, value, expires_ms, now)
    }

    fn delete(&self, ns: &str, key: &str) -> Result<bool, StateError> {
        let now = self.clock.now_ms();
        Ok(self.map.lock().delete(ns, key, now))
    }

    fn incr(&self, ns: &str, key: &str, delta: i64) -> Result<i64, StateError> {
        let now = self.clock.now_ms();
        self.map.lock().incr(ns, key, delta, now)
    }

    fn keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StateError> {
        let now = self.clock.now_ms();
        Ok(self.map.lock().keys(ns, prefix, now))
    }
}

/// The process's monotonic clock, for a store on a server.
#[cfg(feature = "std")]
pub struct StdClock(std::time::Instant);

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        StdClock(std::time::Instant::now())
    }
}

#[cfg(feature = "std")]
impl Clock for StdClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(feature = "std")]
impl Default for MemoryStore<StdClock> {
    /// A store with the default quota on the process clock.
    fn default() -> Self {
        MemoryStore::new(Quota::default(), StdClock::default())
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
