//! The hot-swap benchmark (`cargo xtask swap-bench`; ignored in the ordinary suite:
//! it measures, it does not check a behaviour the other suites miss).
//!
//! One server per engine serves the test guest `live`. 16 keep-alive clients hammer
//! `GET /live` for a baseline phase with no swaps, then for a phase of `SWAPS` (100)
//! swaps, v1 and v2 in turn, 20 ms apart, each made by a rescan (the watcher is off, so the timing is
//! the swap's alone: read, hash, compile — or fetch from wasmtime's artifact cache —,
//! `setup`, assemble, store). Printed: the swap time p50/p99/max, and the request
//! latency p50/p99/max of both phases with their ratio, plus the failed requests (which
//! must be none).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_tests::{guests, EngineKind};

const CLIENTS: usize = 16;
/// The pause after each swap.
const PACE: Duration = Duration::from_millis(20);

fn swaps() -> usize {
    std::env::var("SWAPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Latencies and failures of the clients while `phase` runs.
fn hammer(url: &str, phase: impl FnOnce()) -> (Vec<Duration>, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, stop) = (url.to_string(), stop.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("client");
                let (mut took, mut failed) = (Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let ok = client
                        .get(&url)
                        .send()
                        .and_then(|r| Ok(r.status() == 200 && r.text()?.contains("version")))
                        .unwrap_or(false);
                    took.push(started.elapsed());
                    failed += usize::from(!ok);
                }
                (took, failed)
            })
        })
        .collect();
    phase();
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut failed) = (Vec::new(), 0);
    for c in clients {
        let (took, f) = c.join().expect("client");
        all.extend(took);
        failed += f;
    }
    all.sort();
    (all, failed)
}

fn bench(engine: EngineKind, cache: bool) {
    let name = format!("{engine:?}{}", if cache { "" } else { "-nocache" });
    let dir = berth_tests::temp_dir(&format!("swap-bench-{name}"));
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("mkdir");
    let file = plugins.join("live.wasm");
    std::fs::write(&file, guests::LIVE_V1).expect("write");
    let mut config = berth_tests::Config {
        plugins_dir: plugins,
        port: 0,
        engine,
        cache_dir: cache.then(|| dir.join("cache")),
        ..Default::default()
    };
    config.reload.watch = false;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime
        .block_on(berth_server::Server::start(config))
        .expect("start");
    let url = format!("http://{}/live", server.local_addr());
    let reloader = server.reloader();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = runtime.spawn(server.run(async {
        let _ = stopped.await;
    }));

    let n = swaps();
    // Warm up, then the baseline: as long as the swap phase will take, roughly.
    let _ = hammer(&url, || std::thread::sleep(Duration::from_millis(300)));
    let mut swap_times = Vec::new();
    let (during, failed_during) = hammer(&url, || {
        for i in 0..n {
            let bytes = if i % 2 == 0 {
                guests::LIVE_V2
            } else {
                guests::LIVE_V1
            };
            std::fs::write(&file, bytes).expect("write");
            let report = runtime.block_on(reloader.rescan());
            assert!(report.refused.is_empty(), "{:?}", report.refused);
            swap_times.push(report.took.expect("every rescan swaps"));
            // Paced, so the phase is long enough for its latencies to mean something.
            std::thread::sleep(PACE);
        }
    });
    let phase: Duration = swap_times.iter().sum::<Duration>() + PACE * n as u32;
    let (baseline, failed_base) = hammer(&url, || {
        std::thread::sleep(phase.max(Duration::from_millis(300)))
    });
    swap_times.sort();

    println!(
        "{name:<16} swaps={n} swap p50={} p99={} max={} ms | requests during swaps: {} (failed {failed_during}) p50={} p99={} max={} ms | baseline: {} (failed {failed_base}) p50={} p99={} max={} ms | p99 ratio {:.2}",
        ms(percentile(&swap_times, 0.5)),
        ms(percentile(&swap_times, 0.99)),
        ms(percentile(&swap_times, 1.0)),
        during.len(),
        ms(percentile(&during, 0.5)),
        ms(percentile(&during, 0.99)),
        ms(percentile(&during, 1.0)),
        baseline.len(),
        ms(percentile(&baseline, 0.5)),
        ms(percentile(&baseline, 0.99)),
        ms(percentile(&baseline, 1.0)),
        percentile(&during, 0.99).as_secs_f64() / percentile(&baseline, 0.99).as_secs_f64().max(1e-9),
    );
    assert_eq!(failed_during + failed_base, 0, "no request may fail");
    let _ = stop.send(());
    let _ = runtime.block_on(serving);
}

#[test]
#[ignore = "a benchmark: run it with `cargo xtask swap-bench`"]
fn swap_times_and_latency_during_swaps() {
    bench(EngineKind::Wasmtime, true);
    bench(EngineKind::Wasmtime, false);
    bench(EngineKind::Wasmi, true);
}
