//! `[admin]`: the operator's listener, never the public port.
//!
//! ```toml
//! [admin]
//! listen = "127.0.0.1:9464"   # Prometheus metrics at /metrics, /healthz, /readyz (default: off)
//! token = "…"                 # a device's /_berth/plugins endpoint (default: off)
//! max_upload = 1048576        # the largest .wasm a push may send, bytes
//! ```
//!
//! Only the server runtime opens `listen`. `token` and `max_upload` are packed into a
//! device's plugin store by `berth device pack` (the token as its SHA-256) and turn on
//! the device's admin endpoint for pushing plugins (berth-embedded's `admin`); the
//! server runtime does not use them.

use serde::Deserialize;

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// Where the admin listener binds (`host:port`); `None` opens none. Separate from
    /// the public listeners so metrics and health checks are never served to clients.
    pub listen: Option<String>,
    /// The bearer token a device's admin endpoint (`/_berth/plugins`) requires; `None`
    /// leaves the endpoint off. Packed into the store as its SHA-256.
    pub token: Option<String>,
    /// The largest plugin, in bytes, a push to a device may upload (the store's slot
    /// bounds it too). It is streamed to flash, then loaded to be validated.
    #[serde(default = "default_max_upload")]
    pub max_upload: usize,
}

/// `[admin] max_upload`'s default: 1 MiB.
pub const DEFAULT_MAX_UPLOAD: usize = 1 << 20;

fn default_max_upload() -> usize {
    DEFAULT_MAX_UPLOAD
}

impl Default for Admin {
    fn default() -> Admin {
        Admin {
            listen: None,
            token: None,
            max_upload: DEFAULT_MAX_UPLOAD,
        }
    }
}
