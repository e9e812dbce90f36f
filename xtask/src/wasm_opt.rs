//! Binaryen's `wasm-opt` for the device builds (`berth_build::BuildOptions::wasm_opt`):
//! the one `BERTH_WASM_OPT` names, or else npm's `binaryen` package, installed once under
//! `target/tools/binaryen`. Debian's binaryen (108) predates custom page sizes and
//! cannot read the plugins' one-byte-page modules; npm carries current releases.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::target_dir;

/// The release installed when `BERTH_WASM_OPT` is not set.
const BINARYEN: &str = "binaryen@132";

/// The `wasm-opt` to build device plugins with, installing it if needed.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    if let Some(tool) = std::env::var_os("BERTH_WASM_OPT") {
        return Ok(PathBuf::from(tool));
    }
    let prefix = target_dir(root).join("tools/binaryen");
    let tool = prefix.join("node_modules/.bin/wasm-opt");
    if tool.is_file() {
        return Ok(tool);
    }
    eprintln!(
        "installing {BINARYEN} (wasm-opt) under {}",
        prefix.display()
    );
    std::fs::create_dir_all(&prefix)?;
    let status = Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&prefix)
        .arg(BINARYEN)
        .status()
        .context("running npm (Node.js is needed for wasm-opt, or set BERTH_WASM_OPT)")?;
    if !status.success() || !tool.is_file() {
        bail!("`npm install {BINARYEN}` failed; set BERTH_WASM_OPT to a wasm-opt ≥ 117");
    }
    Ok(tool)
}
