//! `cargo xtask bench`: every benchmark scenario against a native baseline, measured in
//! one run, printed as markdown and written to `BENCHMARKS.md`.
//!
//! Servers run on loopback as release binaries: `native-hello` and `native-ws-echo`
//! (hyper and tokio-tungstenite with no plugin layer), and `berth serve` on wasmtime and
//! on wasmi. HTTP load comes from `wrk` (installed from Debian's packages when missing),
//! WebSocket load from our `ws-load`. Servers are interleaved round by round, so a noisy
//! neighbour hits every server alike; tables show medians with min–max, and ratios to the
//! native baseline of the same run.
//!
//! Environment: `ROUNDS` (3), `DURATION` seconds per wrk run (5), `CONNS` (64),
//! `WS_CONNS` × `WS_MESSAGES` (100 × 1000), `IDLE` WebSocket connections (10000), and
//! `WASMTIME_SERVE`: a `wasmtime` binary, which adds `wasmtime serve` (an instance per
//! request) running `bench/wasi-hello`, the same hello route written for `wasi:http`,
//! to the `GET /hello` scenario.

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, run, target_dir};

/// The request body of the JSON echo scenario: 1 KiB of JSON.
fn json_body() -> String {
    let items: Vec<String> = (0..60).map(|i| format!("\"item-{i:03}\"")).collect();
    let mut body = format!("{{\"items\":[{}],\"pad\":\"", items.join(","));
    while body.len() < 1022 {
        body.push('x');
    }
    body + "\"}"
}

struct Options {
    rounds: usize,
    seconds: u64,
    conns: usize,
    ws_conns: usize,
    ws_messages: usize,
    idle: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A server process, killed when dropped.
struct Server {
    name: &'static str,
    port: u16,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(name: &'static str, port: u16, mut cmd: Command) -> Result<Server> {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let server = Server { name, port, child };
        wait_ready(port)?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn wait_ready(port: u16) -> Result<()> {
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
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us: f64,
    /// The server's resident set right after the run: before the WebSocket scenarios,
    /// whose 10,000 idle connections would otherwise show in every HTTP row.
    rss_mib: f64,
}

fn wrk(opts: &Options, url: &str, script: Option<&Path>, pid: u32) -> Result<Run> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{}", opts.conns)]);
    cmd.args([&format!("-d{}s", opts.seconds), "--latency"]);
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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ws_load(bin: &Path, args: &[&str]) -> Result<f64> {
    let out = Command::new(bin.join("ws-load"))
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

pub fn bench(root: &Path) -> Result<()> {
    let opts = Options {
        rounds: env_or("ROUNDS", 3),
        seconds: env_or("DURATION", 5),
        conns: env_or("CONNS", 64),
        ws_conns: env_or("WS_CONNS", 100),
        ws_messages: env_or("WS_MESSAGES", 1000),
        idle: env_or("IDLE", 10_000),
    };
    let mut build = cargo();
    build.args(["build", "--release", "-p", "berth", "-p", "berth-bench"]);
    run(build, root)?;
    let bin = target_dir(root).join("release");
    let mut plugins = Command::new(bin.join("berth"));
    plugins.args(["build", "plugins"]);
    run(plugins, root)?;
    if Command::new("wrk").arg("-v").output().is_err() {
        let mut apt = Command::new("sh");
        apt.args([
            "-c",
            "apt-get install -y -qq wrk || sudo apt-get install -y -qq wrk",
        ]);
        run(apt, root)?;
    }

    let work = std::env::temp_dir().join(format!("berth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("www"))?;
    std::fs::write(work.join("www/4k.txt"), "0123456789abcdef".repeat(256))?;
    std::fs::write(work.join("post.lua"), format!(
        "wrk.method = \"POST\"\nwrk.body = '{}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
        json_body()
    ))?;
    std::fs::write(
        work.join("auth.lua"),
        "wrk.headers[\"Authorization\"] = \"bench-secret\"\n",
    )?;
    let plugins_dir = root.join("plugins");
    let limits = format!(
        "[limits]\nmax_connections = {n}\nws_max_connections = {n}\n",
        n = opts.idle * 2 + 100
    );
    let plain = format!(
        "[server]\ncache_dir = {cache:?}\n[plugins]\ndir = {dir:?}\nload = [\"hello\", \"bench-kit\", \"ws-echo\"]\n\
         [[static]]\nprefix = \"/static\"\ndir = {www:?}\n{limits}",
        cache = work.join("cache"),
        dir = plugins_dir,
        www = work.join("www"),
    );
    let chain = format!(
        "[plugins]\ndir = {dir:?}\nload = [\"cors\", \"auth\", \"logger\", \"hello\"]\n\
         [plugin.auth]\nprefix = \"/\"\nsecret = \"bench-secret\"\n{limits}",
        dir = plugins_dir,
    );
    std::fs::write(work.join("plain.toml"), &plain)?;
    std::fs::write(work.join("chain.toml"), &chain)?;

    // Plugin load time: the first start compiles (cold), the second reads the cache.
    let load = load_times(&bin, &work)?;
    let python_wasm = crate::bench_python::prepare(root, &bin, &work, &limits)?;

    let berth = |config: &str, engine: &str, port: u16| {
        let mut cmd = Command::new(bin.join("berth"));
        cmd.args(["serve", "--config"]).arg(work.join(config));
        cmd.args(["--engine", engine, "--port", &port.to_string()]);
        cmd.env("RUST_LOG", "warn");
        cmd
    };
    let mut native_http = Command::new(bin.join("native-hello"));
    native_http.arg("18301").arg(work.join("www"));
    let servers = [
        Server::start("native", 18301, native_http)?,
        Server::start("wasmtime", 18302, berth("plain.toml", "wasmtime", 18302))?,
        Server::start("wasmi", 18303, berth("plain.toml", "wasmi", 18303))?,
    ];
    let chains = [
        Server::start("wasmtime", 18304, berth("chain.toml", "wasmtime", 18304))?,
        Server::start("wasmi", 18305, berth("chain.toml", "wasmi", 18305))?,
    ];
    let python = [Server::start(
        "wasmtime·python",
        18308,
        berth("python.toml", "wasmtime", 18308),
    )?];
    let mut native_ws = Command::new(bin.join("native-ws-echo"));
    native_ws.arg("18306");
    let native_ws = Server::start("native", 18306, native_ws)?;
    let wasmtime_serve = match std::env::var_os("WASMTIME_SERVE") {
        Some(wasmtime) => Some(start_wasmtime_serve(root, Path::new(&wasmtime), 18307)?),
        None => None,
    };

    // (scenario, path, script, servers)
    let post = work.join("post.lua");
    let auth = work.join("auth.lua");
    let scenarios: Vec<(&str, &str, Option<&Path>, Vec<&Server>)> = vec![
        (
            "GET /hello",
            "/hello",
            None,
            servers
                .iter()
                .chain(&wasmtime_serve)
                .chain(&python)
                .collect(),
        ),
        (
            "POST /echo-json (1 KiB)",
            "/echo-json",
            Some(&post),
            servers.iter().collect(),
        ),
        ("GET /incr (state)", "/incr", None, servers.iter().collect()),
        (
            "GET /static/4k.txt",
            "/static/4k.txt",
            None,
            servers.iter().collect(),
        ),
        (
            "cors+auth+logger+hello",
            "/hello",
            Some(&auth),
            chains.iter().collect(),
        ),
    ];
    let mut http: Vec<Vec<Vec<Run>>> = scenarios
        .iter()
        .map(|s| vec![Vec::new(); s.3.len()])
        .collect();
    let ws_urls = [
        (&native_ws, "/".to_string()),
        (&servers[1], "/ws/echo".to_string()),
        (&servers[2], "/ws/echo".to_string()),
    ];
    let mut ws_runs = vec![Vec::new(); ws_urls.len()];
    for round in 1..=opts.rounds {
        eprintln!("round {round}/{}", opts.rounds);
        for (s, (_, path, script, targets)) in scenarios.iter().enumerate() {
            for (i, server) in targets.iter().enumerate() {
                let url = format!("http://127.0.0.1:{}{path}", server.port);
                http[s][i].push(wrk(&opts, &url, *script, server.pid())?);
            }
        }
        for (i, (server, path)) in ws_urls.iter().enumerate() {
            let url = format!("ws://127.0.0.1:{}{path}", server.port);
            let (conns, messages) = (opts.ws_conns.to_string(), opts.ws_messages.to_string());
            ws_runs[i].push(ws_load(&bin, &["echo", &url, &conns, &messages])?);
        }
    }
    let mut idle = Vec::new();
    for (server, path) in &ws_urls {
        let url = format!("ws://127.0.0.1:{}{path}", server.port);
        let pid = server.pid().to_string();
        idle.push(ws_load(
            &bin,
            &["idle", &url, &opts.idle.to_string(), &pid],
        )?);
    }

    let mut report = report(&opts, &scenarios, &http, &ws_urls, &ws_runs, &idle, &load);
    let hello = |name: &str| {
        let i = scenarios[0].3.iter().position(|s| s.name == name)?;
        let runs = &http[0][i];
        Some((
            median(runs.iter().map(|r| r.rps).collect()),
            median(runs.iter().map(|r| r.cpu_us).collect()),
        ))
    };
    if let (Some(rust), Some(py)) = (hello("wasmtime"), hello("wasmtime·python")) {
        let costs = crate::bench_python::instance_costs(
            &bin,
            &plugins_dir.join("hello.wasm"),
            &python_wasm,
        )?;
        let size = std::fs::metadata(&python_wasm).map_or(0, |m| m.len());
        report.push_str(&crate::bench_python::note(rust, py, &costs, size));
    }
    // TLS and HTTP/2 rows (bench_ops.rs).
    report.push_str(&crate::bench_ops::rows(
        &bin,
        &work,
        &plugins_dir,
        opts.rounds,
        opts.seconds,
        opts.conns,
    )?);
    println!("{report}");
    let document = format!(
        "# Benchmarks\n\nWritten by `cargo xtask bench` on {}.\n\n{}\n{report}",
        today(),
        machine()
    );
    std::fs::write(root.join("BENCHMARKS.md"), document)?;
    eprintln!("wrote BENCHMARKS.md");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Builds `bench/wasi-hello` for `wasi:http` and serves it with `wasmtime serve`.
fn start_wasmtime_serve(root: &Path, wasmtime: &Path, port: u16) -> Result<Server> {
    let mut target = Command::new("rustup");
    target.args(["target", "add", "wasm32-wasip2"]);
    run(target, root)?;
    let crate_dir = root.join("bench/wasi-hello");
    let out = target_dir(root).join("wasi-hello");
    let mut build = cargo();
    build.args(["build", "--release", "--target", "wasm32-wasip2"]);
    build.env("CARGO_TARGET_DIR", &out);
    run(build, &crate_dir)?;
    let mut serve = Command::new(wasmtime);
    // `-Scli`: the wasi:cli imports Rust's std links in (environment, exit, stdio);
    // everything else is `wasmtime serve`'s default, a fresh instance per request.
    serve.args(["serve", "-Scli", "--addr", &format!("127.0.0.1:{port}")]);
    serve.arg(out.join("wasm32-wasip2/release/wasi_hello.wasm"));
    Server::start("wasmtime serve", port, serve)
}

/// Starts berth twice on the plain config with an empty cache: the load times it logs.
fn load_times(bin: &Path, work: &Path) -> Result<[f64; 2]> {
    let mut times = [0.0; 2];
    for time in &mut times {
        let log = work.join("load.log");
        let mut cmd = Command::new(bin.join("berth"));
        cmd.args(["serve", "--config"]).arg(work.join("plain.toml"));
        cmd.args(["--port", "18399"]).env("RUST_LOG", "info");
        cmd.stdout(std::fs::File::create(&log)?);
        let server = Server {
            name: "load",
            port: 18399,
            child: cmd.spawn().context("cannot start berth")?,
        };
        wait_ready(server.port)?;
        drop(server);
        let text = std::fs::read_to_string(&log)?;
        let ms: Vec<f64> = text
            .split("ms=")
            .skip(1)
            .filter_map(|rest| {
                let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
                rest[..end].parse().ok()
            })
            .collect();
        if ms.is_empty() {
            bail!("berth logged no load times:\n{text}");
        }
        *time = ms.iter().sum::<f64>() / ms.len() as f64;
    }
    Ok(times)
}

type WsTarget<'a> = (&'a Server, String);

fn report(
    opts: &Options,
    scenarios: &[(&str, &str, Option<&Path>, Vec<&Server>)],
    http: &[Vec<Vec<Run>>],
    ws: &[WsTarget<'_>],
    ws_runs: &[Vec<f64>],
    idle: &[f64],
    load: &[f64; 2],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "HTTP: wrk -t1 -c{} -d{}s, {} interleaved rounds; medians (min–max).\n",
        opts.conns, opts.seconds, opts.rounds
    );
    let _ = writeln!(
        out,
        "| scenario | server | req/s | min–max | p50 ms | p99 ms | CPU µs/req | RSS MiB | vs native |"
    );
    let _ = writeln!(out, "|---|---|---:|---|---:|---:|---:|---:|---:|");
    let mut hello_rps = std::collections::HashMap::new();
    for ((name, _, _, servers), runs) in scenarios.iter().zip(http) {
        let base = median(runs[0].iter().map(|r| r.rps).collect());
        for (server, runs) in servers.iter().zip(runs) {
            let rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
            let m = median(rps.clone());
            if *name == "GET /hello" {
                let cpu = median(runs.iter().map(|r| r.cpu_us).collect());
                hello_rps.insert(server.name, (m, cpu));
            }
            let (lo, hi) = rps
                .iter()
                .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            let ratio = if server.name == "native" || servers[0].name == "native" {
                format!("{:.2}", m / base)
            } else {
                "—".into()
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {m:.0} | {lo:.0}–{hi:.0} | {:.2} | {:.2} | {:.1} | {:.0} | {ratio} |",
                server.name,
                median(runs.iter().map(|r| r.p50_ms).collect()),
                median(runs.iter().map(|r| r.p99_ms).collect()),
                median(runs.iter().map(|r| r.cpu_us).collect()),
                median(runs.iter().map(|r| r.rss_mib).collect()),
            );
        }
    }
    if let Some((_, _, _, chain_servers)) = scenarios.last() {
        let chain = &http[http.len() - 1];
        let _ = writeln!(out);
        for (server, runs) in chain_servers.iter().zip(chain) {
            let m = median(runs.iter().map(|r| r.rps).collect());
            if let Some((hello, _)) = hello_rps.get(server.name) {
                let _ = writeln!(
                    out,
                    "- middleware chain on {}: {:.2}× the cost of the bare hello route (target ≤ 1.5×)",
                    server.name,
                    hello / m
                );
            }
        }
    }
    if let (Some((berth, berth_cpu)), Some((serve, serve_cpu))) =
        (hello_rps.get("wasmtime"), hello_rps.get("wasmtime serve"))
    {
        let _ = writeln!(
            out,
            "- `GET /hello`: berth on wasmtime serves {:.1}× the requests of `wasmtime serve` \
             (an instance per request; target ≥ 6×), spending {:.1}× less CPU per request",
            berth / serve,
            serve_cpu / berth_cpu
        );
    }
    let _ = writeln!(
        out,
        "\nWebSocket echo: {} connections × {} round trips of 32 bytes; then {} idle connections.\n",
        opts.ws_conns, opts.ws_messages, opts.idle
    );
    let _ = writeln!(
        out,
        "| server | messages/s | min–max | vs native | RSS per idle connection |"
    );
    let _ = writeln!(out, "|---|---:|---|---:|---:|");
    let base = median(ws_runs[0].clone());
    for (((server, _), runs), idle) in ws.iter().zip(ws_runs).zip(idle) {
        let m = median(runs.clone());
        let lo = runs.iter().copied().fold(f64::MAX, f64::min);
        let hi = runs.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {} | {m:.0} | {lo:.0}–{hi:.0} | {:.2} | {:.1} KiB |",
            server.name,
            m / base,
            idle / 1024.0
        );
    }
    let _ = writeln!(
        out,
        "\nPlugin load (wasmtime, hello + bench-kit + ws-echo, read + compile + setup): \
         {:.1} ms per plugin cold, {:.2} ms warm (from the compiled-artifact cache).",
        load[0], load[1]
    );
    out
}

fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The machine and the versions, for the record.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let command = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .map(|o| {
                let text = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_else(|_| format!("{cmd}: not found"))
    };
    let lock =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"))
            .unwrap_or_default();
    let version = |name: &str| {
        lock.split("[[package]]")
            .find(|p| p.contains(&format!("name = \"{name}\"\n")))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
            .unwrap_or("?")
            .trim_matches('"')
            .to_string()
    };
    format!(
        "- machine: {cpu}, {cores} cores (shared by the load generators and the servers)\n\
         - {}; wasmtime {}; wasmi {}; {}\n\
         - command: `cargo xtask bench` (release build, loopback)\n",
        command("rustc", "-V"),
        version("wasmtime"),
        version("wasmi"),
        command("wrk", "-v"),
    )
}
