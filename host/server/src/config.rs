//! `berth.toml`: the server's configuration file.
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_core::allow::AllowLists;
use berth_core::device::GpioGrant;
use berth_core::limits::Limits;

use crate::config_serving::{GrantSection, LogSection, SseSection, StaticSection};
pub use crate::config_serving::{LogConfig, LogFormat, SseConfig, StaticConfig, StaticMountConfig};
use berth_core::model::Pairs;
use serde::Deserialize;

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
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PluginsSection {
    dir: Option<PathBuf>,
    load: Option<Vec<String>>,
}

/// `[limits]`: sizes in bytes, times in (fractional) seconds.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    max_body_size: Option<usize>,
    max_request_line: Option<usize>,
    max_headers: Option<usize>,
    max_header_size: Option<usize>,
    header_timeout: Option<f64>,
    body_timeout: Option<f64>,
    keep_alive_timeout: Option<f64>,
    max_keep_alive_requests: Option<u32>,
    max_connections: Option<usize>,
    ws_max_frame: Option<usize>,
    ws_max_message: Option<usize>,
    ws_max_connections: Option<usize>,
    ws_send_queue: Option<usize>,
    ws_ping_interval: Option<f64>,
    ws_pong_timeout: Option<f64>,
    plugin_timeout: Option<f64>,
    request_timeout: Option<f64>,
    plugin_memory: Option<usize>,
    wasi_plugin_memory: Option<usize>,
    state_max_keys: Option<usize>,
    state_max_bytes: Option<usize>,
    state_max_value: Option<usize>,
    sse_max_topics: Option<usize>,
    sse_replay_bytes: Option<usize>,
    max_timers: Option<usize>,
    timer_min_interval: Option<f64>,
    max_response_headers: Option<usize>,
    stream_timeout: Option<f64>,
}

/// Seconds as whole milliseconds; negative and NaN are 0, and huge values saturate
/// (`as` from a float saturates), so no value from a file can panic.
fn millis(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1000.0).round() as u64
}

impl LimitsSection {
    fn apply(self, l: &mut Limits) {
        let LimitsSection {
            max_body_size,
            max_request_line,
            max_headers,
            max_header_size,
            header_timeout,
            body_timeout,
            keep_alive_timeout,
            max_keep_alive_requests,
            max_connections,
            ws_max_frame,
            ws_max_message,
            ws_max_connections,
            ws_send_queue,
            ws_ping_interval,
            ws_pong_timeout,
            plugin_timeout,
            request_timeout,
            plugin_memory,
            wasi_plugin_memory,
            state_max_keys,
            state_max_bytes,
            state_max_value,
            sse_max_topics,
            sse_replay_bytes,
            max_timers,
            timer_min_interval,
            max_response_headers,
            stream_timeout,
        } = self;
        if let Some(v) = max_response_headers {
            l.max_response_headers = v;
        }
        if let Some(v) = stream_timeout {
            l.stream_timeout_ms = millis(v);
        }
        if let Some(v) = max_body_size {
            l.max_body_size = v;
        }
        if let Some(v) = max_request_line {
            l.max_request_line = v;
        }
        if let Some(v) = max_headers {
            l.max_headers = v;
        }
        if let Some(v) = max_header_size {
            l.max_header_size = v;
        }
        if let Some(v) = header_timeout {
            l.header_timeout_ms = millis(v);
        }
        if let Some(v) = body_timeout {
            l.body_timeout_ms = millis(v);
        }
        if let Some(v) = keep_alive_timeout {
            l.keep_alive_timeout_ms = millis(v);
        }
        if let Some(v) = max_keep_alive_requests {
            l.max_keep_alive_requests = v;
        }
        if let Some(v) = max_connections {
            l.max_connections = v;
        }
        if let Some(v) = ws_max_frame {
            l.ws_max_frame = v;
        }
        if let Some(v) = ws_max_message {
            l.ws_max_message = v;
        }
        if let Some(v) = ws_max_connections {
            l.ws_max_connections = v;
        }
        if let Some(v) = ws_send_queue {
            l.ws_send_queue = v;
        }
        if let Some(v) = ws_ping_interval {
            l.ws_ping_interval_ms = millis(v);
        }
        if let Some(v) = ws_pong_timeout {
            l.ws_pong_timeout_ms = millis(v);
        }
        if let Some(v) = plugin_timeout {
            l.plugin_timeout_ms = millis(v);
        }
        if let Some(v) = request_timeout {
            l.request_timeout_ms = millis(v);
        }
        if let Some(v) = plugin_memory {
            l.plugin_memory = v;
        }
        if let Some(v) = wasi_plugin_memory {
            l.wasi_plugin_memory = v;
        }
        if let Some(v) = state_max_keys {
            l.state_max_keys = v;
        }
        if let Some(v) = state_max_bytes {
            l.state_max_bytes = v;
        }
        if let Some(v) = state_max_value {
            l.state_max_value = v;
        }
        if let Some(v) = sse_max_topics {
            l.sse_max_topics = v;
        }
        if let Some(v) = sse_replay_bytes {
            l.sse_replay_bytes = v;
        }
        if let Some(v) = max_timers {
            l.max_timers = v;
        }
        if let Some(v) = timer_min_interval {
            l.timer_min_interval_ms = millis(v);
        }
    }
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
        if let Some(dir) = file.plugins.dir {
            config.plugins_dir = base.join(dir);
        } else {
            config.plugins_dir = base.join("plugins");
        }
        config.load = file.plugins.load;
        file.limits.apply(&mut config.limits);
        config.gpio_grants = crate::config_serving::resolve_gpio(&file.grants)?;
        config.statics = crate::config_serving::resolve_static(file.statics, file.grants, base)?;
        config.sse = file.sse.resolve()?;
        config.log = file.log.resolve(base);
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
#[path = "config_tests.rs"]
mod tests;
