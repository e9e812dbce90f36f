//! The cluster rows of `cargo xtask bench` (issue 16): `GET /incr` (bench-kit, an atomic
//! increment in plugin state) on in-memory state, on Redis with one node, and on Redis
//! with two nodes loaded at once; and the cross-node broadcast latency of seed 000's
//! chat with clients split over two nodes (`cluster-fanout`).
//!
//! Redis is Debian's `redis-server`, started here on a free loopback port with AOF and
//! `appendfsync everysec` (Redis's own default for AOF; the tests use `always`).
//! Environment: `DURATION` seconds per wrk run (5), `CONNS` (64), `FANOUT_CLIENTS`
//! (100), `FANOUT_MESSAGES` (200). Run `CLUSTER_ONLY=1 cargo xtask bench` for these
//! rows alone.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use super::env_or;
use super::measure::wait_ready;

/// A child process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `wrk` on every URL at once (the connections split between them): total requests/s
/// and the worst p99 (ms).
fn wrk_all(urls: &[String], conns: usize, seconds: u64) -> Result<(f64, f64)> {
    let runs: Vec<_> = urls
        .iter()
        .map(|url| {
            Command::new("wrk")
                .args(["-t1", &format!("-c{}", (conns / urls.len()).max(1))])
                .args([&format!("-d{seconds}s"), "--latency", url])
                .stdout(Stdio::piped())
                .spawn()
                .context("cannot run wrk")
        })
        .collect::<Result<_>>()?;
    let (mut rps, mut p99) = (0.0, 0.0f64);
    for run in runs {
        let out = run.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("Non-2xx") {
            bail!("GET /incr answered errors under load:\n{text}");
        }
        rps += text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .with_context(|| format!("wrk printed no rate:\n{text}"))?;
        let value = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("99%"))
            .map(str::trim)
            .unwrap_or("nan");
        let split = value
            .find(|c: char| c.is_alphabetic())
            .unwrap_or(value.len());
        let (num, unit) = value.split_at(split);
        let num: f64 = num.parse().unwrap_or(f64::NAN);
        let ms = match unit {
            "us" => num / 1000.0,
            "s" => num * 1000.0,
            _ => num,
        };
        p99 = p99.max(ms);
    }
    Ok((rps, p99))
}

/// Runs the cluster scenarios with the release `bin` folder, the bundled plugins in
/// `plugins`, and scratch space in `work`; returns the report's section.
pub fn run(bin: &Path, plugins: &Path, work: &Path) -> Result<String> {
    let seconds: u64 = env_or("DURATION", 5);
    let conns: usize = env_or("CONNS", 64);
    let clients: usize = env_or("FANOUT_CLIENTS", 100);
    let messages: usize = env_or("FANOUT_MESSAGES", 200);
    let dir = work.join("cluster");
    std::fs::create_dir_all(&dir)?;
    let redis_port = free_port()?;
    let redis = Proc(
        Command::new("redis-server")
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start redis-server (apt-get install redis-server)")?,
    );
    wait_ready(redis_port)?;
    let node = |name: &str, port: u16, ws_port: u16, cluster: bool| -> Result<Proc> {
        let cluster = if cluster {
            format!("[cluster]\nredis = \"redis://127.0.0.1:{redis_port}\"\nnode = \"{name}\"\n")
        } else {
            String::new()
        };
        let toml = format!(
            "[server]\nport = {port}\nws_port = {ws_port}\ncache_dir = {cache:?}\n\
             [plugins]\ndir = {plugins:?}\nload = [\"bench-kit\", \"chat\"]\n\
             [reload]\nwatch = false\n[limits]\nmax_connections = 1000\n{cluster}",
            cache = work.join("cache"),
        );
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml)?;
        let mut cmd = Command::new(bin.join("berth"));
        cmd.args(["serve", "--config"]).arg(&path);
        cmd.env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = Proc(cmd.spawn().context("cannot start berth")?);
        wait_ready(port)?;
        wait_ready(ws_port)?;
        Ok(child)
    };
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect::<Result<_>>()?;
    let url = |port: u16| format!("http://127.0.0.1:{port}/incr");
    let mut rows = Vec::new();
    {
        let _memory = node("memory", ports[0], ports[1], false)?;
        rows.push((
            "in-memory state, 1 node",
            wrk_all(&[url(ports[0])], conns, seconds)?,
        ));
    }
    let _a = node("a", ports[2], ports[3], true)?;
    rows.push((
        "Redis state, 1 node",
        wrk_all(&[url(ports[2])], conns, seconds)?,
    ));
    let _b = node("b", ports[4], ports[5], true)?;
    rows.push((
        "Redis state, 2 nodes at once",
        wrk_all(&[url(ports[2]), url(ports[4])], conns, seconds)?,
    ));
    let out = Command::new(bin.join("cluster-fanout"))
        .arg(format!("ws://127.0.0.1:{}/", ports[3]))
        .arg(format!("ws://127.0.0.1:{}/", ports[5]))
        .args([clients.to_string(), messages.to_string()])
        .output()
        .context("cannot run cluster-fanout")?;
    if !out.status.success() {
        bail!("cluster-fanout: {}", String::from_utf8_lossy(&out.stderr));
    }
    let fanout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (p50, p99) = fanout
        .split_once(' ')
        .context("cluster-fanout printed no latencies")?;
    drop(redis);

    let mut report = format!(
        "\n## Cluster (`[cluster]`, Redis on loopback)\n\n\
         `GET /incr` (bench-kit: an atomic increment in plugin state), wasmtime, \
         wrk -t1 -c{conns} -d{seconds}s (split over the nodes when two).\n\n\
         | scenario | req/s | p99 ms |\n|---|---:|---:|\n"
    );
    for (name, (rps, p99)) in rows {
        report.push_str(&format!("| {name} | {rps:.0} | {p99:.2} |\n"));
    }
    report.push_str(&format!(
        "\nCross-node broadcast (seed 000's chat, {clients} clients split over two nodes, \
         one sender on node A, {messages} messages): send → arrival on node B, \
         p50 {p50} ms, p99 {p99} ms.\n"
    ));
    Ok(report)
}
