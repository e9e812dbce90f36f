//! End-to-end tests of the wasmi engine against a real component (tests/guest).

mod common;

use std::time::{Duration, Instant};

use berth_core::engine::{CallError, Engine, EngineLimits, Instance, LoadError};
use berth_core::host::Level;
use berth_core::model::*;
use berth_engine_wasmi::WasmiEngine;
use common::{get, guest_component, host, limits};
use futures_lite::future::block_on;

fn instance(engine: &WasmiEngine) -> Box<dyn Instance> {
    let module = engine.compile(guest_component()).expect("compile");
    let (_, host) = host();
    module.instantiate(host).expect("instantiate")
}

fn body_text(resp: &Response) -> String {
    match &resp.body {
        Body::Bytes(b) => String::from_utf8(b.clone()).expect("utf-8 body"),
        other => panic!("not a bytes body: {other:?}"),
    }
}

#[test]
fn setup_returns_the_registration() {
    let engine = WasmiEngine::new(limits());
    let mut inst = instance(&engine);
    let config = vec![("name".into(), "tester".into())];
    let reg = block_on(inst.setup(&config)).expect("call").expect("ok");
    assert_eq!(reg.name, "tester");
    assert_eq!(reg.routes.len(), 8);
    assert_eq!(
        reg.routes[0],
        Route {
            methods: vec![Method::Get, Method::Post],
            path: "/hello".into(),
            handler: 1
        }
    );
    assert_eq!(
        reg.websockets,
        vec![WsRoute {
            path: "/ws".into(),
            handler: 20
        }]
    );
    assert_eq!(
        reg.middleware,
        vec![Middleware {
            methods: vec![],
            before: Some(30),
            after: Some(31)
        }]
    );
    assert_eq!(
        reg.hooks,
        vec![Hook {
            event: EventKind::ServerStart,
            handler: 40
        }]
    );
    assert_eq!(
        reg.timers,
        vec![Timer {
            interval_ms: 1000,
            handler: 41
        }]
    );
    assert_eq!(
        reg.mounts,
        vec![StaticMount {
            prefix: "/s".into(),
            dir: "public".into(),
            max_age: 60
        }]
    );
    // And the error case of the result.
    let mut inst = instance(&engine);
    assert_eq!(
        block_on(inst.setup(&vec![("fail".into(), "1".into())])).expect("call"),
        Err("asked to fail".into())
    );
}

#[test]
fn handle_answers_hello_and_echoes_requests() {
    let engine = WasmiEngine::new(limits());
    let mut inst = instance(&engine);
    let resp = block_on(inst.handle(1, &get("/hello"))).expect("hello");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(body_text(&resp), "Hello, world!");

    let req = Request {
        id: u64::MAX - 1,
        method: Method::Patch,
        path: "/echo/ü".into(),
        query: "a=1&b=%20".into(),
        query_pairs: vec![("a".into(), "1".into()), ("b".into(), " ".into())],
        params: vec![("id".into(), "42".into())],
        headers: vec![
            ("x-one".into(), "1".into()),
            ("x-two".into(), "zwei".into()),
        ],
        body: (0..=255u8).collect(),
        remote_addr: "[::1]:9".into(),
    };
    let resp = block_on(inst.handle(2, &req)).expect("echo");
    assert_eq!(resp.status, 201);
    assert_eq!(resp.header("x-method"), Some("Method::Patch"));
    assert_eq!(resp.header("x-path"), Some("/echo/ü"));
    assert_eq!(resp.header("x-query"), Some("a=1&b=%20"));
    assert_eq!(resp.header("x-id"), Some(&*(u64::MAX - 1).to_string()));
    assert_eq!(resp.header("x-remote"), Some("[::1]:9"));
    assert_eq!(resp.header("x-echo-b"), Some(" "));
    assert_eq!(resp.header("x-echo-id"), Some("42"));
    assert_eq!(resp.header("x-echo-x-two"), Some("zwei"));
    assert_eq!(resp.body, Body::Bytes((0..=255u8).collect()));

    // Other body variants.
    assert_eq!(
        block_on(inst.handle(7, &get("/stream")))
            .expect("stream")
            .body,
        Body::Stream(3)
    );
    assert_eq!(
        block_on(inst.handle(8, &get("/sse"))).expect("sse").body,
        Body::Sse("news".into())
    );
    // Many calls on one instance: nothing leaks or drifts.
    for _ in 0..200 {
        assert_eq!(
            body_text(&block_on(inst.handle(1, &get("/hello"))).expect("hello")),
            "Hello, world!"
        );
    }
}

#[test]
fn middleware_events_and_chunks() {
    let engine = WasmiEngine::new(limits());
    let mut inst = instance(&engine);
    match block_on(inst.before(30, &get("/x"))).expect("before") {
        BeforeOutcome::Proceed(p) => {
            assert_eq!(p.request_headers, vec![("x-before".into(), "30".into())]);
            assert_eq!(
                p.response_headers,
                vec![("access-control-allow-origin".into(), "*".into())]
            );
        }
        other => panic!("{other:?}"),
    }
    match block_on(inst.before(30, &get("/blocked"))).expect("before") {
        BeforeOutcome::Respond(r) => {
            assert_eq!((r.status, body_text(&r)), (403, "blocked by 30".into()))
        }
        other => panic!("{other:?}"),
    }
    let resp = Response {
        status: 404,
        headers: vec![("a".into(), "b".into())],
        body: Body::File("f.txt".into()),
    };
    let out = block_on(inst.after(31, &get("/p"), &resp)).expect("after");
    assert_eq!(out.status, 404);
    assert_eq!(out.body, Body::File("f.txt".into()));
    assert_eq!(
        out.headers,
        vec![("a".into(), "b".into()), ("x-after".into(), "31:/p".into())]
    );

    let msg = Event::WsMessage(WsMessage {
        conn: 9,
        path: "/ws".into(),
        payload: WsPayload::Text("hi".into()),
    });
    let out = block_on(inst.on_event(20, &msg)).expect("ws text");
    assert_eq!(
        out,
        EventOutcome {
            reply: Some(WsPayload::Text("20:9:hi".into())),
            stop: true,
            refuse: None
        }
    );
    let msg = Event::WsMessage(WsMessage {
        conn: 9,
        path: "/ws".into(),
        payload: WsPayload::Binary(vec![1, 2, 3]),
    });
    assert_eq!(
        block_on(inst.on_event(20, &msg)).expect("ws bin").reply,
        Some(WsPayload::Binary(vec![3, 2, 1]))
    );
    let connect = Event::WsConnect(WsConnect {
        conn: 1,
        path: "/no".into(),
        query_pairs: vec![],
        headers: vec![],
        remote_addr: "1.2.3.4:5".into(),
    });
    let refuse = block_on(inst.on_event(20, &connect))
        .expect("connect")
        .refuse;
    assert_eq!(
        refuse,
        Some(Refusal {
            status: 403,
            reason: "no 1.2.3.4:5".into()
        })
    );
    assert_eq!(
        block_on(inst.on_event(41, &Event::Tick(u64::MAX)))
            .expect("tick")
            .reply,
        Some(WsPayload::Text(u64::MAX.to_string()))
    );
    let start = Event::ServerStart(ServerInfo {
        http_addr: "0.0.0.0:80".into(),
        ws_addr: Some("0.0.0.0:81".into()),
    });
    assert_eq!(
        block_on(inst.on_event(40, &start)).expect("start").reply,
        Some(WsPayload::Text("0.0.0.0:80|Some(\"0.0.0.0:81\")".into()))
    );
    let bye = Event::WsDisconnect(WsDisconnect {
        conn: 2,
        path: "/ws".into(),
        code: 1001,
        reason: "gone".into(),
    });
    assert_eq!(
        block_on(inst.on_event(20, &bye)).expect("disconnect").reply,
        Some(WsPayload::Text("1001:gone".into()))
    );
    assert_eq!(
        block_on(inst.on_event(40, &Event::ServerStop)).expect("stop"),
        EventOutcome::default()
    );

    assert_eq!(
        block_on(inst.next_chunk(0)).expect("chunk"),
        Some(b"aa".to_vec())
    );
    assert_eq!(
        block_on(inst.next_chunk(2)).expect("chunk"),
        Some(b"cc".to_vec())
    );
    assert_eq!(block_on(inst.next_chunk(3)).expect("chunk"), None);
}

#[test]
fn host_imports_reach_the_plugin_host() {
    let engine = WasmiEngine::new(limits());
    let module = engine.compile(guest_component()).expect("compile");
    let (api, host) = host();
    let mut inst = module.instantiate(host).expect("instantiate");
    let resp = block_on(inst.handle(3, &get("/state"))).expect("state");
    assert_eq!(
        body_text(&resp),
        "got=Some(\"hi\") missing=None n=Ok(2) bad=true keys=[\"greeting\", \"hits\"] deleted=false \
         now>0=true sent=true reached=3"
    );
    let logs = api.logs.lock().expect("logs").clone();
    assert_eq!(
        logs,
        vec![(
            "test".to_string(),
            Level::Info,
            "state for /state".to_string()
        )]
    );
    // The host namespaces keys per plugin and scope.
    use berth_core::state::Store;
    assert_eq!(
        api.store.get("plugin/test", "greeting").unwrap(),
        Some(b"hi".to_vec())
    );
    assert_eq!(api.store.get("shared", "k1").unwrap(), Some(b"v1".to_vec()));
    assert_eq!(
        api.store.get("plugin/test", "hits").unwrap(),
        Some(b"2".to_vec())
    );
}

#[test]
fn an_endless_loop_hits_the_deadline_and_a_fresh_instance_works() {
    let engine = WasmiEngine::new(EngineLimits {
        call_timeout_ms: 100,
        memory_bytes: 8 << 20,
        ..EngineLimits::default()
    });
    let mut inst = instance(&engine);
    let started = Instant::now();
    assert_eq!(
        block_on(inst.handle(4, &get("/loop"))),
        Err(CallError::Deadline)
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100),
        "stopped early: {took:?}"
    );
    assert!(took < Duration::from_millis(1000), "stopped late: {took:?}");
    // The instance is poisoned…
    assert!(block_on(inst.handle(1, &get("/hello"))).is_err());
    // …and a fresh one works.
    let mut fresh = instance(&engine);
    assert_eq!(
        body_text(&block_on(fresh.handle(1, &get("/hello"))).expect("hello")),
        "Hello, world!"
    );
}

#[test]
fn a_panic_is_a_trap() {
    let engine = WasmiEngine::new(limits());
    let mut inst = instance(&engine);
    match block_on(inst.handle(5, &get("/panic"))) {
        Err(CallError::Trap(why)) => assert!(why.contains("unreachable"), "{why}"),
        other => panic!("{other:?}"),
    }
    let mut fresh = instance(&engine);
    assert_eq!(
        block_on(fresh.handle(1, &get("/hello")))
            .expect("hello")
            .status,
        200
    );
}

#[test]
fn growing_past_the_memory_cap_is_out_of_memory() {
    let engine = WasmiEngine::new(limits());
    let mut inst = instance(&engine);
    assert_eq!(
        block_on(inst.handle(6, &get("/oom"))),
        Err(CallError::OutOfMemory)
    );
    let mut fresh = instance(&engine);
    assert_eq!(
        block_on(fresh.handle(1, &get("/hello")))
            .expect("hello")
            .status,
        200
    );
}

#[test]
fn load_errors_are_named() {
    let engine = WasmiEngine::new(limits());
    assert!(matches!(
        engine.compile(b"not wasm"),
        Err(LoadError::Invalid(_))
    ));
    // A core module is not a component.
    let core = b"\0asm\x01\0\0\0";
    assert!(matches!(engine.compile(core), Err(LoadError::Invalid(_))));
    // A component without a module that exports cabi_realloc.
    let component = b"\0asm\x0d\0\x01\0";
    match engine.compile(component) {
        Err(LoadError::Contract(why)) => assert!(why.contains("cabi_realloc"), "{why}"),
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn measure_a_hello_call() {
    let engine = WasmiEngine::new(limits());
    let module = engine.compile(guest_component()).expect("compile");
    let started = Instant::now();
    let n_inst = 50;
    for _ in 0..n_inst {
        let (_, host) = host();
        std::hint::black_box(module.instantiate(host).expect("instantiate"));
    }
    let per_instance = started.elapsed() / n_inst;
    let mut inst = instance(&engine);
    let req = get("/hello");
    for _ in 0..1000 {
        block_on(inst.handle(1, &req)).expect("warm up");
    }
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(block_on(inst.handle(1, &req)).expect("hello"));
    }
    let per_call = started.elapsed() / n;
    println!("wasmi: instantiate {per_instance:?}, handle(/hello) {per_call:?} per call");
}

#[test]
fn calls_on_slices_smaller_than_a_function_translation_complete() {
    // At 1,000 fuel a slice, translating one of the guest's functions on its first call
    // (on entry or deep inside the call), or growing its memory by a page, is more than
    // a slice: the call must still finish, having yielded as often as it needed, rather
    // than fail as past its deadline or out of memory (both wasmi 2.0 quirks, see
    // `engine.rs` and `limits.rs`).
    let engine = WasmiEngine::new(limits()).with_fuel_per_ms(1_000);
    let mut inst = instance(&engine);
    // No config: lowering it would not allocate, so the call starts on one slice.
    let reg = block_on(inst.setup(&Vec::new()))
        .expect("setup call")
        .expect("setup");
    assert_eq!(reg.routes.len(), 8);
}
