//! `berth device pack`: the plugin partition image a device loads at boot; `push`,
//! `list` and `rm` talk to a running device ([`crate::device_client`]).

use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_config::Config;

/// Device tasks.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Pack plugin files (and their config tables) into a plugin-store image.
    Pack(PackArgs),
    /// Upload a plugin to a running device (added, or replacing the one of that name).
    Push(crate::device_client::PushArgs),
    /// List the plugins a running device stores: name, size, SHA-256.
    List(crate::device_client::ListArgs),
    /// Remove a plugin from a running device.
    Rm(crate::device_client::RmArgs),
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
    /// Bytes of the flash partition the image is for (partitions.csv's `plugins`): the
    /// image has two slots, each half of it, so pushes are power-safe.
    #[arg(long, default_value_t = 0x16_0000, value_parser = parse_size)]
    partition_size: usize,
    /// The flash's erase sector, bytes.
    #[arg(long, default_value_t = 4096)]
    sector_size: usize,
}

/// A size in bytes, decimal or `0x` hexadecimal (as partitions.csv writes them).
fn parse_size(s: &str) -> Result<usize, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("{s}: {e}"))
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Pack(args) => pack(args),
        Command::Push(args) => crate::device_client::push(args),
        Command::List(args) => crate::device_client::list(args),
        Command::Rm(args) => crate::device_client::rm(args),
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
        admin: berth_embedded::desktop::admin_entry(&config)?,
    };
    let bytes = berth_embedded::store::pack(&image)?;
    let sector = args.sector_size;
    if sector < 512 || !sector.is_power_of_two() || !args.partition_size.is_multiple_of(sector) {
        bail!("--sector-size must be a power of two from 512 that divides --partition-size");
    }
    let dev = berth_embedded::block::MemDevice::new(sector, args.partition_size / sector);
    let slot = (args.partition_size / sector / 2 - 1) * sector;
    let dev = berth_embedded::slots::format(dev, &bytes).map_err(|e| {
        anyhow::anyhow!(
            "{e}: the image is {} bytes, a slot (half the partition, less a sector) {slot}",
            bytes.len()
        )
    })?;
    std::fs::write(&args.out, &dev.data)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "{}: {} plugin(s), {} folder(s), a {}-byte image in slot A of {} ({} bytes per slot){}",
        args.out.display(),
        plugins.len(),
        statics.folders.len(),
        bytes.len(),
        dev.data.len(),
        slot,
        if image.admin.is_some() {
            "; admin endpoint on"
        } else {
            ""
        }
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
