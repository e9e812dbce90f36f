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
//! Every scenario runs in two views ([`View`]): **pinned** — each server started on core
//! 0 alone, the load generator on the other cores — is the fair comparison, because a
//! load generator sharing the server's core caps the fastest server most and hides what
//! the slower ones cost; **shared** — no affinity — is what a laptop sees. Each row gives
//! the server's CPU time per request (user + system, all its threads), the number that
//! does not depend on how fast the load generator is.
//!
//! Environment: `ROUNDS` (3), `DURATION` seconds per wrk run (5), `CONNS` (64),
//! `WS_CONNS` × `WS_MESSAGES` (100 × 1000), `IDLE` WebSocket connections (10000),
//! `VIEWS` (`pinned,shared`), and `WASMTIME_SERVE`: a `wasmtime` binary, which adds
//! `wasmtime serve` running `bench/wasi-hello` (the same hello route written for
//! `wasi:http`) to the `GET /hello` scenario twice: with its default, a fresh instance per
//! request, and with instance reuse (`--max-instance-reuse-count 128`); berth's ratio is
//! to the better of the two. The cluster rows (Redis state, cross-node broadcast) come
//! from `cluster`; `CLUSTER_ONLY=1` runs only those.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Result};

use crate::{cargo, run, target_dir};

mod cluster;
pub mod compression;
mod measure;
pub mod ops;
mod python;
mod report;

use measure::{wrk, ws_load, Load, Run, Server, View};

/// The request body of the JSON echo scenario: 1 KiB of JSON.
fn json_body() -> String {
    let items: Vec<String> = (0..60).map(|i| format!("\"item-{i:03}\"")).collect();
    let mut body = format!("{{\"items\":[{}],\"pad\":\"", items.join(","));
    while body.len() < 1022 {
        body.push('x');
    }
    body + "\"}"
}

/// What the environment asks for.
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

/// The rows one of bench's sections writes: `rows(berth binary folder, work folder,
/// plugins folder, rounds, seconds, connections)`.
type Rows = fn(&Path, &Path, &Path, usize, u64, usize) -> Result<String>;

/// A section of bench on its own (`cargo xtask bench-ops`, `bench-compression`): the
/// release build and the plugins, then `rows` with ROUNDS, DURATION and CONNS from the
/// environment, printed.
fn standalone(root: &Path, name: &str, rows: Rows) -> Result<()> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "berth"]);
    run(build, root)?;
    let bin = target_dir(root).join("release");
    let mut plugins = Command::new(bin.join("berth"));
    plugins.args(["build", "plugins"]);
    run(plugins, root)?;
    let work = std::env::temp_dir().join(format!("berth-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let report = rows(
        &bin,
        &work,
        &root.join("plugins"),
        env_or("ROUNDS", 3),
        env_or("DURATION", 5),
        env_or("CONNS", 64),
    )?;
    println!("{report}");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// One HTTP scenario: a name, the path, an optional wrk script, and which servers (by
/// index into [`Servers::http`]) it runs against.
struct Scenario {
    name: &'static str,
    path: &'static str,
    script: Option<std::path::PathBuf>,
    servers: Vec<usize>,
}

/// The servers of one view, all started before the first round.
struct Servers {
    /// Every HTTP server; the first is the native baseline.
    http: Vec<Server>,
    /// (server, path) of every WebSocket echo target; the first is native.
    ws: Vec<(Server, &'static str)>,
}

/// One scenario's runs: per server, its name and its runs.
type ScenarioRuns = (&'static str, Vec<(&'static str, Vec<Run>)>);

/// What one view measured.
pub struct ViewResult {
    view: View,
    /// Per scenario: its name, and per server the server's name and its runs.
    http: Vec<ScenarioRuns>,
    /// Per WebSocket target: its name, messages/s per round, idle RSS per connection.
    ws: Vec<(&'static str, Vec<f64>, f64)>,
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
    for tool in ["wrk", "taskset"] {
        if Command::new(tool).arg("-V").output().is_err() {
            let package = if tool == "wrk" { "wrk" } else { "util-linux" };
            let mut apt = Command::new("sh");
            apt.arg("-c").arg(format!(
                "apt-get install -y -qq {package} || sudo apt-get install -y -qq {package}"
            ));
            run(apt, root)?;
        }
    }

    let work = std::env::temp_dir().join(format!("berth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    if std::env::var_os("CLUSTER_ONLY").is_some() {
        println!("{}", cluster::run(&bin, &root.join("plugins"), &work)?);
        return Ok(());
    }
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
        "[server]\ncache_dir = {cache:?}\n[plugins]\ndir = {dir:?}\nload = [\"cors\", \"auth\", \"logger\", \"hello\"]\n\
         [plugin.auth]\nprefix = \"/\"\nsecret = \"bench-secret\"\n{limits}",
        cache = work.join("cache"),
        dir = plugins_dir,
    );
    std::fs::write(work.join("plain.toml"), &plain)?;
    std::fs::write(work.join("chain.toml"), &chain)?;

    // Plugin load time: the first start compiles (cold), the second reads the cache.
    let load = load_times(&bin, &work)?;
    let python_wasm = python::prepare(root, &bin, &work, &limits)?;
    let wasi_hello = match std::env::var_os("WASMTIME_SERVE") {
        Some(wasmtime) => Some((wasmtime, build_wasi_hello(root)?)),
        None => None,
    };

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results = Vec::new();
    for view in View::all(cores) {
        eprintln!("view: {}", view.title());
        let servers = start_servers(view, &bin, &work, wasi_hello.as_ref())?;
        results.push(run_view(view, &opts, &bin, &work, &servers)?);
    }

    let mut report = String::new();
    for result in &results {
        report.push_str(&report::view(&opts_line(&opts), result));
    }
    if let Some(first) = results.first() {
        report.push_str(&report::targets(first));
        let rust = report::hello(first, "wasmtime");
        let py = report::hello(first, "wasmtime·python");
        if let (Some(rust), Some(py)) = (rust, py) {
            let costs =
                python::instance_costs(&bin, &plugins_dir.join("hello.wasm"), &python_wasm)?;
            let size = std::fs::metadata(&python_wasm).map_or(0, |m| m.len());
            report.push_str(&python::note(rust, py, &costs, size));
        }
    }
    report.push_str(&cluster::run(&bin, &plugins_dir, &work)?);
    // TLS and HTTP/2 beside plain HTTP/1.1 (ops.rs).
    report.push_str(&ops::rows(
        &bin,
        &work,
        &plugins_dir,
        opts.rounds,
        opts.seconds,
        opts.conns,
    )?);
    // Response compression beside identity (compression.rs).
    report.push_str(&compression::rows(
        &bin,
        &work,
        &plugins_dir,
        opts.rounds,
        opts.seconds,
        opts.conns,
    )?);
    report.push_str(&format!(
        "\nPlugin load (wasmtime, hello + bench-kit + ws-echo, read + compile + setup): \
         {:.1} ms per plugin cold, {:.2} ms warm (from the compiled-artifact cache).\n",
        load[0], load[1]
    ));
    println!("{report}");
    let document = format!(
        "# Benchmarks\n\nWritten by `cargo xtask bench` on {}.\n\n{}\n{report}",
        report::today(),
        report::machine()
    );
    std::fs::write(root.join("BENCHMARKS.md"), document)?;
    eprintln!("wrote BENCHMARKS.md");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn opts_line(opts: &Options) -> String {
    format!(
        "HTTP: wrk -t1 -c{} -d{}s, {} interleaved rounds; medians (min–max). \
         WebSocket echo: {} connections × {} round trips of 32 bytes; then {} idle connections.",
        opts.conns, opts.seconds, opts.rounds, opts.ws_conns, opts.ws_messages, opts.idle
    )
}

/// Starts every server of a view (as [`View::server`] places them).
fn start_servers(
    view: View,
    bin: &Path,
    work: &Path,
    wasi_hello: Option<&(std::ffi::OsString, std::path::PathBuf)>,
) -> Result<Servers> {
    let berth = |config: &str, engine: &str, port: u16| {
        let mut cmd = view.server(&bin.join("berth"));
        cmd.args(["serve", "--config"]).arg(work.join(config));
        cmd.args(["--engine", engine, "--port", &port.to_string()]);
        cmd.env("RUST_LOG", "warn");
        cmd
    };
    let mut native_http = view.server(&bin.join("native-hello"));
    native_http.arg("18301").arg(work.join("www"));
    let mut http = vec![
        Server::start("native", 18301, native_http)?,
        Server::start("wasmtime", 18302, berth("plain.toml", "wasmtime", 18302))?,
        Server::start("wasmi", 18303, berth("plain.toml", "wasmi", 18303))?,
        Server::start(
            "wasmtime·chain",
            18304,
            berth("chain.toml", "wasmtime", 18304),
        )?,
        Server::start("wasmi·chain", 18305, berth("chain.toml", "wasmi", 18305))?,
        Server::start(
            "wasmtime·python",
            18308,
            berth("python.toml", "wasmtime", 18308),
        )?,
    ];
    if let Some((wasmtime, wasm)) = wasi_hello {
        let serve = |port: u16, reuse: bool| {
            let mut cmd = view.server(Path::new(wasmtime));
            // `-Scli`: the wasi:cli imports Rust's std links in (environment, exit,
            // stdio). By default `wasmtime serve` makes a fresh instance per request.
            cmd.args(["serve", "-Scli", "--addr", &format!("127.0.0.1:{port}")]);
            if reuse {
                cmd.args(["--max-instance-reuse-count", "128"]);
            }
            cmd.arg(wasm);
            cmd
        };
        http.push(Server::start("wasmtime serve", 18307, serve(18307, false))?);
        http.push(Server::start(
            "wasmtime serve·reuse",
            18309,
            serve(18309, true),
        )?);
    }
    let mut native_ws = view.server(&bin.join("native-ws-echo"));
    native_ws.arg("18306");
    let ws = vec![
        (Server::start("native", 18306, native_ws)?, "/"),
        (
            Server::start("wasmtime", 18312, berth("plain.toml", "wasmtime", 18312))?,
            "/ws/echo",
        ),
        (
            Server::start("wasmi", 18313, berth("plain.toml", "wasmi", 18313))?,
            "/ws/echo",
        ),
    ];
    Ok(Servers { http, ws })
}

/// Runs every scenario of a view, round by round, then the idle WebSocket count.
fn run_view(
    view: View,
    opts: &Options,
    bin: &Path,
    work: &Path,
    servers: &Servers,
) -> Result<ViewResult> {
    let index = |name: &str| servers.http.iter().position(|s| s.name == name);
    let pick = |names: &[&str]| names.iter().filter_map(|n| index(n)).collect::<Vec<_>>();
    let scenarios = [
        Scenario {
            name: "GET /hello",
            path: "/hello",
            script: None,
            servers: pick(&[
                "native",
                "wasmtime",
                "wasmi",
                "wasmtime serve",
                "wasmtime serve·reuse",
                "wasmtime·python",
            ]),
        },
        Scenario {
            name: "POST /echo-json (1 KiB)",
            path: "/echo-json",
            script: Some(work.join("post.lua")),
            servers: pick(&["native", "wasmtime", "wasmi"]),
        },
        Scenario {
            name: "GET /incr (state)",
            path: "/incr",
            script: None,
            servers: pick(&["native", "wasmtime", "wasmi"]),
        },
        Scenario {
            name: "GET /static/4k.txt",
            path: "/static/4k.txt",
            script: None,
            servers: pick(&["native", "wasmtime", "wasmi"]),
        },
        Scenario {
            name: "cors+auth+logger+hello",
            path: "/hello",
            script: Some(work.join("auth.lua")),
            servers: pick(&["wasmtime·chain", "wasmi·chain"]),
        },
    ];
    let load = Load {
        view,
        conns: opts.conns,
        seconds: opts.seconds,
    };
    let mut http: Vec<Vec<Vec<Run>>> = scenarios
        .iter()
        .map(|s| vec![Vec::new(); s.servers.len()])
        .collect();
    let mut ws_runs = vec![Vec::new(); servers.ws.len()];
    for round in 1..=opts.rounds {
        eprintln!("  round {round}/{}", opts.rounds);
        for (s, scenario) in scenarios.iter().enumerate() {
            for (i, &server) in scenario.servers.iter().enumerate() {
                let server = &servers.http[server];
                let url = format!("http://127.0.0.1:{}{}", server.port, scenario.path);
                let script = scenario.script.as_deref();
                http[s][i].push(wrk(&load, &url, script, server.pid())?);
            }
        }
        for (i, (server, path)) in servers.ws.iter().enumerate() {
            let url = format!("ws://127.0.0.1:{}{path}", server.port);
            let (conns, messages) = (opts.ws_conns.to_string(), opts.ws_messages.to_string());
            ws_runs[i].push(ws_load(view, bin, &["echo", &url, &conns, &messages])?);
        }
    }
    let mut ws = Vec::new();
    for ((server, path), runs) in servers.ws.iter().zip(ws_runs) {
        let url = format!("ws://127.0.0.1:{}{path}", server.port);
        let pid = server.pid().to_string();
        let idle = ws_load(view, bin, &["idle", &url, &opts.idle.to_string(), &pid])?;
        ws.push((server.name, runs, idle));
    }
    let http = scenarios
        .iter()
        .zip(http)
        .map(|(scenario, runs)| {
            let named = scenario
                .servers
                .iter()
                .map(|&i| servers.http[i].name)
                .zip(runs)
                .collect();
            (scenario.name, named)
        })
        .collect();
    Ok(ViewResult { view, http, ws })
}

/// Builds `bench/wasi-hello` for `wasi:http`, for `wasmtime serve`.
fn build_wasi_hello(root: &Path) -> Result<std::path::PathBuf> {
    let mut target = Command::new("rustup");
    target.args(["target", "add", "wasm32-wasip2"]);
    run(target, root)?;
    let crate_dir = root.join("bench/wasi-hello");
    let out = target_dir(root).join("wasi-hello");
    let mut build = cargo();
    build.args(["build", "--release", "--target", "wasm32-wasip2"]);
    build.env("CARGO_TARGET_DIR", &out);
    run(build, &crate_dir)?;
    Ok(out.join("wasm32-wasip2/release/wasi_hello.wasm"))
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
        let server = Server::spawn("load", 18399, cmd)?;
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
