//! The markdown `cargo xtask bench` prints and writes: a table per view, the targets
//! (from the first view, the pinned one when the machine has two cores), the machine.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use super::measure::{median, Run};
use super::ViewResult;

/// The median (req/s, CPU µs per request) of `server` in the `GET /hello` scenario.
pub fn hello(result: &ViewResult, server: &str) -> Option<(f64, f64)> {
    scenario(result, "GET /hello", server)
        .map(|runs| (med(runs, |r| r.rps), med(runs, |r| r.cpu_us)))
}

fn scenario<'a>(result: &'a ViewResult, name: &str, server: &str) -> Option<&'a [Run]> {
    let (_, servers) = result.http.iter().find(|(n, _)| *n == name)?;
    let (_, runs) = servers.iter().find(|(s, _)| *s == server)?;
    Some(runs)
}

fn med(runs: &[Run], f: impl Fn(&Run) -> f64) -> f64 {
    median(runs.iter().map(f).collect())
}

/// One view's tables.
pub fn view(opts_line: &str, result: &ViewResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n\n{opts_line}\n", result.view.title());
    let _ = writeln!(
        out,
        "| scenario | server | req/s | min–max | p50 ms | p99 ms | CPU µs/req | RSS MiB | vs native |"
    );
    let _ = writeln!(out, "|---|---|---:|---|---:|---:|---:|---:|---:|");
    for (name, servers) in &result.http {
        let base = servers
            .first()
            .filter(|(s, _)| *s == "native")
            .map(|(_, runs)| med(runs, |r| r.rps));
        for (server, runs) in servers {
            let rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
            let m = median(rps.clone());
            let (lo, hi) = rps
                .iter()
                .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            let ratio = base.map_or("—".into(), |b| format!("{:.2}", m / b));
            let _ = writeln!(
                out,
                "| {name} | {server} | {m:.0} | {lo:.0}–{hi:.0} | {:.2} | {:.2} | {:.1} | {:.0} | {ratio} |",
                med(runs, |r| r.p50_ms),
                med(runs, |r| r.p99_ms),
                med(runs, |r| r.cpu_us),
                med(runs, |r| r.rss_mib),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n| WebSocket echo | messages/s | min–max | vs native | RSS per idle connection |"
    );
    let _ = writeln!(out, "|---|---:|---|---:|---:|");
    let base = result
        .ws
        .first()
        .map_or(f64::NAN, |(_, runs, _)| median(runs.clone()));
    for (server, runs, idle) in &result.ws {
        let m = median(runs.clone());
        let lo = runs.iter().copied().fold(f64::MAX, f64::min);
        let hi = runs.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {server} | {m:.0} | {lo:.0}–{hi:.0} | {:.2} | {:.1} KiB |",
            m / base,
            idle / 1024.0
        );
    }
    out.push('\n');
    out
}

/// The targets, each with the figure that meets it or misses it.
pub fn targets(result: &ViewResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Targets ({})\n", result.view.title());
    let mut line = |met: bool, text: String| {
        let _ = writeln!(out, "- {} {text}", if met { "met:" } else { "**missed:**" });
    };
    let p99 = |server: &str| scenario(result, "GET /hello", server).map(|r| med(r, |r| r.p99_ms));
    if let Some((native, native_cpu)) = hello(result, "native") {
        for (engine, target) in [("wasmtime", 0.6), ("wasmi", 0.3)] {
            if let (Some((rps, cpu)), Some(p99), Some(native_p99)) =
                (hello(result, engine), p99(engine), p99("native"))
            {
                let ratio = rps / native;
                line(
                    ratio >= target && p99 <= 2.0 * native_p99,
                    format!(
                        "`GET /hello` on {engine}: {ratio:.2}× native (target ≥ {target}×), \
                         p99 {p99:.2} ms vs native's {native_p99:.2} ms (target ≤ 2×), \
                         {cpu:.1} µs CPU per request vs native's {native_cpu:.1}"
                    ),
                );
            }
        }
    }
    for engine in ["wasmtime", "wasmi"] {
        let chain = scenario(result, "cors+auth+logger+hello", &format!("{engine}·chain"));
        if let (Some(chain), Some((_, hello_cpu))) = (chain, hello(result, engine)) {
            let ratio = med(chain, |r| r.cpu_us) / hello_cpu;
            line(
                ratio <= 1.5,
                format!(
                    "middleware chain on {engine}: {ratio:.2}× the bare hello route's CPU per \
                     request (target ≤ 1.5×)"
                ),
            );
        }
    }
    let ws = |name: &str| {
        result
            .ws
            .iter()
            .find(|(s, _, _)| *s == name)
            .map(|(_, runs, _)| median(runs.clone()))
    };
    if let Some(native) = ws("native") {
        for engine in ["wasmtime", "wasmi"] {
            if let Some(m) = ws(engine) {
                line(
                    m / native >= 0.8,
                    format!(
                        "WebSocket echo on {engine}: {:.2}× native tokio-tungstenite (target ≥ 0.8×)",
                        m / native
                    ),
                );
            }
        }
    }
    let serve = ["wasmtime serve", "wasmtime serve·reuse"]
        .into_iter()
        .filter_map(|name| hello(result, name).map(|h| (name, h)))
        .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0));
    match (serve, hello(result, "wasmtime")) {
        (Some((name, (serve, serve_cpu))), Some((berth, berth_cpu))) => line(
            berth / serve >= 2.0,
            format!(
                "`GET /hello`: berth on wasmtime serves {:.2}× the requests of the better \
                 `wasmtime serve` ({name}; target ≥ 2×), at {:.1}× less CPU per request",
                berth / serve,
                serve_cpu / berth_cpu
            ),
        ),
        _ => {
            let _ = writeln!(
                out,
                "- `wasmtime serve` not measured (set `WASMTIME_SERVE`)"
            );
        }
    }
    out
}

pub fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The machine and the versions, for the record.
pub fn machine() -> String {
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
    // The peer, when one was measured: its version, and the variable in the command.
    let (serve, env) = match std::env::var("WASMTIME_SERVE") {
        Ok(path) => (
            format!("; `wasmtime serve`: {}", command(&path, "--version")),
            "WASMTIME_SERVE=wasmtime ",
        ),
        Err(_) => (String::new(), ""),
    };
    format!(
        "- machine: {cpu}, {cores} cores\n\
         - {}; wasmtime {}; wasmi {}; {}{serve}\n\
         - command: `{env}cargo xtask bench` (release build, loopback)\n",
        command("rustc", "-V"),
        version("wasmtime"),
        version("wasmi"),
        command("wrk", "-v"),
    )
}
