//! Containment and isolation, once per runtime: a guest that returns malformed data
//! (hand-written, see `berth_tests::garbage`) gets a 500 and the server keeps serving;
//! a plugin cannot read another plugin's state or config, and shares only what it puts
//! in the shared namespace. (`/loop`, `/panic` and `/oom` are in `http.rs`.)

use std::path::PathBuf;
use std::sync::OnceLock;

use berth_tests::raw::RawHttp;
use berth_tests::{config, garbage, per_runtime, plugins, Runtime, TestServer};

/// A plugin folder holding the garbage plugin next to `hello`.
fn garbage_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("garbage-plugins");
        std::fs::create_dir_all(&dir).expect("create the plugin folder");
        std::fs::write(dir.join("garbage.wasm"), garbage::component()).expect("write");
        std::fs::write(dir.join("hello.wasm"), plugins::HELLO).expect("write");
        dir
    })
}

fn garbage_server(rt: Runtime) -> &'static TestServer {
    rt.shared("garbage", || {
        let mut c = config("[plugins]\nload = [\"garbage\", \"hello\"]\n", rt);
        c.plugins_dir = garbage_dir().clone();
        c
    })
}

/// users (plugin-scoped `user:<id>` records), metrics (shared `requests`), auth (a
/// secret in its config, guarding `/api`) and misbehave (the probe, with its own config).
fn neighbours(rt: Runtime) -> &'static TestServer {
    rt.shared("neighbours", || {
        config(
            r#"
            [plugins]
            load = ["metrics", "users", "auth", "misbehave"]
            [plugin.auth]
            secret = "auth-only-secret"
            [plugin.misbehave]
            colour = "blue"
            "#,
            rt,
        )
    })
}

per_runtime!(
    malformed_results_are_500_and_the_server_carries_on,
    state_is_namespaced_per_plugin,
    the_shared_namespace_is_shared,
    a_plugin_sees_only_its_own_config,
);

fn malformed_results_are_500_and_the_server_carries_on(rt: Runtime) {
    let s = garbage_server(rt);
    let mut c = RawHttp::connect(s.addr);
    let ok = c.get("/garbage/ok");
    assert_eq!(ok.status_line, "HTTP/1.1 200 OK");
    assert_eq!(ok.body, b"ok");
    for path in &garbage::ROUTES[1..] {
        // Each on its own connection: nothing depends on the previous one.
        let mut c = RawHttp::connect(s.addr);
        let r = c.get(path);
        assert_eq!(
            r.status_line, "HTTP/1.1 500 Internal Server Error",
            "{path}"
        );
        assert_eq!(
            r.body,
            br#"{"error":"Plugin failed","code":500}"#,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        // The same plugin, on a fresh instance, and its neighbour still answer.
        assert_eq!(c.get("/garbage/ok").body, b"ok", "after {path}");
        assert_eq!(
            c.get("/hello").status_line,
            "HTTP/1.1 200 OK",
            "after {path}"
        );
    }
}

fn get_json(s: &TestServer, path: &str) -> serde_json::Value {
    let r = RawHttp::connect(s.addr).get(path);
    assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{path}");
    serde_json::from_slice(&r.body).expect("JSON")
}

/// Sends `method path` with `body` (and auth's secret) and returns the status line.
fn send(s: &TestServer, method: &str, path: &str, body: &str) -> String {
    let mut c = RawHttp::connect(s.addr);
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {SECRET}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.send(request.as_bytes()).expect("send");
    c.response().status_line
}

/// auth's secret for `/api`, from the neighbours' config.
const SECRET: &str = "auth-only-secret";

fn users(s: &TestServer) -> serde_json::Value {
    let mut c = RawHttp::connect(s.addr);
    let request = format!("GET /api/users HTTP/1.1\r\nHost: t\r\nAuthorization: {SECRET}\r\n\r\n");
    c.send(request.as_bytes()).expect("send");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    serde_json::from_slice(&r.body).expect("JSON")
}

fn state_is_namespaced_per_plugin(rt: Runtime) {
    let s = neighbours(rt);
    let null = serde_json::Value::Null;
    // users keeps `user:1` in its own namespace…
    let created = send(s, "POST", "/api/users", r#"{"name": "Ada"}"#);
    assert_eq!(created, "HTTP/1.1 201 Created");
    assert_eq!(users(s)["users"][0]["name"], "Ada");
    // …which misbehave cannot see under the same name,
    assert_eq!(get_json(s, "/state/plugin?key=user:1")["value"], null);
    // nor reach by spelling out the store's own prefixes, from either scope,
    for key in [
        "..%2Fusers%2Fuser:1",
        "%2F..%2F..%2Fplugin%2Fusers%2Fuser:1",
    ] {
        assert_eq!(
            get_json(s, &format!("/state/plugin?key={key}"))["value"],
            null
        );
    }
    assert_eq!(
        get_json(s, "/state/shared?key=..%2Fplugin%2Fusers%2Fuser:1")["value"],
        null
    );
    // and writing its own `user:1` changes nothing for users.
    let put = send(s, "PUT", "/state/plugin?key=user:1", "Mallory");
    assert_eq!(put, "HTTP/1.1 200 OK");
    assert_eq!(get_json(s, "/state/plugin?key=user:1")["value"], "Mallory");
    assert_eq!(users(s)["users"][0]["name"], "Ada");
}

fn the_shared_namespace_is_shared(rt: Runtime) {
    let s = neighbours(rt);
    // metrics counts requests in the shared namespace: misbehave reads the same key.
    let _ = get_json(s, "/metrics");
    let seen = get_json(s, "/state/shared?key=metrics:requests")["value"]
        .as_str()
        .and_then(|v| v.parse::<i64>().ok())
        .expect("a shared count");
    assert!(seen >= 1, "{seen}");
    // And what misbehave shares, metrics' counters included, is visible to metrics.
    let put = send(s, "PUT", "/state/shared?key=metrics:requests", "1000000");
    assert_eq!(put, "HTTP/1.1 200 OK");
    let requests = get_json(s, "/metrics")["requests"].as_i64().expect("count");
    assert!(requests >= 1_000_000, "{requests}");
}

fn a_plugin_sees_only_its_own_config(rt: Runtime) {
    let s = neighbours(rt);
    assert_eq!(
        get_json(s, "/config")["config"],
        serde_json::json!({"colour": "blue"})
    );
}
