//! What one benchmark run measures: server processes (started on the cores a [`View`]
//! gives them), a `wrk` run against one of them with the server's CPU time over it, and
//! a `ws-load` run.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Where the servers and the load generators run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Every server on core 0 (started there, so its runtime sizes itself for one
    /// core), the load generators on the other cores. The server's own cost shows: no
    /// load generator competes with it for its core, so a fast baseline is not capped
    /// by the client sharing its CPU.
    Pinned,
    /// No affinity: servers and load generators share every core, as on a laptop.
    Shared,
}

impl View {
    /// The views to run: pinned needs two cores. `VIEWS=pinned` or `VIEWS=shared`
    /// picks one.
    pub fn all(cores: usize) -> Vec<View> {
        let wanted = std::env::var("VIEWS").unwrap_or_else(|_| "pinned,shared".into());
        let mut views = Vec::new();
        if cores >= 2 && wanted.contains("pinned") {
            views.push(View::Pinned);
        }
        if wanted.contains("shared") || views.is_empty() {
            views.push(View::Shared);
        }
        views
    }

    /// The heading of this view's tables.
    pub fn title(self) -> &'static str {
        match self {
            View::Pinned => {
                "Pinned: each server alone on core 0, the load generator on the other cores"
            }
            View::Shared => "Shared: servers and load generators on every core",
        }
    }

    /// `program` to run as a server in this view.
    pub fn server(self, program: &Path) -> Command {
        self.on(program, "0")
    }

    /// `program` to run as a load generator in this view.
    pub fn load(self, program: &Path) -> Command {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.on(program, &format!("1-{}", cores.max(2) - 1))
    }

    fn on(self, program: &Path, cores: &str) -> Command {
        match self {
            View::Pinned => {
                let mut cmd = Command::new("taskset");
                cmd.args(["-c", cores]).arg(program);
                cmd
            }
            View::Shared => Command::new(program),
        }
    }
}

/// A server process, killed when dropped.
pub struct Server {
    pub name: &'static str,
    pub port: u16,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `cmd` (quietly) and waits until `port` accepts.
    pub fn start(name: &'static str, port: u16, mut cmd: Command) -> Result<Server> {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        Server::spawn(name, port, cmd)
    }

    /// Starts `cmd` as it is set up and waits until `port` accepts.
    pub fn spawn(name: &'static str, port: u16, mut cmd: Command) -> Result<Server> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let server = Server { name, port, child };
        wait_ready(port)?;
        Ok(server)
    }

    /// The process id (`taskset` execs the server, so it is the server's own).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Waits (up to 60 s) until something accepts on `port` on loopback.
pub fn wait_ready(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on port {port} after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// CPU time (user + system) the process has used, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(')').context("odd /proc stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11).context("utime")?.parse::<f64>()?
        + fields.get(12).context("stime")?.parse::<f64>()?;
    Ok(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kib / 1024.0)
}

/// One wrk run.
#[derive(Clone, Copy)]
pub struct Run {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The server's CPU time (user + system, all threads) over the run, per request.
    pub cpu_us: f64,
    /// The server's resident set right after the run: before the WebSocket scenarios,
    /// whose 10,000 idle connections would otherwise show in every HTTP row.
    pub rss_mib: f64,
}

/// How wrk loads a server.
pub struct Load {
    pub view: View,
    pub conns: usize,
    pub seconds: u64,
}

/// One `wrk -t1` run against `url`, with `script` (a Lua file) when given.
pub fn wrk(load: &Load, url: &str, script: Option<&Path>, pid: u32) -> Result<Run> {
    let mut cmd = load.view.load(Path::new("wrk"));
    cmd.args(["-t1", &format!("-c{}", load.conns)]);
    cmd.args([&format!("-d{}s", load.seconds), "--latency"]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(url);
    let cpu_before = cpu_seconds(pid)?;
    let out = cmd.output().context("cannot run wrk")?;
    let cpu = cpu_seconds(pid)? - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout);
    let latency = |pct: &str| -> Option<f64> {
        let value = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(pct))?
            .trim();
        let (num, unit) = value.split_at(value.find(|c: char| c.is_alphabetic())?);
        let num: f64 = num.parse().ok()?;
        Some(match unit {
            "us" => num / 1000.0,
            "ms" => num,
            "s" => num * 1000.0,
            _ => return None,
        })
    };
    let requests: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("wrk printed no request count:\n{text}"))?;
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("wrk printed no rate:\n{text}"))?;
    if text.contains("Non-2xx") {
        bail!("{url} answered errors under load:\n{text}");
    }
    Ok(Run {
        rps,
        p50_ms: latency("50%").unwrap_or(f64::NAN),
        p99_ms: latency("99%").unwrap_or(f64::NAN),
        cpu_us: cpu / requests.max(1.0) * 1e6,
        rss_mib: rss_mib(pid).unwrap_or(f64::NAN),
    })
}

/// One `ws-load` run (its arguments say which kind): the number it prints.
pub fn ws_load(view: View, bin: &Path, args: &[&str]) -> Result<f64> {
    let out = view
        .load(&bin.join("ws-load"))
        .args(args)
        .output()
        .context("cannot run ws-load")?;
    if !out.status.success() {
        bail!("ws-load {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("ws-load printed no number")
}

/// The middle value (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
