//! Key-value state that lives in the host, never in guest globals: instances are pooled
//! and replaced at any time, so anything a plugin wants to remember goes here.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a state operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// `incr` on a value that is not a decimal integer; the value is left unchanged.
    NotAnInteger,
    /// `incr` would overflow an `i64`; the value is left unchanged.
    Overflow,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotAnInteger => f.write_str("value is not an integer"),
            StateError::Overflow => f.write_str("increment overflows a 64-bit integer"),
        }
    }
}

/// A key-value store with expiry and atomic increments, shared by all plugins.
pub trait Store: Send + Sync {
    /// The value of a live key.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Sets a key; with `ttl_ms` it expires that many milliseconds from now.
    fn set(&self, key: &str, value: Vec<u8>, ttl_ms: Option<u64>);
    /// Removes a key; returns whether it was live.
    fn delete(&self, key: &str) -> bool;
    /// Atomically adds `delta` to a decimal integer (missing counts as 0), keeping any
    /// expiry, and returns the new value.
    fn incr(&self, key: &str, delta: i64) -> Result<i64, StateError>;
    /// The live keys starting with `prefix`, sorted.
    fn keys(&self, prefix: &str) -> Vec<String>;
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

#[cfg(feature = "std")]
pub use memory::MemoryStore;

#[cfg(feature = "std")]
mod memory {
    use super::{add_to_counter, StateError, Store};
    use alloc::collections::BTreeMap;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    struct Entry {
        value: Vec<u8>,
        expires: Option<Instant>,
    }

    impl Entry {
        fn live(&self, now: Instant) -> bool {
            self.expires.is_none_or(|at| at > now)
        }
    }

    struct Inner {
        // A BTreeMap so that `keys(prefix)` is a range scan, not a full sweep.
        map: BTreeMap<String, Entry>,
        // Expired keys are dropped when touched, and all of them every `SWEEP_EVERY`
        // writes, so keys that nobody reads again cannot pile up.
        writes: u32,
    }

    const SWEEP_EVERY: u32 = 1024;

    /// The in-memory [`Store`]: one mutex over a sorted map. Every operation is short
    /// and allocation-bounded, so the lock is never held across anything slow.
    pub struct MemoryStore {
        inner: Mutex<Inner>,
    }

    impl Default for MemoryStore {
        fn default() -> Self {
            MemoryStore {
                inner: Mutex::new(Inner {
                    map: BTreeMap::new(),
                    writes: 0,
                }),
            }
        }
    }

    impl MemoryStore {
        /// An empty store.
        pub fn new() -> MemoryStore {
            MemoryStore::default()
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
            // A panic while holding the lock cannot leave the map half-updated (every
            // operation is a single insert or remove), so a poisoned lock is still sound.
            self.inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    impl Inner {
        fn wrote(&mut self, now: Instant) {
            self.writes = self.writes.wrapping_add(1);
            if self.writes.is_multiple_of(SWEEP_EVERY) {
                self.map.retain(|_, e| e.live(now));
            }
        }
    }

    impl Store for MemoryStore {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            let now = Instant::now();
            let mut inner = self.lock();
            match inner.map.get(key) {
                Some(e) if e.live(now) => Some(e.value.clone()),
                Some(_) => {
                    inner.map.remove(key);
                    None
                }
                None => None,
            }
        }

        fn set(&self, key: &str, value: Vec<u8>, ttl_ms: Option<u64>) {
            let now = Instant::now();
            let expires = ttl_ms.map(|ms| now + Duration::from_millis(ms));
            let mut inner = self.lock();
            inner.map.insert(key.to_string(), Entry { value, expires });
            inner.wrote(now);
        }

        fn delete(&self, key: &str) -> bool {
            let now = Instant::now();
            self.lock().map.remove(key).is_some_and(|e| e.live(now))
        }

        fn incr(&self, key: &str, delta: i64) -> Result<i64, StateError> {
            let now = Instant::now();
            let mut inner = self.lock();
            let (stored, expires) = match inner.map.get(key) {
                Some(e) if e.live(now) => (Some(e.value.as_slice()), e.expires),
                _ => (None, None),
            };
            let next = add_to_counter(stored, delta)?;
            inner.map.insert(
                key.to_string(),
                Entry {
                    value: next.to_string().into_bytes(),
                    expires,
                },
            );
            inner.wrote(now);
            Ok(next)
        }

        fn keys(&self, prefix: &str) -> Vec<String> {
            let now = Instant::now();
            self.lock()
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
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn set_get_delete() {
            let s = MemoryStore::new();
            assert_eq!(s.get("a"), None);
            s.set("a", b"1".to_vec(), None);
            assert_eq!(s.get("a").as_deref(), Some(&b"1"[..]));
            assert!(s.delete("a"));
            assert!(!s.delete("a"));
        }

        #[test]
        fn ttl_expires() {
            let s = MemoryStore::new();
            s.set("t", b"x".to_vec(), Some(0));
            assert_eq!(s.get("t"), None);
            assert!(s.keys("").is_empty());
        }

        #[test]
        fn incr_counts_and_rejects_text() {
            let s = MemoryStore::new();
            assert_eq!(s.incr("n", 1), Ok(1));
            assert_eq!(s.incr("n", 41), Ok(42));
            assert_eq!(s.incr("n", -2), Ok(40));
            s.set("txt", b"hello".to_vec(), None);
            assert_eq!(s.incr("txt", 1), Err(StateError::NotAnInteger));
            s.set("max", i64::MAX.to_string().into_bytes(), None);
            assert_eq!(s.incr("max", 1), Err(StateError::Overflow));
        }

        #[test]
        fn keys_by_prefix_sorted() {
            let s = MemoryStore::new();
            for k in ["b/2", "a/1", "b/1", "c"] {
                s.set(k, Vec::new(), None);
            }
            assert_eq!(s.keys("b/"), ["b/1", "b/2"]);
            assert_eq!(s.keys("").len(), 4);
        }

        #[test]
        fn concurrent_incr_is_atomic() {
            let s = std::sync::Arc::new(MemoryStore::new());
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        for _ in 0..1000 {
                            s.incr("c", 1).expect("counter");
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().expect("thread");
            }
            assert_eq!(s.get("c").as_deref(), Some(&b"4000"[..]));
        }
    }
}
