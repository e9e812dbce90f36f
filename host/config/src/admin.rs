//! `[admin]`: the operator's listener, never the public port.
//!
//! ```toml
//! [admin]
//! listen = "127.0.0.1:9464"   # Prometheus metrics at /metrics, /healthz, /readyz (default: off)
//! ```
//!
//! Only the server runtime opens it.

use serde::Deserialize;

/// `[admin]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// Where the admin listener binds (`host:port`); `None` opens none. Separate from
    /// the public listeners so metrics and health checks are never served to clients.
    pub listen: Option<String>,
}
