//! # berth-config
//!
//! `berth.toml`, the one configuration file of every Berth runtime: its schema, defaults
//! and checks. The desktop server (`berth-server`), the embedded runtime's desktop
//! adapter (`berth-embedded`'s `desktop`), and the `berth` command's `serve`, `inspect`
//! and `device pack` all read it through [`Config::load`], so a key means the same
//! everywhere and a typo is the same error everywhere.
//!
//! ```no_run
//! let config = berth_config::Config::load("berth.toml".as_ref())?;
//! for (name, path) in config.plugin_files()? {
//!     println!("{name}: {}", path.display());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The file:
//!
//!
//! ```toml
//! [server]
//! host = "127.0.0.1"      # bind address
//! port = 8000             # HTTP port (0 picks a free one)
//! ws_port = 8765          # optional dedicated WebSocket port (every path is a WebSocket)
//! cache_dir = ".cache"    # compiled plugins (default: $XDG_CACHE_HOME/berth; "" for none)
//! engine = "wasmtime"     # or "wasmi"
//! server_name = "Berth"   # the Server header ("" for none)
//! shutdown_timeout = 10.0 # seconds open requests get to finish at SIGINT/SIGTERM
//! allowed_hosts = ["example.com", "*.example.com", "127.0.0.1:8000"] # else 421 (default: any)
//! allowed_origins = ["https://example.com"] # WebSocket upgrades from elsewhere: 403 (default: any)
//!
//! [plugins]
//! dir = "plugins"                    # relative to this file
//! load = ["cors", "logger", "users"] # which plugins, in order (default: every *.wasm by name)
//!
//! [limits]
//! max_body_size = 1048576
//! plugin_timeout = 1.0               # seconds, one plugin call
//! request_timeout = 5.0              # seconds, all plugin calls of one request together
//! state_max_keys = 10000             # keys per state namespace (a plugin's, or shared)
//! state_max_bytes = 16777216         # bytes per state namespace
//! state_max_value = 1048576          # bytes per state value
//! sse_max_topics = 256               # SSE topics kept at once
//! sse_replay_bytes = 65536           # bytes of replay kept per topic
//! max_timers = 64                    # timers over all plugins
//! timer_min_interval = 0.01          # seconds: the shortest timer interval
//!
//! [plugin.auth]                      # passed to the auth plugin's setup
//! secret = "my-secret-key"
//!
//! [[static]]                         # the host serves ./www at /static
//! prefix = "/static"
//! dir = "www"                        # relative to this file
//! max_age = 3600                     # Cache-Control: max-age (default 3600)
//!
//! [grants.micro-api]                 # folders a plugin may serve files from
//! dirs = ["www", "data"]
//!
//! [grants.device]                    # GPIO pins a plugin may drive and read (0-63)
//! gpio = [2, 8]
//!
//! [sse]
//! heartbeat = 15.0                   # seconds between comment lines to idle clients
//! replay = 100                       # events kept per topic for Last-Event-ID
//! queue = 64                         # events queued per client before it is dropped
//!
//! [log]                              # read by `berth serve`
//! format = "pretty"                  # or "json", "none"
//! file = "server.log"                # instead of the console; rotated by size
//! max_size = 10485760                # bytes before rotation
//! backups = 3                        # server.log.1 … server.log.3
//! level = "info"                     # RUST_LOG, when set, replaces level and modules
//! modules = { access = "info", plugin = "debug" }
//!
//! [reload]                           # hot swap (reload.rs)
//! watch = true                       # swap plugins as their files change
//! settle = 0.2                       # seconds a changed file must be left alone
//!
//! [cluster]                          # several nodes through Redis (cluster.rs)
//! redis = "redis://127.0.0.1:6379"
//! node = "a"                         # default: host name + pid
//!
//! [server.tls]                       # TLS on the server runtime (tls.rs)
//! cert = "cert.pem"                  # PEM chain, leaf first
//! key = "key.pem"
//! listeners = ["http", "ws"]         # default: both
//!
//! [server.http2]                     # h2 by ALPN, h2c with prior knowledge (tls.rs)
//! enabled = true
//! max_concurrent_streams = 100
//!
//! [admin]                            # metrics and health checks (admin.rs)
//! listen = "127.0.0.1:9464"          # default: off
//!
//! [server.websocket]                 # permessage-deflate (websocket.rs)
//! permessage_deflate = true          # false: never compress WebSocket messages
//! deflate_window_bits = 15           # 9-15: LZ77 window, memory per connection
//! deflate_context_takeover = true    # false: each message compressed on its own
//!
//! [server.compression]               # gzip and brotli responses (compression.rs)
//! enabled = true                     # default: on; false sends everything as it is
//! algorithms = ["br", "gzip"]
//! min_size = 1024
//! max_size = 8388608
//!
//! [trace]                            # OpenTelemetry spans over OTLP/HTTP (trace.rs)
//! otlp = "http://127.0.0.1:4318/v1/traces"  # default: off
//! ```
//!
//! **Static files are capabilities.** A plugin never reaches the file system on its own:
//! its `mount_static(prefix, dir, max_age)` is honoured only when `dir` (relative to this
//! file) lies inside a folder that `[grants.<plugin>] dirs` lists, and its
//! `Response::file(path)` (relative to this file too) is served only from inside those
//! folders — anything else answers 403, and an ungranted mount is skipped with a
//! warning at start-up. `[[static]]` mounts need no grant: the operator wrote them.
//!
//! **Pins are capabilities too.** `gpio-write` and `gpio-read` reach the host only for
//! pins `[grants.<plugin>] gpio` lists; any other pin is `not-granted` (and a warning
//! naming the plugin and the pin). The check lives in berth-core, so every host and
//! engine applies it alike.
//!
//! Unknown keys are errors, so a typo never silently falls back to a default.

#![deny(missing_docs)]

mod admin;
mod cluster;
mod compression;
mod limits;
mod plugins;
mod reload;
mod serving;
mod tls;
mod trace;
mod websocket;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_core::allow::AllowLists;
use berth_core::device::GpioGrant;
use berth_core::limits::Limits;
use berth_core::model::Pairs;
use serde::Deserialize;

pub use crate::admin::Admin;
pub use crate::cluster::{ClusterConfig, TimerScope};
pub use crate::compression::CompressionConfig;
use crate::limits::{millis, LimitsSection};
pub use crate::plugins::PluginFilesError;
pub use crate::reload::ReloadConfig;
use crate::serving::{GrantSection, LogSection, SseSection, StaticSection};
pub use crate::serving::{
    LogConfig, LogFormat, SseConfig, StaticConfig, StaticMountConfig, DEFAULT_MAX_AGE,
};
pub use crate::tls::{Http2Config, Listener, TlsConfig};
pub use crate::trace::TraceConfig;
pub use crate::websocket::WebSocketConfig;

/// Which engine runs the plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Cranelift-compiled, pooled instances: the server default.
    #[default]
    Wasmtime,
    /// The interpreter that also runs on microcontrollers.
    Wasmi,
}

impl EngineKind {
    /// Parses `wasmtime` or `wasmi`.
    pub fn parse(name: &str) -> Option<EngineKind> {
        match name {
            "wasmtime" => Some(EngineKind::Wasmtime),
            "wasmi" => Some(EngineKind::Wasmi),
            _ => None,
        }
    }
}

/// The whole configuration, with paths already resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bind address.
    pub host: String,
    /// HTTP port; 0 picks a free port.
    pub port: u16,
    /// The dedicated WebSocket port (seed 000's 8765), where every path is a WebSocket
    /// served by the `ws:*` hooks; `None` for none, `Some(0)` picks a free one.
    pub ws_port: Option<u16>,
    /// The engine.
    pub engine: EngineKind,
    /// Where wasmtime keeps compiled plugins between runs; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// The `Server` header; `None` sends none.
    pub server_name: Option<String>,
    /// How long a graceful shutdown waits for open requests and WebSocket close
    /// handshakes before it closes what is left.
    pub shutdown_timeout: std::time::Duration,
    /// Where plugin files live.
    pub plugins_dir: PathBuf,
    /// Plugins to load, in order; `None` loads every `*.wasm` in `plugins_dir` by name.
    pub load: Option<Vec<String>>,
    /// Limits.
    pub limits: Limits,
    /// Each plugin's table, flattened to the pairs its `setup` receives.
    pub plugin_config: BTreeMap<String, Pairs>,
    /// `[[static]]` mounts and `[grants] dirs`.
    pub statics: StaticConfig,
    /// `[grants.<plugin>] gpio`: the pins each plugin may use (absent: none).
    pub gpio_grants: BTreeMap<String, GpioGrant>,
    /// `[sse]`.
    pub sse: SseConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `allowed_hosts` and `allowed_origins` (see [`berth_core::allow`]): both runtimes
    /// check them before any plugin runs.
    pub allow: AllowLists,
    // --- hot swap (reload.rs) ---
    /// `[reload]`.
    pub reload: crate::reload::ReloadConfig,
    /// `[cluster]`: Redis-backed scale-out (`None`: everything stays in-process).
    pub cluster: Option<ClusterConfig>,
    // --- operations (tls.rs, admin.rs) ---
    /// `[server.tls]`: `None` serves plain TCP.
    pub tls: Option<TlsConfig>,
    /// `[server.http2]`.
    pub http2: Http2Config,
    /// `[admin]`.
    pub admin: Admin,
    /// `[server.websocket]`: permessage-deflate.
    pub websocket: WebSocketConfig,
    /// `[trace]`: OpenTelemetry export (`None`: off).
    pub trace: Option<TraceConfig>,
    /// `[server.compression]` (compression.rs).
    pub compression: CompressionConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 8000,
            ws_port: None,
            cache_dir: default_cache_dir(),
            engine: EngineKind::Wasmtime,
            server_name: Some(format!("Berth/{}", env!("CARGO_PKG_VERSION"))),
            shutdown_timeout: std::time::Duration::from_secs(10),
            plugins_dir: PathBuf::from("plugins"),
            load: None,
            limits: Limits::default(),
            plugin_config: BTreeMap::new(),
            statics: StaticConfig::default(),
            gpio_grants: BTreeMap::new(),
            sse: SseConfig::default(),
            log: LogConfig::default(),
            allow: AllowLists::default(),
            reload: crate::reload::ReloadConfig::default(),
            cluster: None,
            tls: None,
            http2: Http2Config::default(),
            admin: Admin::default(),
            websocket: WebSocketConfig::default(),
            trace: None,
            compression: CompressionConfig::default(),
        }
    }
}

/// `$XDG_CACHE_HOME/berth`, else `$HOME/.cache/berth`, else none.
fn default_cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty());
    let base = xdg
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("berth"))
}

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the parser said, with the line.
        message: String,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    plugins: PluginsSection,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    plugin: BTreeMap<String, toml::Table>,
    #[serde(default, rename = "static")]
    statics: Vec<StaticSection>,
    #[serde(default)]
    grants: BTreeMap<String, GrantSection>,
    #[serde(default)]
    sse: SseSection,
    #[serde(default)]
    log: LogSection,
    // --- hot swap (reload.rs) ---
    #[serde(default)]
    reload: crate::reload::ReloadSection,
    // --- scale-out (cluster.rs) ---
    #[serde(default)]
    cluster: crate::cluster::ClusterSection,
    // --- operations (tls.rs, admin.rs) ---
    #[serde(default)]
    admin: Admin,
    #[serde(default)]
    trace: crate::trace::TraceSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    host: Option<String>,
    port: Option<u16>,
    ws_port: Option<u16>,
    engine: Option<EngineKind>,
    cache_dir: Option<PathBuf>,
    server_name: Option<String>,
    shutdown_timeout: Option<f64>,
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    tls: Option<crate::tls::TlsSection>,
    #[serde(default)]
    http2: crate::tls::Http2Section,
    #[serde(default)]
    websocket: crate::websocket::WebSocketSection,
    #[serde(default)]
    compression: crate::compression::CompressionSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PluginsSection {
    dir: Option<PathBuf>,
    load: Option<Vec<String>>,
}

/// A TOML value as the text a plugin's `setup` receives: scalars as themselves,
/// arrays and tables as JSON.
fn config_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => json_text(other),
    }
}

fn json_text(value: &toml::Value) -> String {
    let mut out = String::new();
    match value {
        toml::Value::String(s) => berth_core::json::write_str(&mut out, s),
        toml::Value::Datetime(d) => berth_core::json::write_str(&mut out, &d.to_string()),
        toml::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(json_text).collect();
            out = format!("[{}]", parts.join(","));
        }
        toml::Value::Table(t) => {
            let parts: Vec<String> = t
                .iter()
                .map(|(k, v)| {
                    let mut key = String::new();
                    berth_core::json::write_str(&mut key, k);
                    format!("{key}:{}", json_text(v))
                })
                .collect();
            out = format!("{{{}}}", parts.join(","));
        }
        scalar => out = config_text(scalar),
    }
    out
}

impl Config {
    /// Reads a config file; relative paths in it resolve against the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // `berth.toml`'s parent is the empty path, which names no folder (canonicalising
        // it fails, so every granted file answered 403): that is the current folder.
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses config text; `base` is the folder relative paths resolve against.
    pub fn parse(text: &str, base: &Path) -> Result<Config, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut config = Config::default();
        let s = file.server;
        if let Some(host) = s.host {
            config.host = host;
        }
        if let Some(port) = s.port {
            config.port = port;
        }
        config.ws_port = s.ws_port;
        if let Some(dir) = s.cache_dir {
            config.cache_dir = (!dir.as_os_str().is_empty()).then(|| base.join(dir));
        }
        if let Some(engine) = s.engine {
            config.engine = engine;
        }
        if let Some(name) = s.server_name {
            config.server_name = (!name.is_empty()).then_some(name);
        }
        if let Some(seconds) = s.shutdown_timeout {
            config.shutdown_timeout = std::time::Duration::from_millis(millis(seconds));
        }
        config.allow = AllowLists {
            hosts: s.allowed_hosts,
            origins: s.allowed_origins,
        };
        config.tls = s.tls.map(|t| t.resolve(base)).transpose()?;
        config.http2 = s.http2.resolve()?;
        config.websocket = s.websocket.resolve()?;
        config.compression = s.compression.resolve()?;
        config.admin = file.admin;
        config.trace = file.trace.resolve()?;
        if let Some(dir) = file.plugins.dir {
            config.plugins_dir = base.join(dir);
        } else {
            config.plugins_dir = base.join("plugins");
        }
        config.load = file.plugins.load;
        file.limits.apply(&mut config.limits);
        config.gpio_grants = crate::serving::resolve_gpio(&file.grants)?;
        config.statics = crate::serving::resolve_static(file.statics, file.grants, base)?;
        config.sse = file.sse.resolve()?;
        config.log = file.log.resolve(base);
        config.reload = file.reload.resolve()?;
        config.cluster = file.cluster.resolve(base)?;
        config.plugin_config = file
            .plugin
            .into_iter()
            .map(|(name, table)| {
                let pairs = table
                    .iter()
                    .map(|(k, v)| (k.clone(), config_text(v)))
                    .collect();
                (name, pairs)
            })
            .collect();
        Ok(config)
    }

    /// The GPIO pins `plugin` may use (none when `[grants.<plugin>] gpio` is absent).
    pub fn gpio_grant(&self, plugin: &str) -> GpioGrant {
        self.gpio_grants.get(plugin).copied().unwrap_or_default()
    }

    /// The pairs passed to `plugin`'s setup (empty when it has no table).
    pub fn plugin_pairs(&self, plugin: &str) -> Pairs {
        self.plugin_config.get(plugin).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
