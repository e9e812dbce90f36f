//! A `berth.toml` as the desktop adapter's [`DesktopConfig`]: one reading of the
//! schema ([`berth_config`]) for `berth serve --runtime embedded`, `berth device pack`
//! and the tests, so the device serves what the desktop run showed. What the embedded
//! runtime cannot honour is refused here, with a reason, never ignored.

use std::fmt;
use std::io;
use std::path::PathBuf;

use berth_config::{Config, PluginFilesError, StaticMountConfig};

use super::{DesktopConfig, DesktopPlugin};
use crate::files::StaticConfig;

/// The most bytes of static files one config may bring: the embedded runtime holds
/// them in memory (and a device in its flash partition).
pub const MAX_STATIC_BYTES: u64 = 64 << 20;

/// Why a config cannot run on the embedded runtime.
#[derive(Debug)]
pub enum FromConfigError {
    /// `[server] ws_port`: the embedded runtime has one port, and serves WebSockets on
    /// routes there.
    WsPort,
    /// `[cluster]`: the embedded runtime keeps state, rooms and topics in memory.
    Cluster,
    /// `[server.tls]`: the embedded runtime has no TLS (put a TLS proxy in front of it).
    Tls,
    /// The plugin files the config names cannot be listed.
    Plugins(PluginFilesError),
    /// A plugin file cannot be read.
    Read(PathBuf, io::Error),
    /// A static folder cannot be read, or the folders are over [`MAX_STATIC_BYTES`].
    Static(io::Error),
}

impl fmt::Display for FromConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromConfigError::WsPort => f.write_str(
                "the embedded runtime serves WebSockets on the HTTP port only (drop ws_port)",
            ),
            FromConfigError::Cluster => f.write_str(
                "the embedded runtime keeps state in memory: [cluster] needs the server runtime",
            ),
            FromConfigError::Tls => f.write_str(
                "the embedded runtime has no TLS (drop [server.tls], or put a TLS proxy in front of it)",
            ),
            FromConfigError::Plugins(e) => write!(f, "{e}"),
            FromConfigError::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            FromConfigError::Static(e) => write!(f, "static files: {e}"),
        }
    }
}

impl std::error::Error for FromConfigError {}

impl DesktopConfig {
    /// Reads the plugin files and static folders `config` names, in plugin order, with
    /// its limits, `[server]` allow-lists, `server_name` and `[sse]`.
    pub fn from_config(config: &Config) -> Result<DesktopConfig, FromConfigError> {
        if config.ws_port.is_some() {
            return Err(FromConfigError::WsPort);
        }
        if config.cluster.is_some() {
            return Err(FromConfigError::Cluster);
        }
        if config.tls.is_some() {
            return Err(FromConfigError::Tls);
        }
        let mut plugins = Vec::new();
        for (name, path) in config.plugin_files().map_err(FromConfigError::Plugins)? {
            let bytes = std::fs::read(&path).map_err(|e| FromConfigError::Read(path, e))?;
            plugins.push(DesktopPlugin {
                config: config.plugin_pairs(&name),
                gpio: config.gpio_grant(&name),
                name,
                bytes,
            });
        }
        let mut options = DesktopConfig::options(config.limits, config.server_name.clone());
        options.allow = config.allow.clone();
        options.sse = Some(config.sse.settings(&config.limits));
        options.shutdown_timeout_ms =
            u64::try_from(config.shutdown_timeout.as_millis()).unwrap_or(u64::MAX);
        Ok(DesktopConfig {
            addr: format!("{}:{}", config.host, config.port),
            options,
            plugins,
            statics: static_files(config, &[])?,
        })
    }
}

/// The static folders, mounts and grants of `config` read from disk, with `extra`
/// mounts after its `[[static]]` ones (`berth device pack --static PREFIX=DIR`).
pub fn static_files(
    config: &Config,
    extra: &[StaticMountConfig],
) -> Result<StaticConfig, FromConfigError> {
    let mounts: Vec<(String, PathBuf, u32)> = config
        .statics
        .mounts
        .iter()
        .chain(extra)
        .map(|m| (m.prefix.clone(), m.dir.clone(), m.max_age))
        .collect();
    let grants: Vec<(String, Vec<PathBuf>)> = config
        .statics
        .grants
        .iter()
        .map(|(plugin, dirs)| (plugin.clone(), dirs.clone()))
        .collect();
    let mut statics =
        super::statics::static_config(&config.statics.base, &mounts, &grants, MAX_STATIC_BYTES)
            .map_err(FromConfigError::Static)?;
    // Only precompressed siblings are served here; the levels are the server's.
    statics.compression = config.compression.policy.clone();
    Ok(statics)
}
