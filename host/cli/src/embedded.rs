//! `berth serve --runtime embedded`: the microcontroller's loop (berth-embedded) on a
//! desktop socket, with the same config file, plugins and limits as the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use berth_config::Config;
use berth_core::host::Level;
use berth_embedded::desktop::{self, DesktopConfig, StdPlatform};

/// Which host serves the plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// The desktop server: tokio + hyper, pooled instances, either engine.
    Server,
    /// The embedded host's single-threaded loop, on wasmi.
    Embedded,
}

fn log(plugin: &str, level: Level, message: std::fmt::Arguments<'_>) {
    match (plugin, level) {
        ("", Level::Info) => tracing::info!(target: "access", "{message}"),
        ("", Level::Warn | Level::Error) => tracing::warn!("{message}"),
        ("", _) => tracing::debug!("{message}"),
        (_, Level::Trace) => tracing::trace!(target: "plugin", plugin, "{message}"),
        (_, Level::Debug) => tracing::debug!(target: "plugin", plugin, "{message}"),
        (_, Level::Info) => tracing::info!(target: "plugin", plugin, "{message}"),
        (_, Level::Warn) => tracing::warn!(target: "plugin", plugin, "{message}"),
        (_, Level::Error) => tracing::error!(target: "plugin", plugin, "{message}"),
    }
}

/// Serves in the foreground until SIGINT or SIGTERM.
pub fn serve(config: Config) -> anyhow::Result<()> {
    let desktop = DesktopConfig::from_config(&config)?;
    let (server, listener) = desktop::start(&desktop, StdPlatform::new(Box::new(log)))?;
    for plugin in server.app().plugins() {
        tracing::info!(plugin = %plugin.name, engine = "wasmi", runtime = "embedded", "loaded");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => {
                rt.block_on(crate::signal::shutdown());
                flag.store(true, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!("no signal handling ({e}): stop the server with kill -9"),
        }
    });
    desktop::run(&server, &listener, stop);
    Ok(())
}
