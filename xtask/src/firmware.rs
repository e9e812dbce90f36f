//! `cargo xtask firmware`: build the ESP32-C6 firmware (host/firmware-esp32c6, its own
//! workspace) in release mode and print its image sizes.
//!
//! Nothing here talks to a board: flashing and monitoring are espflash's job (see the
//! docs/embedded.md's ESP32-C6 section). Wi-Fi credentials come from `BERTH_WIFI_SSID` and
//! `BERTH_WIFI_PASSWORD` in the environment, if set; CI builds without them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};

use crate::{cargo, run, target_dir};

const TARGET: &str = "riscv32imac-unknown-none-elf";
const FOLDER: &str = "host/firmware-esp32c6";

/// Builds the release image and returns its ELF.
fn build(root: &Path) -> Result<PathBuf> {
    let target = target_dir(root);
    let mut cmd = cargo();
    // The target and the linker flags come from the folder's .cargo/config.toml.
    cmd.args(["build", "--release"]);
    cmd.env("CARGO_TARGET_DIR", &target);
    let started = Instant::now();
    run(cmd, &root.join(FOLDER))?;
    eprintln!("firmware built in {:.0} s", started.elapsed().as_secs_f64());
    Ok(target.join(TARGET).join("release").join("berth-esp32c6"))
}

/// `cargo xtask firmware`.
pub fn firmware(root: &Path, args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask firmware");
    }
    match std::env::var("BERTH_WIFI_SSID") {
        Ok(ssid) if !ssid.is_empty() => eprintln!("Wi-Fi network built in: {ssid:?}"),
        _ => eprintln!("BERTH_WIFI_SSID is not set: the image will stay offline"),
    }
    let elf = build(root)?;
    let sizes = crate::elf::sizes(&elf)?;
    println!(
        "esp32c6 image: .text {} B, .data {} B, .bss {} B (the heap regions of \
         {FOLDER}/src/heap.rs included); {} B of RAM left to the stack",
        sizes.text, sizes.data, sizes.bss, sizes.stack
    );
    println!("  {}", elf.display());
    Ok(())
}
