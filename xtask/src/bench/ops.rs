//! The operations rows of `cargo xtask bench`: `GET /hello` on berth (wasmtime) over
//! plain HTTP/1.1, h2c (HTTP/2 with prior knowledge), HTTP/1.1 over TLS and h2 over TLS
//! (ALPN), all driven by `h2load` (Debian's `nghttp2-client`, installed when missing) so
//! the four rows share one client. The certificate is a throwaway self-signed one made
//! with `openssl`. `cargo xtask bench-ops` runs these rows alone.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One berth process, killed when dropped.
pub(super) struct Berth(pub(super) Child);

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn wait_ready(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on port {port} after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// A self-signed certificate and key for localhost in `work`.
fn certificate(work: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (work.join("ops-cert.pem"), work.join("ops-key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .output()
        .context("cannot run openssl")?;
    if !out.status.success() {
        bail!("openssl: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((cert, key))
}

/// One h2load run of `requests` requests: requests per second. (A fixed count, not
/// `-D`: h2load 1.52's timed mode did not end here.)
fn h2load(url: &str, h1: bool, conns: usize, requests: u64) -> Result<f64> {
    Ok(h2load_with(url, h1, conns, requests, &[])?.0)
}

/// [`h2load`] with extra request headers (`name: value`); also returns the body bytes
/// per response.
pub(super) fn h2load_with(
    url: &str,
    h1: bool,
    conns: usize,
    requests: u64,
    headers: &[&str],
) -> Result<(f64, f64)> {
    let mut cmd = Command::new("h2load");
    cmd.args(["-c", &conns.to_string(), "-m", "1", "-t", "1"]);
    cmd.args(["-n", &requests.to_string()]);
    if h1 {
        cmd.arg("--h1");
    }
    for header in headers {
        cmd.args(["-H", header]);
    }
    let out = cmd.arg(url).output().context("cannot run h2load")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let failed = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .and_then(|l| l.split(',').find(|p| p.contains("failed")))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    if failed != Some(0) {
        bail!("{url}: h2load saw failures or printed no summary:\n{text}");
    }
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("finished in "))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|rps| rps.strip_suffix(" req/s"))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("h2load printed no rate:\n{text}"))?;
    // `traffic: … total, … headers (…), 28.61MB (30000000) data`
    let data = text
        .lines()
        .find(|l| l.starts_with("traffic:"))
        .and_then(|l| l.rsplit_once(") data"))
        .and_then(|(before, _)| before.rsplit_once('('))
        .and_then(|(_, n)| n.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    Ok((rate, data / requests as f64))
}

/// Runs the four rows, `rounds` times interleaved; returns the markdown section.
pub fn rows(
    bin: &Path,
    work: &Path,
    plugins_dir: &Path,
    rounds: usize,
    seconds: u64,
    conns: usize,
) -> Result<String> {
    if Command::new("h2load").arg("--version").output().is_err() {
        let mut apt = Command::new("sh");
        apt.args([
            "-c",
            "apt-get install -y -qq nghttp2-client || sudo apt-get install -y -qq nghttp2-client",
        ]);
        crate::run(apt, work)?;
    }
    let (cert, key) = certificate(work)?;
    let base = format!(
        // h2load does not reconnect after GOAWAY: no per-connection request cap here.
        "[plugins]\ndir = {plugins_dir:?}\nload = [\"hello\"]\n[limits]\nmax_connections = {}\n\
         max_keep_alive_requests = 4000000000\n",
        conns * 4 + 100
    );
    let tls = format!("[server.tls]\ncert = {cert:?}\nkey = {key:?}\n{base}");
    std::fs::write(work.join("ops-plain.toml"), &base)?;
    std::fs::write(work.join("ops-tls.toml"), &tls)?;
    let start = |config: &str, port: u16| -> Result<Berth> {
        let mut cmd = Command::new(bin.join("berth"));
        cmd.args(["serve", "--config"]).arg(work.join(config));
        cmd.args(["--engine", "wasmtime", "--port", &port.to_string()]);
        cmd.env("RUST_LOG", "warn");
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().context("cannot start berth")?;
        let berth = Berth(child);
        wait_ready(port)?;
        Ok(berth)
    };
    let _plain = start("ops-plain.toml", 18321)?;
    let _tls = start("ops-tls.toml", 18322)?;
    let cases = [
        ("HTTP/1.1", "http://127.0.0.1:18321/hello", true),
        (
            "h2c (prior knowledge)",
            "http://127.0.0.1:18321/hello",
            false,
        ),
        ("HTTP/1.1 over TLS", "https://127.0.0.1:18322/hello", true),
        ("h2 over TLS (ALPN)", "https://127.0.0.1:18322/hello", false),
    ];
    let mut runs = vec![Vec::new(); cases.len()];
    for round in 1..=rounds {
        eprintln!("ops round {round}/{rounds}");
        for (i, (_, url, h1)) in cases.iter().enumerate() {
            // About `seconds` of load at the rate of a contended 2-core machine.
            runs[i].push(h2load(url, *h1, conns, seconds * 4000)?);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nTLS and HTTP/2 (`GET /hello`, berth on wasmtime): h2load -c{conns} -m1 -n{}, \
         {rounds} interleaved rounds; medians (min–max).\n",
        seconds * 4000
    );
    let _ = writeln!(out, "| protocol | req/s | min–max | vs plain HTTP/1.1 |");
    let _ = writeln!(out, "|---|---:|---|---:|");
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let plain = median(&runs[0]);
    for ((name, _, _), r) in cases.iter().zip(&runs) {
        let m = median(r);
        let lo = r.iter().copied().fold(f64::MAX, f64::min);
        let hi = r.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {name} | {m:.0} | {lo:.0}–{hi:.0} | {:.2} |",
            m / plain
        );
    }
    Ok(out)
}

/// `cargo xtask bench-ops`: these rows alone (environment as for `cargo xtask bench`).
pub fn standalone(root: &Path) -> Result<()> {
    super::standalone(root, "ops", rows)
}
