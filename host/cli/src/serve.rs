//! `berth serve`.

use std::path::PathBuf;

use anyhow::Context;
use berth_server::{Config, EngineKind, Server};

/// Flags override the config file.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// Config file [default: ./berth.toml when it exists].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Bind address [default: 127.0.0.1].
    #[arg(long)]
    host: Option<String>,
    /// HTTP port; 0 picks a free one [default: 8000].
    #[arg(long)]
    port: Option<u16>,
    /// Dedicated WebSocket port, where every path is a WebSocket (seed 000's 8765).
    #[arg(long)]
    ws_port: Option<u16>,
    /// Folder of plugin files; loads every *.wasm [default: ./plugins].
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// Engine: wasmtime or wasmi [default: wasmtime].
    #[arg(long, value_parser = parse_engine)]
    engine: Option<EngineKind>,
    /// Runtime: `server` (tokio + hyper) or `embedded` (the microcontroller loop on a
    /// desktop socket, always on wasmi) [default: server].
    #[arg(long, value_enum, default_value = "server")]
    runtime: crate::embedded::Runtime,
    /// A plugin crate to rebuild on every save and hot-swap (repeatable): the author's
    /// loop. Compile errors are printed; the server keeps serving the last good build.
    #[arg(long, value_name = "DIR")]
    watch_src: Vec<PathBuf>,
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    EngineKind::parse(s).ok_or_else(|| format!("unknown engine {s:?} (expected wasmtime or wasmi)"))
}

/// The config file `serve` reads, when there is one.
fn config_file(args: &Args) -> Option<PathBuf> {
    let default_file = PathBuf::from("berth.toml");
    match &args.config {
        Some(path) => Some(path.clone()),
        None if default_file.is_file() => Some(default_file),
        None => None,
    }
}

/// Reads the config and applies the flags on top.
pub fn config(args: &Args) -> anyhow::Result<Config> {
    let mut config = match config_file(args) {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    };
    if let Some(host) = &args.host {
        config.host = host.clone();
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(port) = args.ws_port {
        config.ws_port = Some(port);
    }
    if let Some(dir) = &args.plugins {
        config.plugins_dir = dir.clone();
        config.load = None;
    }
    if let Some(engine) = args.engine {
        config.engine = engine;
    }
    Ok(config)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = config(&args)?;
    // Held until the server stops, so a log file gets every queued line.
    let _log = crate::logging::init(&config.log, config.trace.as_ref())?;
    if args.runtime == crate::embedded::Runtime::Embedded {
        if !args.watch_src.is_empty() {
            anyhow::bail!(
                "--watch-src needs the server runtime: the embedded runtime loads its \
                 plugins once, at start"
            );
        }
        return crate::embedded::serve(config);
    }
    let plugins_dir = config.plugins_dir.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let file = config_file(&args);
        let again = args.clone();
        // A rescan reads berth.toml again and applies the same flags on top.
        let source: berth_server::reload::ConfigSource =
            std::sync::Arc::new(move || crate::serve::config(&again).map_err(|e| format!("{e:#}")));
        let server = Server::start(config)
            .await?
            .with_config_source(file, source);
        let dev = crate::dev::spawn(&args.watch_src, plugins_dir, server.reloader());
        server.run(crate::signal::shutdown()).await?;
        drop(dev);
        Ok(())
    })
}
