//! Start-up failures: each stops the server with an error that names the file and the
//! cause — never a panic, never a half-started server.

use berth_tests::{config, per_engine, plugins, EngineKind, TestServer};

fn start_error(config: berth_server::Config) -> String {
    match TestServer::start(config) {
        Ok(s) => panic!("server started on {} but should have failed", s.addr),
        Err(e) => e,
    }
}

/// The root berth.toml (what `cargo xtask demo` serves) starts and serves its plugins.
fn the_demo_config_serves(engine: EngineKind) {
    let path = berth_tests::repo_root().join("berth.toml");
    let server =
        TestServer::start(berth_tests::config_file(&path, engine)).expect("the demo starts");
    let hello = reqwest::blocking::get(server.url("/hello")).expect("GET /hello");
    assert_eq!(
        hello.text().expect("body"),
        r#"{"message":"Hello, World!"}"#
    );
    // The chat page points the browser at the dedicated WebSocket port.
    let page = reqwest::blocking::get(server.url("/chat"))
        .expect("GET /chat")
        .text()
        .expect("body");
    let port = server.ws_addr.expect("the demo has a ws_port").port();
    assert!(
        page.contains(&format!("const wsPort = \"{port}\";")),
        "{page}"
    );
}

/// wasmtime keeps compiled plugins in `cache_dir`; a corrupt entry is recompiled, never
/// fatal. wasmi compiles lazily and writes nothing.
fn the_artifact_cache_fills_and_heals(engine: EngineKind) {
    let dir = std::env::temp_dir().join(format!("berth-cache-{engine:?}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let toml = format!(
        "[server]\ncache_dir = {:?}\n[plugins]\nload = [\"hello\", \"ws-echo\"]\n",
        dir.to_string_lossy()
    );
    let entries = || -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        found.sort();
        found
    };
    let serve = || {
        let server = TestServer::start(config(&toml, engine)).expect("starts");
        let hello = reqwest::blocking::get(server.url("/hello")).expect("GET /hello");
        assert_eq!(hello.status(), 200);
        server.shutdown();
        assert!(server.wait_stopped(std::time::Duration::from_secs(15)));
    };
    serve();
    let cached = entries();
    if engine == EngineKind::Wasmi {
        assert!(cached.is_empty(), "wasmi wrote {cached:?}");
        return;
    }
    assert_eq!(cached.len(), 2, "one entry per plugin: {cached:?}");
    std::fs::write(&cached[0], b"not a compiled plugin").expect("corrupt an entry");
    serve();
    assert_eq!(entries(), cached, "the same entries, rewritten");
    let healed = std::fs::read(&cached[0]).expect("read entry");
    assert!(healed.len() > 1000, "the corrupt entry was replaced");
    let _ = std::fs::remove_dir_all(&dir);
}

fn missing_plugin(engine: EngineKind) {
    let e = start_error(config("[plugins]\nload = [\"hello\", \"nope\"]\n", engine));
    assert!(e.contains("plugin nope") && e.contains("nope.wasm"), "{e}");
}

fn invalid_plugin_file(engine: EngineKind) {
    let dir = std::env::temp_dir().join(format!("berth-bad-{engine:?}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("broken.wasm"), b"\0asm garbage").expect("write");
    let mut c = config("", engine);
    c.plugins_dir = dir.clone();
    let e = start_error(c);
    assert!(e.contains("broken.wasm"), "{e}");
    // A core module is a valid Wasm file but not a plugin component.
    std::fs::write(dir.join("broken.wasm"), b"\0asm\x01\0\0\0").expect("write");
    let mut c = config("", engine);
    c.plugins_dir = dir.clone();
    let e = start_error(c);
    assert!(e.contains("broken.wasm") && e.contains("component"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

fn setup_refusal(engine: EngineKind) {
    let e = start_error(config(
        "[plugins]\nload = [\"rate-limit\"]\n[plugin.rate-limit]\nwindow = \"soon\"\n",
        engine,
    ));
    assert!(
        e.contains("rate-limit.wasm") && e.contains("setup failed"),
        "{e}"
    );
    assert!(
        e.contains("window"),
        "the plugin's reason is passed on: {e}"
    );
}

fn conflicting_routes(engine: EngineKind) {
    // users and micro-api both answer GET /.
    let e = start_error(config(
        "[plugins]\nload = [\"users\", \"micro-api\"]\n",
        engine,
    ));
    assert!(
        e.contains("micro-api") && e.contains("plugin users") && e.contains("GET /"),
        "{e}"
    );
}

fn every_bundled_plugin_loads(engine: EngineKind) {
    for (name, _) in plugins::ALL {
        let s = TestServer::start(config(&format!("[plugins]\nload = [{name:?}]\n"), engine));
        assert!(s.is_ok(), "{name}: {:?}", s.err());
    }
}

per_engine!(
    the_demo_config_serves,
    the_artifact_cache_fills_and_heals,
    missing_plugin,
    invalid_plugin_file,
    setup_refusal,
    conflicting_routes,
    every_bundled_plugin_loads
);
