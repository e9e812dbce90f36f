//! State operations on the metrics ([`crate::metrics`]): a [`Store`] that wraps the real
//! one (in memory, or Redis in a cluster) and counts each call by operation and outcome,
//! and the value bytes read and written.
//!
//! Every series is resolved once, when the server starts, so a state call costs a few
//! atomic adds and no label lookup.

use berth_core::state::{StateError, Store};
use prometheus::IntCounter;

/// The operations counted, as labels.
pub(crate) const OPS: [&str; 5] = ["get", "set", "delete", "incr", "keys"];
/// The outcomes counted, as labels: done, refused by a quota or a bad value (a stored
/// value that is not an integer, an overflow), or the store was unreachable.
pub(crate) const OUTCOMES: [&str; 3] = ["ok", "refused", "unavailable"];

/// The series of [`MeteredStore`], resolved once.
pub(crate) struct StateSeries {
    /// `[op][outcome]`, in the order of [`OPS`] and [`OUTCOMES`].
    pub(crate) ops: [[IntCounter; 3]; 5],
    pub(crate) read_bytes: IntCounter,
    pub(crate) written_bytes: IntCounter,
}

/// A store that counts what goes through it.
pub(crate) struct MeteredStore {
    inner: Box<dyn Store>,
    series: StateSeries,
}

#[derive(Clone, Copy)]
enum Op {
    Get = 0,
    Set = 1,
    Delete = 2,
    Incr = 3,
    Keys = 4,
}

impl MeteredStore {
    pub(crate) fn new(inner: Box<dyn Store>, series: StateSeries) -> MeteredStore {
        MeteredStore { inner, series }
    }

    fn count<T>(&self, op: Op, r: Result<T, StateError>) -> Result<T, StateError> {
        let outcome = match &r {
            Ok(_) => 0,
            Err(StateError::Unavailable(_)) => 2,
            Err(_) => 1,
        };
        self.series.ops[op as usize][outcome].inc();
        r
    }
}

impl Store for MeteredStore {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let r = self.count(Op::Get, self.inner.get(ns, key));
        if let Ok(Some(value)) = &r {
            self.series.read_bytes.inc_by(value.len() as u64);
        }
        r
    }

    fn set(
        &self,
        ns: &str,
        key: &str,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), StateError> {
        let len = value.len() as u64;
        let r = self.count(Op::Set, self.inner.set(ns, key, value, ttl_ms));
        if r.is_ok() {
            self.series.written_bytes.inc_by(len);
        }
        r
    }

    fn delete(&self, ns: &str, key: &str) -> Result<bool, StateError> {
        self.count(Op::Delete, self.inner.delete(ns, key))
    }

    fn incr(&self, ns: &str, key: &str, delta: i64) -> Result<i64, StateError> {
        self.count(Op::Incr, self.inner.incr(ns, key, delta))
    }

    fn keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StateError> {
        self.count(Op::Keys, self.inner.keys(ns, prefix))
    }
}
