//! `berth inspect`: instantiate a plugin, run its setup, print its registration.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use berth_core::host::PluginHost;
use berth_core::model::{EventKind, Method, Registration};
use berth_server::{Config, EngineKind, ServerHost};

#[derive(clap::Args)]
pub struct Args {
    /// The plugin file.
    file: PathBuf,
    /// A config file whose [plugin.<name>] table is passed to setup.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn methods(ms: &[Method]) -> String {
    if ms.is_empty() {
        return "*".into();
    }
    ms.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(",")
}

fn event_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ServerStart => "server:start",
        EventKind::ServerStop => "server:stop",
        EventKind::WsConnect => "ws:connect",
        EventKind::WsMessage => "ws:message",
        EventKind::WsDisconnect => "ws:disconnect",
    }
}

/// The registration as text, one item a line.
pub fn describe(reg: &Registration) -> String {
    let mut out = format!("plugin {}\n", reg.name);
    for r in &reg.routes {
        out += &format!("  route      {:<16} {}\n", methods(&r.methods), r.path);
    }
    for w in &reg.websockets {
        out += &format!("  websocket  {}\n", w.path);
    }
    for m in &reg.middleware {
        let phases: Vec<&str> = [m.before.map(|_| "before"), m.after.map(|_| "after")]
            .into_iter()
            .flatten()
            .collect();
        out += &format!(
            "  middleware {:<16} {}\n",
            methods(&m.methods),
            phases.join("+")
        );
    }
    for h in &reg.hooks {
        out += &format!("  hook       {}\n", event_name(h.event));
    }
    for t in &reg.timers {
        out += &format!("  timer      every {} ms\n", t.interval_ms);
    }
    for s in &reg.mounts {
        out += &format!(
            "  static     {} -> {} (max-age {})\n",
            s.prefix, s.dir, s.max_age
        );
    }
    out
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let name = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .context("the plugin file needs a name")?
        .to_string();
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let engine = berth_server::engine(EngineKind::Wasmtime, &config.limits, None)?;
    let module = engine
        .compile(&bytes)
        .with_context(|| format!("plugin {}", args.file.display()))?;
    let host = PluginHost::new(Arc::new(ServerHost::default()), &name);
    let mut instance = module
        .instantiate(host)
        .with_context(|| format!("plugin {}", args.file.display()))?;
    let pairs = config.plugin_pairs(&name);
    let registration = futures_lite::future::block_on(instance.setup(&pairs))
        .with_context(|| format!("plugin {}", args.file.display()))?
        .map_err(|why| anyhow::anyhow!("plugin {}: setup failed: {why}", args.file.display()))?;
    print!("{}", describe(&registration));
    Ok(())
}
