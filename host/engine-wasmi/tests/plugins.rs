//! The bundled plugins (`plugins/*.wasm`, built by `berth build plugins`) on wasmi.
//! Each test is skipped, with a note, when its plugin file has not been built.

mod common;

use std::time::Instant;

use berth_core::engine::{CallError, Engine, EngineLimits, Instance};
use berth_core::model::{Body, Registration};
use berth_engine_wasmi::WasmiEngine;
use common::{get, host, limits, plugin_file};

fn start(engine: &WasmiEngine, file: &str) -> Option<(Box<dyn Instance>, Registration)> {
    let Some(bytes) = plugin_file(file) else {
        println!("skipped: plugins/{file} is not built");
        return None;
    };
    let module = engine
        .compile(&bytes)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let (_, host) = host();
    let mut inst = module.instantiate(host).expect("instantiate");
    let reg = inst.setup(&vec![]).expect("setup call").expect("setup ok");
    Some((inst, reg))
}

fn handler(reg: &Registration, path: &str) -> u32 {
    reg.routes
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no route {path}"))
        .handler
}

#[test]
fn every_bundled_plugin_loads_and_sets_up() {
    let engine = WasmiEngine::new(limits());
    for file in [
        "hello",
        "auth",
        "logger",
        "metrics",
        "cors",
        "rate-limit",
        "users",
        "micro-api",
        "misbehave",
    ] {
        if let Some((_, reg)) = start(&engine, &format!("{file}.wasm")) {
            assert!(!reg.name.is_empty(), "{file} has a name");
        }
    }
}

#[test]
fn hello_says_hello() {
    let engine = WasmiEngine::new(limits());
    let Some((mut inst, reg)) = start(&engine, "hello.wasm") else {
        return;
    };
    let id = handler(&reg, "/hello");
    let resp = inst.handle(id, &get("/hello")).expect("hello");
    assert_eq!(resp.status, 200);
    let Body::Bytes(body) = &resp.body else {
        panic!("{:?}", resp.body)
    };
    assert!(
        String::from_utf8_lossy(body).contains("Hello, World!"),
        "{resp:?}"
    );

    let req = get("/hello");
    for _ in 0..1000 {
        inst.handle(id, &req).expect("warm up");
    }
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(inst.handle(id, &req).expect("hello"));
    }
    println!(
        "wasmi: plugins/hello.wasm handle(GET /hello) {:?} per call",
        started.elapsed() / n
    );
}

#[test]
fn misbehave_is_contained() {
    let engine = WasmiEngine::new(EngineLimits {
        call_timeout_ms: 100,
        memory_bytes: 8 << 20,
    });
    let Some((mut inst, reg)) = start(&engine, "misbehave.wasm") else {
        return;
    };
    assert_eq!(
        inst.handle(handler(&reg, "/ok"), &get("/ok"))
            .expect("ok")
            .status,
        200
    );
    let started = Instant::now();
    assert_eq!(
        inst.handle(handler(&reg, "/loop"), &get("/loop")),
        Err(CallError::Deadline)
    );
    assert!(
        started.elapsed().as_millis() < 1000,
        "{:?}",
        started.elapsed()
    );

    let (mut inst, _) = start(&engine, "misbehave.wasm").expect("again");
    assert!(matches!(
        inst.handle(handler(&reg, "/panic"), &get("/panic")),
        Err(CallError::Trap(_))
    ));
    let (mut inst, _) = start(&engine, "misbehave.wasm").expect("again");
    assert_eq!(
        inst.handle(handler(&reg, "/oom"), &get("/oom")),
        Err(CallError::OutOfMemory)
    );
    let (mut inst, _) = start(&engine, "misbehave.wasm").expect("again");
    assert_eq!(
        inst.handle(handler(&reg, "/ok"), &get("/ok"))
            .expect("ok")
            .status,
        200
    );
}
