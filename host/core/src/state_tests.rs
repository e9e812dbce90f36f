//! The store's rules, on a clock the test moves.

use super::*;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec;
use core::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Default)]
struct FakeClock(Arc<AtomicU64>);

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn store(quota: Quota) -> (MemoryStore<FakeClock>, FakeClock) {
    let clock = FakeClock::default();
    (MemoryStore::new(quota, clock.clone()), clock)
}

const ROOMY: Quota = Quota {
    max_keys: 1000,
    max_bytes: 1 << 20,
    max_value: 1 << 16,
};

#[test]
fn set_get_delete() {
    let (s, _) = store(ROOMY);
    assert_eq!(s.get("p", "a").unwrap(), None);
    s.set("p", "a", b"1".to_vec(), None).unwrap();
    assert_eq!(s.get("p", "a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(s.get("q", "a").unwrap(), None, "namespaces are apart");
    assert!(s.delete("p", "a").unwrap());
    assert!(!s.delete("p", "a").unwrap());
    assert_eq!(s.usage("p"), (0, 0));
}

#[test]
fn ttl_expires_on_the_injected_clock() {
    let (s, clock) = store(ROOMY);
    s.set("p", "t", b"x".to_vec(), Some(100)).unwrap();
    clock.0.store(99, Ordering::Relaxed);
    assert_eq!(s.get("p", "t").unwrap().as_deref(), Some(&b"x"[..]));
    clock.0.store(100, Ordering::Relaxed);
    assert_eq!(s.get("p", "t").unwrap(), None);
    assert!(s.keys("p", "").unwrap().is_empty());
}

#[test]
fn incr_counts_keeps_expiry_and_rejects_text() {
    let (s, clock) = store(ROOMY);
    assert_eq!(s.incr("p", "n", 1), Ok(1));
    assert_eq!(s.incr("p", "n", 41), Ok(42));
    assert_eq!(s.incr("p", "n", -2), Ok(40));
    s.set("p", "txt", b"hello".to_vec(), None).unwrap();
    assert_eq!(s.incr("p", "txt", 1), Err(StateError::NotAnInteger));
    s.set("p", "max", i64::MAX.to_string().into_bytes(), None)
        .unwrap();
    assert_eq!(s.incr("p", "max", 1), Err(StateError::Overflow));
    s.set("p", "ttl", b"5".to_vec(), Some(10)).unwrap();
    assert_eq!(s.incr("p", "ttl", 1), Ok(6));
    clock.0.store(10, Ordering::Relaxed);
    assert_eq!(s.get("p", "ttl").unwrap(), None, "incr kept the expiry");
}

#[test]
fn keys_by_prefix_sorted() {
    let (s, _) = store(ROOMY);
    for k in ["b/2", "a/1", "b/1", "c"] {
        s.set("p", k, Vec::new(), None).unwrap();
    }
    assert_eq!(s.keys("p", "b/").unwrap(), ["b/1", "b/2"]);
    assert_eq!(s.keys("p", "").unwrap().len(), 4);
}

#[test]
fn key_count_quota_refuses_new_keys_but_not_overwrites() {
    let (s, _) = store(Quota {
        max_keys: 3,
        ..ROOMY
    });
    for k in ["a", "b", "c"] {
        s.set("p", k, vec![1], None).unwrap();
    }
    let err = s.set("p", "d", vec![1], None).unwrap_err();
    assert_eq!(err, StateError::TooManyKeys { max: 3 });
    assert!(err.to_string().contains("state_max_keys"), "{err}");
    assert_eq!(s.incr("p", "e", 1), Err(StateError::TooManyKeys { max: 3 }));
    s.set("p", "a", vec![2; 100], None).unwrap();
    // Another namespace has its own quota.
    s.set("q", "d", vec![1], None).unwrap();
    assert_eq!(s.usage("p").0, 3);
}

#[test]
fn byte_quota_counts_keys_values_and_overhead() {
    let max_bytes = 10 * (ENTRY_OVERHEAD + 1);
    let (s, _) = store(Quota { max_bytes, ..ROOMY });
    // Empty values still cost their overhead, so a flood of them is bounded.
    let mut stored = 0;
    while s.set("p", &format!("{stored}"), Vec::new(), None).is_ok() {
        stored += 1;
        assert!(stored <= 10);
    }
    assert_eq!(stored, 10);
    assert!(s.usage("p").1 <= max_bytes);
    assert_eq!(
        s.set("p", "x", Vec::new(), None),
        Err(StateError::NamespaceFull { max: max_bytes })
    );
    // Freeing room lets writes in again.
    assert!(s.delete("p", "0").unwrap());
    s.set("p", "x", Vec::new(), None).unwrap();
}

#[test]
fn value_size_is_checked_before_storing() {
    let (s, _) = store(Quota {
        max_value: 8,
        ..ROOMY
    });
    s.set("p", "k", vec![0; 8], None).unwrap();
    assert_eq!(
        s.set("p", "k", vec![0; 9], None),
        Err(StateError::ValueTooLarge { size: 9, max: 8 })
    );
    assert_eq!(
        s.get("p", "k").unwrap(),
        Some(vec![0; 8]),
        "the old value stays"
    );
}

#[test]
fn expired_entries_make_room_when_the_quota_is_reached() {
    let (s, clock) = store(Quota {
        max_keys: 2,
        ..ROOMY
    });
    s.set("p", "a", vec![1], Some(5)).unwrap();
    s.set("p", "b", vec![1], Some(5)).unwrap();
    assert!(s.set("p", "c", vec![1], None).is_err());
    clock.0.store(5, Ordering::Relaxed);
    s.set("p", "c", vec![1], None).unwrap();
    assert_eq!(s.usage("p").0, 1);
    assert_eq!(s.purge_expired(), 0);
}

#[cfg(feature = "std")]
#[test]
fn concurrent_incr_is_atomic() {
    let s = std::sync::Arc::new(MemoryStore::default());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    s.incr("p", "c", 1).expect("counter");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(s.get("p", "c").unwrap().as_deref(), Some(&b"4000"[..]));
}
