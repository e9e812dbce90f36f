//! `berth device pack`: the plugin partition image a device loads at boot.

use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_server::Config;

/// Device tasks.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Pack plugin files (and their config tables) into a plugin-store image.
    Pack(PackArgs),
}

/// `berth device pack`.
#[derive(clap::Args)]
pub struct PackArgs {
    /// Plugin components, in plugin order (`<name>.wasm`; the name is the file stem).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to write the image.
    #[arg(short, long)]
    out: PathBuf,
    /// A berth.toml whose `[plugin.<name>]` tables and `[grants.<name>] gpio` pins are
    /// stored with the plugins.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Pack(args) => pack(args),
    }
}

fn pack(args: PackArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => Some(Config::load(path)?),
        None => None,
    };
    let mut plugins = Vec::new();
    for path in &args.files {
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            bail!(
                "{}: cannot take a plugin name from this file name",
                path.display()
            );
        };
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let (pairs, gpio) = match &config {
            Some(c) => (c.plugin_pairs(name), c.gpio_grant(name)),
            None => Default::default(),
        };
        plugins.push((name.to_string(), pairs, gpio, bytes));
    }
    let entries: Vec<_> = plugins
        .iter()
        .map(|(name, config, gpio, wasm)| berth_embedded::store::Entry {
            name,
            config: config.clone(),
            gpio: *gpio,
            wasm,
        })
        .collect();
    let image = berth_embedded::store::pack(&entries)?;
    std::fs::write(&args.out, &image)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "{}: {} plugin(s), {} bytes",
        args.out.display(),
        plugins.len(),
        image.len()
    );
    for (name, pairs, gpio, bytes) in &plugins {
        let pins: Vec<String> = gpio.pins().map(|p| p.to_string()).collect();
        println!(
            "  {name:<16} {:>8} bytes, {} config key(s), gpio [{}]",
            bytes.len(),
            pairs.len(),
            pins.join(", ")
        );
    }
    Ok(())
}
