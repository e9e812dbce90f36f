//! Key-value state kept by the host: this plugin's own namespace, and ([`shared`]) the
//! namespace every plugin shares (seed 000's `app.state`).
//!
//! State never lives in plugin globals: the host pools instances and may replace one
//! at any time, so anything that must outlive a request goes here.
//!
//! ```no_run
//! use berth_sdk::state;
//! use std::time::Duration;
//!
//! let hits = state::incr("hits", 1).unwrap_or(0);
//! state::set("greeting", "hello");
//! state::set_ttl("session:abc", "alice", Duration::from_secs(60));
//! state::set_json("user:1", &serde_json::json!({"name": "Alice"}))?; // quota → Err
//! let name: Option<serde_json::Value> = state::get_json("user:1");
//! for key in state::keys("user:") { /* sorted */ }
//! state::shared::incr("requests", 1).ok();
//! // On a cluster whose Redis is down, the `try_` forms say so (`?` answers 503);
//! // the others answer "missing", `false` or no keys and the host logs why.
//! let owner: Option<String> = state::try_get_string("owner")?;
//! # Ok::<(), state::StateError>(())
//! ```

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::host::{self, Scope};

/// Why the host did not store or change a value. Converts into
/// [`Error`](crate::Error) (507 for [`StateError::Refused`], else 500), so `?` works in
/// handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// A write would pass the namespace's quota (`[limits] state_max_keys`,
    /// `state_max_bytes`, `state_max_value`); nothing was stored. The host's reason.
    Refused(String),
    /// An increment failed: the stored value is not an integer, the sum overflows, or a
    /// new key would pass the quota. The host's reason.
    Incr(String),
    /// The value could not be serialized as JSON.
    Encode(String),
    /// The host could not reach its store in time (a cluster node whose Redis is down
    /// or too slow): nothing was read or changed. The host's reason.
    Unavailable(String),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Refused(why) => write!(f, "state write refused: {why}"),
            StateError::Incr(why) => write!(f, "state increment failed: {why}"),
            StateError::Encode(why) => write!(f, "cannot encode state value: {why}"),
            StateError::Unavailable(why) => f.write_str(why),
        }
    }
}

/// How the host's reason starts when the store could not be reached (a cluster node
/// whose Redis is down or too slow): berth-core's `state::UNAVAILABLE`.
const UNAVAILABLE: &str = "state store unavailable";

impl StateError {
    /// Whether the host could not reach its store (a cluster's Redis is down): the
    /// write may be retried later, and [`Error`](crate::Error) answers it with 503.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StateError::Unavailable(_) => true,
            StateError::Refused(why) | StateError::Incr(why) => why.starts_with(UNAVAILABLE),
            StateError::Encode(_) => false,
        }
    }

    /// The host's (or the encoder's) reason, without the kind.
    pub fn reason(&self) -> &str {
        match self {
            StateError::Refused(why)
            | StateError::Incr(why)
            | StateError::Encode(why)
            | StateError::Unavailable(why) => why,
        }
    }

    /// The host's reason for a failed call as `kind`, or as [`StateError::Unavailable`]
    /// when the store could not be reached.
    fn from_host(kind: fn(String) -> StateError) -> impl Fn(String) -> StateError {
        move |why| {
            if why.starts_with(UNAVAILABLE) {
                StateError::Unavailable(why)
            } else {
                kind(why)
            }
        }
    }
}

impl std::error::Error for StateError {}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Encode(e.to_string()))
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

macro_rules! scoped_api {
    ($scope:expr) => {
        /// The value stored under `key`.
        pub fn get(key: &str) -> Option<Vec<u8>> {
            host::state_get($scope, key)
        }

        /// The value under `key` as text (`None` if absent or not UTF-8).
        pub fn get_string(key: &str) -> Option<String> {
            String::from_utf8(get(key)?).ok()
        }

        /// The value under `key` parsed as JSON (`None` if absent or not a `T`).
        pub fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
            $crate::json::from_slice(&get(key)?).ok()
        }

        /// Stores `value` under `key`, without expiry. A refusal (over the namespace's
        /// quota) goes to this plugin's log; use [`try_set`] to handle it.
        pub fn set(key: &str, value: impl AsRef<[u8]>) {
            host::state_set($scope, key, value.as_ref(), None)
        }

        /// Stores `value` under `key`; it expires after `ttl`.
        pub fn set_ttl(key: &str, value: impl AsRef<[u8]>, ttl: Duration) {
            host::state_set($scope, key, value.as_ref(), Some(ttl_ms(ttl)))
        }

        /// Stores `value` under `key`, or says why the host refused: the namespace's
        /// quota (`[limits] state_max_keys`, `state_max_bytes`, `state_max_value`)
        /// would be passed. [`set`] logs that instead.
        pub fn try_set(key: &str, value: impl AsRef<[u8]>) -> Result<(), StateError> {
            host::state_try_set($scope, key, value.as_ref(), None)
                .map_err(StateError::from_host(StateError::Refused))
        }

        /// [`try_set`] with an expiry.
        pub fn try_set_ttl(
            key: &str,
            value: impl AsRef<[u8]>,
            ttl: Duration,
        ) -> Result<(), StateError> {
            host::state_try_set($scope, key, value.as_ref(), Some(ttl_ms(ttl)))
                .map_err(StateError::from_host(StateError::Refused))
        }

        /// Stores `value` as JSON under `key`, or says why not (the quota, as
        /// [`try_set`], or a value that does not serialize).
        pub fn set_json(key: &str, value: &impl Serialize) -> Result<(), StateError> {
            try_set(key, encode(value)?)
        }

        /// [`set_json`] with an expiry.
        pub fn set_json_ttl(
            key: &str,
            value: &impl Serialize,
            ttl: Duration,
        ) -> Result<(), StateError> {
            try_set_ttl(key, encode(value)?, ttl)
        }

        /// Atomically adds `delta` to the integer under `key` (missing counts as 0) and
        /// returns the new value; fails when the stored value is not an integer. The
        /// key keeps its expiry, if it has one.
        pub fn incr(key: &str, delta: i64) -> Result<i64, StateError> {
            host::state_incr($scope, key, delta).map_err(StateError::from_host(StateError::Incr))
        }

        /// The integer under `key` (0 when absent or not an integer).
        pub fn get_i64(key: &str) -> i64 {
            get_string(key)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        }

        /// Removes `key`; returns whether it existed.
        pub fn delete(key: &str) -> bool {
            host::state_delete($scope, key)
        }

        /// The live keys starting with `prefix`, sorted.
        pub fn keys(prefix: &str) -> Vec<String> {
            host::state_keys($scope, prefix)
        }

        /// [`get`], or [`StateError::Unavailable`] when the host could not reach its
        /// store (where [`get`] answers `None`).
        pub fn try_get(key: &str) -> Result<Option<Vec<u8>>, StateError> {
            host::state_try_get($scope, key).map_err(StateError::Unavailable)
        }

        /// [`get_string`] that reports an unreachable store.
        pub fn try_get_string(key: &str) -> Result<Option<String>, StateError> {
            Ok(try_get(key)?.and_then(|v| String::from_utf8(v).ok()))
        }

        /// [`get_json`] that reports an unreachable store.
        pub fn try_get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, StateError> {
            Ok(try_get(key)?.and_then(|v| $crate::json::from_slice(&v).ok()))
        }

        /// [`delete`] that reports an unreachable store.
        pub fn try_delete(key: &str) -> Result<bool, StateError> {
            host::state_try_delete($scope, key).map_err(StateError::Unavailable)
        }

        /// [`keys`] that reports an unreachable store.
        pub fn try_keys(prefix: &str) -> Result<Vec<String>, StateError> {
            host::state_try_keys($scope, prefix).map_err(StateError::Unavailable)
        }
    };
}

scoped_api!(Scope::Plugin);

/// The namespace every plugin shares: the same functions as [`state`](crate::state).
pub mod shared {
    use super::*;
    scoped_api!(Scope::Shared);
}
