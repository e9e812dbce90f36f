//! `instance-cost NAME=PLUGIN.wasm…`: what one pooled instance of each plugin costs on
//! the wasmtime engine with the server's default limits — the time to instantiate it
//! and run its `setup` (what a pool refill costs), and the resident memory it holds —
//! printed as `name instantiate_ms rss_kib` lines for `cargo xtask bench`.
//!
//! `ROUNDS` instances (20) are made one after another and all kept alive, so the memory
//! figure is the process's resident growth divided by their number.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use berth_core::engine::Engine;
use berth_core::host::PluginHost;
use berth_core::limits::Limits;
use berth_engine_wasmtime::WasmtimeEngine;
use berth_server::ServerHost;

fn rss_kib() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")
}

fn main() -> Result<()> {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let engine = WasmtimeEngine::new(Limits::default().engine())?;
    for arg in std::env::args().skip(1) {
        let Some((name, path)) = arg.split_once('=') else {
            bail!("expected NAME=PLUGIN.wasm, got {arg:?}");
        };
        let bytes = std::fs::read(path).with_context(|| path.to_string())?;
        let module = engine.compile(&bytes)?;
        let host = PluginHost::new(Arc::new(ServerHost::default()), name);
        let config = Vec::new();
        // One first, so lazily made engine state is not counted against the rest.
        let mut first = module.instantiate(host.clone())?;
        runtime
            .block_on(first.setup(&config))?
            .map_err(anyhow::Error::msg)?;
        let before = rss_kib()?;
        let started = Instant::now();
        let mut kept = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let mut instance = module.instantiate(host.clone())?;
            runtime
                .block_on(instance.setup(&config))?
                .map_err(anyhow::Error::msg)?;
            kept.push(instance);
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
        let kib = (rss_kib()? - before) / rounds as f64;
        println!("{name} {ms:.3} {kib:.0}");
    }
    Ok(())
}
