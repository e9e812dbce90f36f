//! `berth device pack`: the plugin partition image a device loads at boot.

use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_config::Config;

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
    /// A berth.toml whose `[plugin.<name>]` tables and `[grants.<name>]` pins and
    /// folders are stored with the plugins, and whose `[[static]]` folders are packed.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also pack folder DIR, served at URL prefix PREFIX (`--static /static=www`);
    /// repeatable.
    #[arg(long = "static", value_name = "PREFIX=DIR", value_parser = crate::statics::parse_mount)]
    statics: Vec<berth_config::StaticMountConfig>,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Pack(args) => pack(args),
    }
}

fn pack(args: PackArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        // Without a config, `--static` folders are named relative to the current folder.
        None => Config {
            statics: berth_config::StaticConfig {
                base: PathBuf::from("."),
                ..Default::default()
            },
            ..Config::default()
        },
    };
    let statics = berth_embedded::desktop::static_files(&config, &args.statics)?;
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
        let dirs = statics.dirs_of(name);
        plugins.push((
            name,
            config.plugin_pairs(name),
            config.gpio_grant(name),
            dirs,
            bytes,
        ));
    }
    let image = berth_embedded::store::Image {
        plugins: plugins
            .iter()
            .map(
                |(name, pairs, gpio, dirs, wasm)| berth_embedded::store::Entry {
                    name,
                    config: pairs.clone(),
                    gpio: *gpio,
                    dirs: dirs.clone(),
                    wasm,
                },
            )
            .collect(),
        folders: statics.store_folders(),
        mounts: statics.store_mounts(),
    };
    let bytes = berth_embedded::store::pack(&image)?;
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "{}: {} plugin(s), {} folder(s), {} bytes",
        args.out.display(),
        plugins.len(),
        statics.folders.len(),
        bytes.len()
    );
    for (name, pairs, gpio, dirs, bytes) in &plugins {
        let pins: Vec<String> = gpio.pins().map(|p| p.to_string()).collect();
        println!(
            "  {name:<16} {:>8} bytes, {} config key(s), gpio [{}], dirs [{}]",
            bytes.len(),
            pairs.len(),
            pins.join(", "),
            dirs.join(", ")
        );
    }
    for folder in &statics.folders {
        let size: usize = folder.files.iter().map(|f| f.bytes.len()).sum();
        println!(
            "  folder {:<9} {:>8} bytes, {} file(s)",
            folder.dir,
            size,
            folder.files.len()
        );
    }
    for (prefix, dir, max_age) in &statics.mounts {
        println!("  static {prefix} -> {dir} (max-age {max_age})");
    }
    Ok(())
}
