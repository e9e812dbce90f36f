//! The compression rows of `cargo xtask bench`: one text file served by berth
//! (wasmtime, `[[static]]`) to h2load over HTTP/1.1, as it is (no `Accept-Encoding`),
//! compressed on the fly with gzip and with brotli (the `[server.compression]`
//! defaults), and from a precompressed `.gz` sibling (`gzip -9`). Two sizes: one under
//! the server's inline threshold (compressed on the request's worker) and one over it
//! (compressed on a blocking thread). Each row gives requests per second and the body
//! bytes per response. `cargo xtask bench-compression` runs these rows alone.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::ops::{h2load_with, wait_ready, Berth};

/// `bytes` of text like a stylesheet: numbered rules, compressible but not trivially.
fn stylesheet(bytes: usize) -> String {
    let mut out = String::new();
    let mut i = 0usize;
    while out.len() < bytes {
        let _ = writeln!(
            out,
            ".rule-{i} {{ margin: {}px {}px; color: #{:06x}; }}",
            i % 17,
            i % 5,
            i.wrapping_mul(7919) % 0xff_ffff
        );
        i += 1;
    }
    out.truncate(bytes);
    out
}

/// Runs the rows, `rounds` times interleaved; returns the markdown section.
pub fn rows(
    bin: &Path,
    work: &Path,
    plugins_dir: &Path,
    rounds: usize,
    seconds: u64,
    conns: usize,
) -> Result<String> {
    let www = work.join("compression-www");
    std::fs::create_dir_all(&www)?;
    let files = [("12k.css", 12 << 10), ("96k.css", 96 << 10)];
    for (name, size) in files {
        let path = www.join(name);
        std::fs::write(&path, stylesheet(size))?;
        let gzip = Command::new("gzip")
            .args(["-9", "-k", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .status()
            .context("cannot run gzip")?;
        if !gzip.success() {
            bail!("gzip -9 {} failed", path.display());
        }
    }
    // The sibling is read only when a client asks for gzip: the on-the-fly gzip row
    // needs a file without one.
    for (name, _) in files {
        std::fs::copy(www.join(name), www.join(format!("fly-{name}")))?;
    }
    let config = format!(
        "[plugins]\ndir = {plugins_dir:?}\nload = [\"hello\"]\n[limits]\nmax_connections = {}\n\
         max_keep_alive_requests = 4000000000\n[[static]]\nprefix = \"/s\"\ndir = {www:?}\n",
        conns * 4 + 100
    );
    std::fs::write(work.join("compression.toml"), &config)?;
    let port = 18331;
    let mut cmd = Command::new(bin.join("berth"));
    cmd.args(["serve", "--config"])
        .arg(work.join("compression.toml"));
    cmd.args(["--engine", "wasmtime", "--port", &port.to_string()]);
    cmd.env("RUST_LOG", "warn");
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let _berth = Berth(cmd.spawn().context("cannot start berth")?);
    wait_ready(port)?;

    let mut cases: Vec<(String, String, Option<&str>)> = Vec::new();
    for (name, _) in files {
        let url = |file: &str| format!("http://127.0.0.1:{port}/s/{file}");
        cases.push((format!("{name}, identity"), url(name), None));
        cases.push((
            format!("{name}, gzip on the fly"),
            url(&format!("fly-{name}")),
            Some("accept-encoding: gzip"),
        ));
        cases.push((
            format!("{name}, br on the fly"),
            url(name),
            Some("accept-encoding: br"),
        ));
        cases.push((
            format!("{name}, gzip precompressed"),
            url(name),
            Some("accept-encoding: gzip"),
        ));
    }
    // Fewer requests than the plain rows: a compressed 96 KiB body costs milliseconds.
    let requests = seconds * 1000;
    let mut runs = vec![Vec::new(); cases.len()];
    let mut sizes = vec![0.0; cases.len()];
    for round in 1..=rounds {
        eprintln!("compression round {round}/{rounds}");
        for (i, (_, url, header)) in cases.iter().enumerate() {
            let headers: Vec<&str> = header.iter().copied().collect();
            let (rate, bytes) = h2load_with(url, true, conns, requests, &headers)?;
            runs[i].push(rate);
            sizes[i] = bytes;
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nResponse compression (`[server.compression]` defaults: gzip 6, brotli 4 with a \
         2^18 window; a static stylesheet, berth on wasmtime): h2load --h1 -c{conns} -m1 \
         -n{requests}, {rounds} interleaved rounds; medians (min–max).\n"
    );
    let _ = writeln!(
        out,
        "| file, encoding | req/s | min–max | body bytes | vs identity |"
    );
    let _ = writeln!(out, "|---|---:|---|---:|---:|");
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    for (i, ((name, _, _), r)) in cases.iter().zip(&runs).enumerate() {
        // Each file's identity row is the first of its four.
        let identity = median(&runs[i - i % 4]);
        let m = median(r);
        let lo = r.iter().copied().fold(f64::MAX, f64::min);
        let hi = r.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {name} | {m:.0} | {lo:.0}–{hi:.0} | {:.0} | {:.2} |",
            sizes[i],
            m / identity
        );
    }
    Ok(out)
}

/// `cargo xtask bench-compression`: these rows alone (environment as for `cargo xtask
/// bench`).
pub fn standalone(root: &Path) -> Result<()> {
    super::standalone(root, "compression", rows)
}
