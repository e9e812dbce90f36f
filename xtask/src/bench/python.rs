//! The Python row of `cargo xtask bench`: seed 000's Quick Start built with componentize-py
//! (`examples/python/quickstart`) and served by `berth serve` on wasmtime beside the
//! Rust `hello` plugin, in the `GET /hello` scenario; and what one instance of each
//! costs (`instance-cost`: instantiate + setup time, resident memory).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::run;

/// The Python plugin, built into `work/python/quickstart.wasm`, and its config
/// `work/python.toml` (same limits and cache as the Rust servers').
pub fn prepare(root: &Path, bin: &Path, work: &Path, limits: &str) -> Result<PathBuf> {
    let dir = work.join("python");
    let mut build = Command::new(bin.join("berth"));
    build
        .args(["build", "examples/python/quickstart", "--out"])
        .arg(&dir);
    run(build, root)?;
    std::fs::write(
        work.join("python.toml"),
        format!(
            "[server]\ncache_dir = {cache:?}\n[plugins]\ndir = {dir:?}\nload = [\"quickstart\"]\n{limits}",
            cache = work.join("cache"),
        ),
    )?;
    Ok(dir.join("quickstart.wasm"))
}

/// One plugin's instance cost.
pub struct Cost {
    name: String,
    instantiate_ms: f64,
    rss_kib: f64,
}

/// `instance-cost` on the Rust hello plugin and the Python one.
pub fn instance_costs(bin: &Path, rust: &Path, python: &Path) -> Result<Vec<Cost>> {
    let out = Command::new(bin.join("instance-cost"))
        .arg(format!("rust={}", rust.display()))
        .arg(format!("python={}", python.display()))
        .output()
        .context("cannot run instance-cost")?;
    if !out.status.success() {
        bail!("instance-cost: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [name, ms, kib] => Ok(Cost {
                    name: name.to_string(),
                    instantiate_ms: ms.parse()?,
                    rss_kib: kib.parse()?,
                }),
                _ => bail!("instance-cost printed {line:?}"),
            }
        })
        .collect()
}

/// The closing note: Python beside Rust. `hello` holds (req/s, CPU µs per request) of
/// the Rust (`wasmtime`) and Python servers in the `GET /hello` scenario.
pub fn note(rust: (f64, f64), python: (f64, f64), costs: &[Cost], size: u64) -> String {
    let mut out = String::new();
    let cost = |name: &str| costs.iter().find(|c| c.name == name);
    let _ = writeln!(
        out,
        "\nPython plugin (`examples/python/quickstart`, componentize-py, {:.1} MB component) \
         beside the Rust `hello` plugin, both on wasmtime:\n",
        size as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "| plugin | GET /hello req/s | CPU µs/req | instantiate + setup | resident memory per instance |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (name, (rps, cpu)) in [("rust", rust), ("python", python)] {
        let (ms, kib) = cost(name).map_or((f64::NAN, f64::NAN), |c| (c.instantiate_ms, c.rss_kib));
        let _ = writeln!(
            out,
            "| {name} | {rps:.0} | {cpu:.1} | {ms:.2} ms | {:.0} KiB |",
            kib
        );
    }
    let _ = writeln!(
        out,
        "\n- Python: {:.2}× the Rust plugin's requests/s, {:.1}× its CPU per request",
        python.0 / rust.0,
        python.1 / rust.1
    );
    out
}
