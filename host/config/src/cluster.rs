//! `[cluster]`: several server nodes sharing state, WebSockets, SSE and timers through
//! Redis (the server runtime only: the embedded runtime stays in-memory).
//!
//! ```toml
//! [cluster]
//! redis = "redis://:password@127.0.0.1:6379/0"   # or rediss:// for TLS
//! ca_file = "redis-ca.pem"    # rediss:// only: the CA to trust (default: the system's)
//! node = "a"                  # this node's name (default: host name + pid)
//! timeout = 0.5               # seconds: the most one Redis call may hold a plugin call
//! presence_ttl = 5.0          # seconds a dead node's connections stay listed
//! timers = { sse-sensor = "cluster" }  # per plugin: "node" (default) or "cluster"
//! ```
//!
//! Without the section nothing changes: state, rooms and SSE topics live in the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where a plugin's timers fire in a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimerScope {
    /// On every node (each node runs its own copy): the default.
    #[default]
    Node,
    /// On one node at a time: the holder of a lease in Redis, taken over by another
    /// node within a few seconds when the holder dies.
    Cluster,
}

/// `[cluster]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    redis: Option<String>,
    ca_file: Option<PathBuf>,
    node: Option<String>,
    timeout: Option<f64>,
    presence_ttl: Option<f64>,
    #[serde(default)]
    timers: BTreeMap<String, TimerScope>,
}

/// `[cluster]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The Redis URL (`redis://[user:password@]host:port[/db]`, or `rediss://`).
    pub redis: String,
    /// For `rediss://`: the PEM file of the certificate authority to trust instead of
    /// the system's roots (a private CA, a self-signed Redis).
    pub ca_file: Option<PathBuf>,
    /// This node's name, for logs and the lease holder's value; `None` means host name
    /// and process id, made when the server starts.
    pub node: Option<String>,
    /// The most one Redis round trip may take before the call fails: a plugin call
    /// waits at most this long for the store, whatever Redis does.
    pub timeout: Duration,
    /// How long a node's presence lives without a heartbeat: a node killed without
    /// warning drops out of every room and member list within it.
    pub presence_ttl: Duration,
    /// Plugins whose timers are cluster-wide (others fire on every node).
    pub timers: BTreeMap<String, TimerScope>,
}

impl ClusterConfig {
    /// Where `plugin`'s timers fire.
    pub fn timer_scope(&self, plugin: &str) -> TimerScope {
        self.timers.get(plugin).copied().unwrap_or_default()
    }
}

/// Seconds in `range`, or an error naming the key.
fn seconds(
    key: &str,
    value: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Duration, String> {
    if !value.is_finite() || !range.contains(&value) {
        return Err(format!(
            "[cluster] {key} = {value}: expected {} to {} seconds",
            range.start(),
            range.end()
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

impl ClusterSection {
    /// `None` without a section; an error for a section without `redis`, a URL that is
    /// not Redis's, or a bound out of range.
    pub(crate) fn resolve(self, base: &Path) -> Result<Option<ClusterConfig>, String> {
        let Some(redis) = self.redis else {
            if self.node.is_some() || !self.timers.is_empty() || self.timeout.is_some() {
                return Err("[cluster] needs redis = \"redis://host:port\"".into());
            }
            return Ok(None);
        };
        if !(redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(format!(
                "[cluster] redis = {redis:?}: expected a redis:// or rediss:// URL"
            ));
        }
        if self.ca_file.is_some() && !redis.starts_with("rediss://") {
            return Err("[cluster] ca_file needs a rediss:// (TLS) URL".into());
        }
        if let Some(node) = &self.node {
            let ok = !node.is_empty()
                && node.len() <= 64
                && node
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(format!(
                    "[cluster] node = {node:?}: expected 1 to 64 letters, digits, '-', '_' or '.'"
                ));
            }
        }
        Ok(Some(ClusterConfig {
            redis,
            ca_file: self.ca_file.map(|f| base.join(f)),
            node: self.node,
            timeout: seconds("timeout", self.timeout.unwrap_or(0.5), 0.01..=30.0)?,
            presence_ttl: seconds("presence_ttl", self.presence_ttl.unwrap_or(5.0), 1.0..=60.0)?,
            timers: self.timers,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::TimerScope;
    use crate::Config;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn cluster_is_off_by_default_and_resolves_its_keys() {
        let config = Config::parse("", Path::new(".")).expect("empty");
        assert_eq!(config.cluster, None);
        let text = "[cluster]\nredis = \"redis://:pw@127.0.0.1:7000\"\nnode = \"a\"\n\
                    timeout = 0.25\ntimers = { sse-sensor = \"cluster\" }\n";
        let cluster = Config::parse(text, Path::new("."))
            .expect("valid")
            .cluster
            .expect("cluster");
        assert_eq!(cluster.redis, "redis://:pw@127.0.0.1:7000");
        assert_eq!(cluster.node.as_deref(), Some("a"));
        assert_eq!(cluster.timeout, Duration::from_millis(250));
        assert_eq!(cluster.presence_ttl, Duration::from_secs(5));
        assert_eq!(cluster.timer_scope("sse-sensor"), TimerScope::Cluster);
        assert_eq!(cluster.timer_scope("other"), TimerScope::Node);
    }

    #[test]
    fn bad_cluster_sections_are_errors() {
        for (bad, word) in [
            ("node = \"a\"", "needs redis"),
            ("redis = \"http://x\"", "redis://"),
            ("redis = \"redis://x\"\nnode = \"a b\"", "node"),
            ("redis = \"redis://x\"\ntimeout = 0.0", "timeout"),
            (
                "redis = \"redis://x\"\npresence_ttl = 100.0",
                "presence_ttl",
            ),
            (
                "redis = \"redis://x\"\ntimers = { a = \"everywhere\" }",
                "everywhere",
            ),
            ("redis = \"redis://x\"\nredis_url = \"y\"", "redis_url"),
            ("redis = \"redis://x\"\nca_file = \"ca.pem\"", "rediss://"),
        ] {
            let err = Config::parse(&format!("[cluster]\n{bad}\n"), Path::new(".")).expect_err(bad);
            assert!(err.contains(word), "{bad}: {err}");
        }
    }
}
