//! `cargo xtask fuzz-smoke`: every cargo-fuzz target of `fuzz/` for a short while.
//!
//! cargo-fuzz needs nightly-only compiler flags (`-Z` sanitizer and coverage options);
//! the project's toolchain is stable, so this sets `RUSTC_BOOTSTRAP=1` for the fuzz
//! build only. Targets build with `--sanitizer none`: Berth's own crates forbid
//! `unsafe`, so what the fuzzers look for are panics, overflows, unbounded allocation
//! and hangs, which libFuzzer reports without AddressSanitizer (and several times
//! faster). Corpora grow in `fuzz/corpus/<target>` (not in git) from the small seeds in
//! `fuzz/seeds/<target>`; a crash is saved in `fuzz/artifacts/<target>` and fails the
//! task, and is then turned into a regression test in the crate it hit.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Every target in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 9] = [
    "request_parsing",
    "wasmi_lift",
    "config_parsing",
    "embedded_head",
    "embedded_chunked",
    "embedded_ws_codec",
    "embedded_store",
    "embedded_vs_httparse",
    "ws_deflate_offer",
];

/// Parses `--seconds N` and `--target T` (repeatable; default: every target).
pub fn parse(args: &[String]) -> Result<(u64, Vec<String>)> {
    let (mut seconds, mut targets) = (60u64, Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().context("--seconds N")?.parse()?,
            "--target" => targets.push(args.next().context("--target T")?.clone()),
            other => bail!("unknown fuzz-smoke option {other:?}"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    Ok((seconds, targets))
}

/// Installs cargo-fuzz when it is missing.
fn ensure_cargo_fuzz(root: &Path) -> Result<()> {
    let installed = crate::cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        let mut install = crate::cargo();
        install.args(["install", "cargo-fuzz", "--locked"]);
        crate::run(install, root)?;
    }
    Ok(())
}

fn fuzz_command() -> Command {
    let mut cmd = crate::cargo();
    cmd.env("RUSTC_BOOTSTRAP", "1");
    cmd.arg("fuzz");
    cmd
}

/// Builds every target, then runs each for `seconds`.
pub fn smoke(root: &Path, seconds: u64, targets: &[String]) -> Result<()> {
    ensure_cargo_fuzz(root)?;
    let fuzz_dir = root.join("fuzz");
    let mut build = fuzz_command();
    build.args(["build", "--sanitizer", "none"]);
    crate::run(build, &fuzz_dir)?;
    for target in targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let mut run = fuzz_command();
        run.args(["run", "--sanitizer", "none", target])
            .arg(&corpus)
            .arg(fuzz_dir.join("seeds").join(target))
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-rss_limit_mb=2048",
                "-timeout=10",
                "-print_final_stats=1",
            ]);
        crate::run(run, &fuzz_dir).with_context(|| format!("fuzz target {target} failed"))?;
    }
    Ok(())
}
