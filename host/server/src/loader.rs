//! Loading plugins: find the files, compile them, create each pool (which runs `setup`
//! with the plugin's config table), and assemble the registrations into one [`App`].
//! Every failure names the file and the cause; start-up stops on the first one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::engine::{CallError, Engine, LoadError};
use berth_core::host::{HostApi, PluginHost};
use berth_core::pipeline::{App, AppError, PluginEntry};

use crate::config::Config;
use crate::pool::Pool;

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
    pub pools: Vec<Pool>,
    /// How long each plugin took to read, compile (or fetch from the cache) and set up.
    pub load_times: Vec<std::time::Duration>,
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
    let module = engine
        .compile(&bytes)
        .map_err(|source| PluginError::Compile {
            path: path.into(),
            source,
        })?;
    let host = PluginHost::new(api.clone(), name).with_gpio(config.gpio_grant(name));
    let (pool, registration) = Pool::new(name, module, host, config.plugin_pairs(name), max_idle)
        .await
        .map_err(|source| PluginError::Setup {
            path: path.into(),
            source,
        })?;
    Ok((
        pool,
        PluginEntry {
            name: name.to_string(),
            registration,
        },
    ))
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
        pools.push(pool);
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
