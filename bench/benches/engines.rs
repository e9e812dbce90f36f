//! One plugin call end to end on each engine: lowering a typical request into the guest,
//! running the `hello` route, lifting the response. Instances are warm, as in the
//! server's pools; instantiation (the pool's refill cost) is measured too.
//!
//! Needs `plugins/hello.wasm`: `cargo xtask build-plugins` (or `cargo xtask bench`).

use std::path::Path;
use std::sync::Arc;

use berth_core::engine::{Engine, EngineLimits};
use berth_core::host::PluginHost;
use berth_core::model::{Method, Request};
use berth_server::ServerHost;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_lite::future::block_on;
use std::hint::black_box;

fn request() -> Request {
    let header = |n: &str, v: &str| (n.to_string(), v.to_string());
    Request {
        id: 1,
        method: Method::Get,
        path: "/hello".into(),
        query: String::new(),
        query_pairs: Vec::new(),
        params: Vec::new(),
        headers: vec![
            header("host", "127.0.0.1:8000"),
            header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) benchmark"),
            header("accept", "application/json"),
            header("accept-encoding", "gzip, deflate"),
            header("accept-language", "en-GB,en;q=0.9"),
            header("connection", "keep-alive"),
            header("cache-control", "no-cache"),
            header("x-request-id", "4f1c2a7e-9d3b-4b8e-a1f0-5c6d7e8f9a0b"),
        ],
        body: Vec::new(),
        remote_addr: "127.0.0.1:54321".into(),
    }
}

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/hello.wasm");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with `cargo xtask build-plugins`",
            path.display()
        )
    });
    let limits = EngineLimits::default();
    let engines: Vec<Box<dyn Engine>> = vec![
        Box::new(berth_engine_wasmtime::WasmtimeEngine::new(limits).expect("wasmtime")),
        Box::new(berth_engine_wasmi::WasmiEngine::new(limits)),
    ];
    let req = request();
    let mut group = c.benchmark_group("plugin call");
    for engine in &engines {
        let module = engine.compile(&bytes).expect("hello compiles");
        let host = || PluginHost::new(Arc::new(ServerHost::default()), "hello");
        let mut instance = module.instantiate(host()).expect("instance");
        let registration = block_on(instance.setup(&Vec::new()))
            .expect("setup runs")
            .expect("setup succeeds");
        let handler = registration.routes[0].handler;
        group.bench_function(format!("{} handle GET /hello", engine.name()), |b| {
            b.iter(|| block_on(instance.handle(handler, black_box(&req))).expect("handled"))
        });
        group.bench_function(format!("{} instantiate + setup", engine.name()), |b| {
            b.iter(|| {
                let mut fresh = module.instantiate(host()).expect("instance");
                block_on(fresh.setup(&Vec::new())).expect("setup runs")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
