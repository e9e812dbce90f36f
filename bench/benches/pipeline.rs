//! The per-request host path without a socket: a request in, through berth-core's
//! pipeline (router, before-middleware, route, after-middleware) into warm plugin
//! instances, and `finalise`, to the response out. Two apps, on each engine: the bare
//! `hello` route, and seed 002's onion in front of it (cors + auth + logger + hello) —
//! the ratio of the two is the middleware chain's cost, what `cargo xtask bench`
//! measures with sockets.
//!
//! Needs `plugins/*.wasm`: `cargo xtask build-plugins` (or `cargo xtask bench`).

use std::path::Path;
use std::sync::Arc;

use berth_core::engine::{CallError, Engine, EngineLimits, Instance};
use berth_core::host::PluginHost;
use berth_core::model::{BeforeOutcome, Event, EventOutcome, Method, Pairs, Request, Response};
use berth_core::pipeline::{App, Invoker, PluginEntry, Target};
use berth_core::respond::finalise;
use berth_server::ServerHost;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_lite::future::block_on;
use std::hint::black_box;

/// A browser-like `GET /hello` with the bench's `Authorization` header.
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
            header("origin", "http://example.test"),
            header("authorization", "bench-secret"),
            header("x-request-id", "4f1c2a7e-9d3b-4b8e-a1f0-5c6d7e8f9a0b"),
        ],
        body: Vec::new(),
        remote_addr: "127.0.0.1:54321".into(),
    }
}

/// One warm instance per plugin, called in place (what a pool lease gives the server).
struct Warm(Vec<Box<dyn Instance>>);

impl Invoker for Warm {
    async fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError> {
        self.0[to.plugin].handle(to.handler, req).await
    }
    async fn before(&mut self, to: Target, req: &Request) -> Result<BeforeOutcome, CallError> {
        self.0[to.plugin].before(to.handler, req).await
    }
    async fn after(
        &mut self,
        to: Target,
        req: &Request,
        resp: &Response,
    ) -> Result<Response, CallError> {
        self.0[to.plugin].after(to.handler, req, resp).await
    }
    async fn on_event(&mut self, to: Target, event: &Event) -> Result<EventOutcome, CallError> {
        self.0[to.plugin].on_event(to.handler, event).await
    }
}

/// The app and its warm instances for `plugins` (with their config pairs).
fn app(engine: &dyn Engine, plugins: &[(&str, Pairs)]) -> (App, Warm) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    let mut entries = Vec::new();
    let mut instances = Vec::new();
    for (name, config) in plugins {
        let path = dir.join(format!("{name}.wasm"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build it with `cargo xtask build-plugins`",
                path.display()
            )
        });
        let module = engine.compile(&bytes).expect("plugin compiles");
        let host = PluginHost::new(Arc::new(ServerHost::default()), name);
        let mut instance = module.instantiate(host).expect("instance");
        let registration = block_on(instance.setup(config))
            .expect("setup runs")
            .expect("setup succeeds");
        entries.push(PluginEntry {
            name: name.to_string(),
            registration,
        });
        instances.push(instance);
    }
    (
        App::new(entries).expect("the app assembles"),
        Warm(instances),
    )
}

fn bench(c: &mut Criterion) {
    let limits = EngineLimits::default();
    let engines: Vec<Box<dyn Engine>> = vec![
        Box::new(berth_engine_wasmtime::WasmtimeEngine::new(limits).expect("wasmtime")),
        Box::new(berth_engine_wasmi::WasmiEngine::new(limits)),
    ];
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let sets: [(&str, Vec<(&str, Pairs)>); 2] = [
        ("hello", vec![("hello", Vec::new())]),
        (
            "cors+auth+logger+hello",
            vec![
                ("cors", Vec::new()),
                (
                    "auth",
                    vec![pair("prefix", "/"), pair("secret", "bench-secret")],
                ),
                ("logger", Vec::new()),
                ("hello", Vec::new()),
            ],
        ),
    ];
    let req = request();
    let mut group = c.benchmark_group("pipeline");
    for engine in &engines {
        for (set, plugins) in &sets {
            let (app, mut warm) = app(engine.as_ref(), plugins);
            group.bench_function(format!("{} {set}", engine.name()), |b| {
                b.iter(|| {
                    let mut response = block_on(app.handle(black_box(req.clone()), &mut warm));
                    assert_eq!(response.status, 200);
                    finalise(&mut response, 100)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
