//! Loading plugins: find the files, compile them, create each pool (which runs `setup`
//! with the plugin's config table), and assemble the registrations into one [`App`].
//! Every failure names the file and the cause; start-up stops on the first one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::engine::{CallError, Engine, LoadError, Module};
use berth_core::host::{HostApi, PluginHost};
use berth_core::pipeline::{App, AppError, PluginEntry};

use crate::config::Config;
use crate::pool::{Pool, Source};

/// Why start-up could not load the plugins.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin files the config names cannot be listed.
    #[error("{0}")]
    Files(#[from] berth_config::PluginFilesError),
    /// A plugin file cannot be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A plugin file is not a usable component.
    #[error("plugin {path}: {source}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// What the engine said.
        source: LoadError,
    },
    /// A plugin could not be instantiated, or its `setup` refused.
    #[error("plugin {path}: setup failed: {source}")]
    Setup {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: CallError,
    },
    /// Two plugins claim the same route, or a registration is malformed.
    #[error("{0}")]
    App(#[from] AppError),
}

/// The plugins of a running server.
pub struct Loaded {
    /// Routes, middleware and hooks of all plugins.
    pub app: App,
    /// One pool per plugin, in the app's plugin order.
    pub pools: Vec<Arc<Pool>>,
    /// How long each plugin took to read, compile (or fetch from the cache) and set up.
    pub load_times: Vec<std::time::Duration>,
}

/// The hex SHA-256 of a plugin file: what a swap logs, and how a rescan tells a changed
/// file from an unchanged one.
pub(crate) fn hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What `name` is made from when its file holds `bytes` under `config`.
pub(crate) fn source_of(config: &Config, name: &str, bytes: &[u8]) -> Source {
    Source {
        hash: hash(bytes),
        gpio: config.gpio_grant(name),
        config: config.plugin_pairs(name),
    }
}

/// Creates the pool of a compiled plugin (which runs its `setup`) and its app entry.
pub(crate) async fn set_up(
    module: Box<dyn Module>,
    api: &Arc<dyn HostApi>,
    name: &str,
    path: &Path,
    source: Source,
    max_idle: usize,
) -> Result<(Pool, PluginEntry), PluginError> {
    let host = PluginHost::new(api.clone(), name).with_gpio(source.gpio);
    let (pool, registration) = Pool::new(name, module, host, source.config.clone(), max_idle)
        .await
        .map_err(|source| PluginError::Setup {
            path: path.into(),
            source,
        })?;
    Ok((
        pool.with_source(source),
        PluginEntry {
            name: name.to_string(),
            registration,
        },
    ))
}

/// The plugin files a rescan of a running server finds: like [`Config::plugin_files`], but a
/// plugin of `[plugins] load` without a file is left out (with a warning) rather than
/// an error — it may be on its way.
pub(crate) fn present_plugin_files(config: &Config) -> Result<Vec<(String, PathBuf)>, PluginError> {
    let Some(names) = &config.load else {
        return Ok(config.plugin_files()?);
    };
    let dir = &config.plugins_dir;
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(format!("{name}.wasm"));
        if path.is_file() {
            files.push((name.clone(), path));
        } else {
            tracing::warn!(plugin = %name, "[plugins] load names {name}, but {} is missing", path.display());
        }
    }
    Ok(files)
}

/// Loads one file into a pool, returning its entry for the app.
async fn load_one(
    engine: &dyn Engine,
    api: &Arc<dyn HostApi>,
    config: &Config,
    name: &str,
    path: &Path,
    max_idle: usize,
) -> Result<(Pool, PluginEntry), PluginError> {
    let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
        path: path.into(),
        source,
    })?;
    let source = source_of(config, name, &bytes);
    let module = engine
        .compile(&bytes)
        .map_err(|source| PluginError::Compile {
            path: path.into(),
            source,
        })?;
    set_up(module, api, name, path, source, max_idle).await
}

/// Loads every plugin and assembles the app.
pub async fn load(
    engine: &dyn Engine,
    api: Arc<dyn HostApi>,
    config: &Config,
    max_idle: usize,
) -> Result<Loaded, PluginError> {
    let mut pools = Vec::new();
    let mut entries = Vec::new();
    let mut load_times = Vec::new();
    for (name, path) in config.plugin_files()? {
        let started = std::time::Instant::now();
        let (pool, entry) = load_one(engine, &api, config, &name, &path, max_idle).await?;
        load_times.push(started.elapsed());
        pools.push(Arc::new(pool));
        entries.push(entry);
    }
    for name in config.plugin_config.keys() {
        if !entries.iter().any(|e| &e.name == name) {
            tracing::warn!("[plugin.{name}] is configured but no such plugin is loaded");
        }
    }
    for name in config.gpio_grants.keys() {
        if !entries.iter().any(|e| &e.name == name) {
            tracing::warn!("[grants.{name}] gpio is configured but no such plugin is loaded");
        }
    }
    let mut app = App::new(entries)?;
    app.set_server_header(config.server_name.clone());
    Ok(Loaded {
        app,
        pools,
        load_times,
    })
}
