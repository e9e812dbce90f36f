//! Python plugins (componentize-py components) served by the host: seed 000's examples
//! in `examples/python/` driven by the same black-box checks as their Rust twins, a
//! Python plugin beside Rust ones (shared `app.state`, middleware order), WASI granting
//! nothing, and failures contained.
//!
//! Server·wasmtime only: this is a test binary of its own rather than a `per_runtime!`
//! suite, because the wasmi engine (and so the embedded runtime) provides no WASI and
//! refuses these components — `python_cli.rs` checks that refusal.

mod ws_support;

use std::time::{Duration, Instant};

use berth_tests::http_client::{client, header, json_of};
use berth_tests::{python, Runtime, TestServer};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use ws_support::*;

fn server(key: &str, make: impl FnOnce() -> berth_tests::Config) -> &'static TestServer {
    Runtime::ServerWasmtime.shared(key, make)
}

fn quickstart() -> &'static TestServer {
    server("py-quickstart", || python::example("quickstart"))
}

fn plugins() -> &'static TestServer {
    server("py-plugins", || python::example("plugins"))
}

fn chat() -> &'static TestServer {
    server("py-chat", || python::example("chat"))
}

fn full() -> &'static TestServer {
    server("py-full", || python::example("full"))
}

/// The interop plugin between two Rust plugins: metrics before it, auth (guarding
/// `/interop/guarded`) after it, and misbehave, whose `/state/shared` routes read and
/// write the shared state as a Rust plugin does.
fn mixed() -> &'static TestServer {
    server("py-mixed", || {
        let dir = python::mixed_dir("interop", &["metrics", "auth", "misbehave"]);
        let mut config = berth_tests::config(
            r#"
            [plugins]
            load = ["metrics", "interop", "auth", "misbehave"]
            [limits]
            plugin_timeout = 2
            wasi_plugin_memory = 134217728
            [plugin.auth]
            prefix = "/interop/guarded"
            secret = "open-sesame"
            "#,
            Runtime::ServerWasmtime,
        );
        config.plugins_dir = dir;
        config
    })
}

// ---- the Quick Start and the plugins ------------------------------------------------

#[test]
fn quickstart_says_hello() {
    let r = client()
        .get(quickstart().url("/hello"))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(json_of(r), json!({"message": "Hello, World!"}));
    let r = client().get(quickstart().url("/nope")).send().expect("GET");
    assert_eq!(r.status(), 404);
}

#[test]
fn auth_plugin_takes_its_secret_from_the_config() {
    let s = plugins();
    let r = client().get(s.url("/auth/check")).send().expect("GET");
    assert_eq!(json_of(r), json!({"valid": true}));
    let r = client().get(s.url("/api/anything")).send().expect("GET");
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(r), json!({"error": "Unauthorized"}));
    // The dataclass default is not the secret: [plugin.plugins.auth] replaced it.
    let r = client()
        .get(s.url("/api/anything"))
        .header("Authorization", "default-secret")
        .send()
        .expect("GET");
    assert_eq!(r.status(), 401);
    let r = client()
        .get(s.url("/api/anything"))
        .header("authorization", "my-secret-token")
        .send()
        .expect("GET");
    assert_eq!(r.status(), 404, "past the middleware, no such route");
    // The Quick Start behind the plugins still answers.
    let r = client().get(s.url("/hello")).send().expect("GET");
    assert_eq!(json_of(r), json!({"message": "Hello, World!"}));
}

#[test]
fn metrics_count_requests_and_websocket_traffic() {
    // A server of its own: the chat tests' connections on a shared one would move the
    // counts this test compares.
    let s = server("py-chat-metrics", || python::example("chat"));
    let get = || json_of(client().get(s.url("/metrics")).send().expect("GET"));
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"));
    let first = get();
    client().get(s.url("/nothing-here")).send().expect("GET");
    let second = get();
    assert!(
        n(&second, "requests") >= n(&first, "requests") + 2,
        "{first} then {second}"
    );
    block_on(async {
        let mut ws = connect(&s.ws_port_url("/")).await;
        send_json(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(recv_json(&mut ws).await, json!({"type": "pong"}));
        let during = tokio::task::spawn_blocking(get).await.expect("GET");
        assert!(n(&during, "ws_connections") >= 1, "{during}");
        assert!(
            n(&during, "ws_messages") > n(&second, "ws_messages"),
            "{second} then {during}"
        );
        close_normally(&mut ws).await;
        expect_close(&mut ws).await;
    });
    // The disconnect is counted once the host has run the hook.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = get();
        if n(&now, "ws_connections") == n(&first, "ws_connections") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connection never uncounted: {now}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- seed 000's Full Example ----------------------------------------------------------

#[test]
fn full_welcome_and_api_key() {
    let s = full();
    let r = client().get(s.url("/")).send().expect("GET /");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "server").is_some_and(|v| v.starts_with("Berth/")));
    assert_eq!(json_of(r), json!({"message": "Welcome to the API"}));
    for key in [None, Some("wrong")] {
        let mut req = client().get(s.url("/api/users"));
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        let r = req.send().expect("GET");
        assert_eq!(r.status(), 401);
        assert_eq!(json_of(r), json!({"error": "Invalid API key"}));
    }
    let r = client().get(s.url("/api/nothing")).send().expect("GET");
    assert_eq!(r.status(), 401, "middleware runs before routing outcomes");
    let r = client().delete(s.url("/")).send().expect("DELETE");
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow").as_deref(), Some("GET, HEAD"));
    let get_len = client()
        .get(s.url("/"))
        .send()
        .expect("GET")
        .bytes()
        .expect("body")
        .len();
    let r = client().head(s.url("/")).send().expect("HEAD");
    assert_eq!(header(&r, "content-length"), Some(get_len.to_string()));
    assert!(r.bytes().expect("body").is_empty());
}

#[test]
fn full_creates_and_lists_users() {
    let s = full();
    let post = |body: String| {
        client()
            .post(s.url("/api/users"))
            .header("X-API-Key", "my-secret-key")
            .body(body)
            .send()
            .expect("POST")
    };
    let mut created = Vec::new();
    for name in ["Ada", "Grace", "Émilie \"quoted\""] {
        let r = post(json!({"name": name, "role": "admin"}).to_string());
        assert_eq!(r.status(), 201);
        let user = json_of(r);
        let id = user["id"].as_str().expect("id is a string").to_string();
        assert!(id.parse::<u64>().is_ok(), "id {id:?}");
        assert_eq!(user, json!({"id": id, "name": name, "role": "admin"}));
        created.push(user);
    }
    let r = client()
        .get(s.url("/api/users"))
        .header("x-api-key", "my-secret-key")
        .send()
        .expect("GET");
    let users = json_of(r)["users"].as_array().expect("users").clone();
    for user in &created {
        assert!(users.contains(user), "{users:?} lacks {user}");
    }
    for bad in ["{not json", "[1,2]", "\"text\"", ""] {
        let r = post(bad.to_string());
        assert_eq!(r.status(), 400, "{bad:?}");
        assert_eq!(json_of(r)["code"], 400);
    }
    // Nesting is not a way to crash the parser: deep bodies are refused as well.
    for depth in [200, 5_000, 100_000] {
        let r = post(format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
        assert_eq!(r.status(), 400, "depth {depth}");
        assert_eq!(json_of(r)["code"], 400);
    }
}

#[test]
fn full_pongs_with_the_time_and_announces_new_users() {
    let s = full();
    block_on(async {
        let mut ws = connect(&s.ws_port_url("/")).await;
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        send_json(&mut ws, json!({"type": "ping"})).await;
        // Other tests create users on this server: their announcements may come first.
        let mut pong = recv_json(&mut ws).await;
        while pong["event"] == "user_created" {
            pong = recv_json(&mut ws).await;
        }
        assert_eq!(pong["type"], "pong", "{pong}");
        let time = pong["time"].as_f64().expect("time is a number");
        assert!((time - before).abs() < 60.0, "time {time} is not now");
        let url = s.url("/api/users");
        let created: Value = tokio::task::spawn_blocking(move || {
            let r = client()
                .post(url)
                .header("X-API-Key", "my-secret-key")
                .json(&json!({"name": "Alice"}))
                .send()
                .expect("POST");
            assert_eq!(r.status(), 201);
            json_of(r)
        })
        .await
        .expect("POST task");
        let expected = json!({"event": "user_created", "user": created});
        loop {
            let event = recv_json(&mut ws).await;
            assert_eq!(event["event"], "user_created", "{event}");
            if event == expected {
                break;
            }
        }
    });
}

// ---- seed 000's WebSocket section: names, ping, echo, the chat room -------------------

#[test]
fn chat_pings_names_and_echoes() {
    let s = chat();
    block_on(async {
        let mut ws = connect(&s.ws_port_url("/")).await;
        send_json(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(recv_json(&mut ws).await, json!({"type": "pong"}));
        send_json(&mut ws, json!({"type": "set_name", "name": "alice"})).await;
        assert_eq!(
            recv_json(&mut ws).await,
            json!({"type": "name_set", "name": "alice"})
        );
        send(&mut ws, "{\"type\":\"unknown\", \"n\": 1}").await;
        assert_eq!(recv_text(&mut ws).await, "{\"type\":\"unknown\", \"n\": 1}");
        send(&mut ws, "not json at all").await;
        assert_eq!(recv_text(&mut ws).await, "not json at all");
        ws.send(Message::binary(vec![9, 8, 7])).await.expect("send");
        assert_eq!(recv(&mut ws).await, Message::binary(vec![9, 8, 7]));
        let mut other = connect(&s.ws_port_url("/any/path?x=1")).await;
        send_json(&mut other, json!({"type": "ping"})).await;
        assert_eq!(recv_json(&mut other).await, json!({"type": "pong"}));
    });
}

#[test]
fn chat_room_reaches_the_others_in_the_room_only() {
    let s = chat();
    block_on(seed000_chat_session(&s.ws_port_url("/")));
}

// ---- a Python plugin among Rust ones ----------------------------------------------------

#[test]
fn python_and_rust_share_app_state() {
    let s = mixed();
    // Rust writes, Python reads (JSON comes back as values, plain text as text).
    let put = |key: &str, body: &str| {
        let r = client()
            .put(s.url(&format!("/state/shared?key={key}")))
            .body(body.to_string())
            .send()
            .expect("PUT");
        assert_eq!(r.status(), 200);
    };
    let py_get = |key: &str| {
        json_of(
            client()
                .get(s.url(&format!("/interop/state/{key}")))
                .send()
                .expect("GET"),
        )["value"]
            .clone()
    };
    let rust_get = |key: &str| {
        json_of(
            client()
                .get(s.url(&format!("/state/shared?key={key}")))
                .send()
                .expect("GET"),
        )["value"]
            .clone()
    };
    put("room", r#"{"name":"dev","members":[1,2]}"#);
    assert_eq!(py_get("room"), json!({"name": "dev", "members": [1, 2]}));
    put("motto", "plain words");
    assert_eq!(py_get("motto"), json!("plain words"));
    // Python writes, Rust reads.
    let r = client()
        .post(s.url("/interop/state/greeting"))
        .json(&json!({"text": "ahoy", "n": 3}))
        .send()
        .expect("POST");
    assert_eq!(json_of(r), json!({"ok": true}));
    let stored: Value = serde_json::from_str(rust_get("greeting").as_str().expect("a string"))
        .expect("JSON in the shared state");
    assert_eq!(stored, json!({"text": "ahoy", "n": 3}));
    // The Rust metrics plugin's counters are Python's too.
    let requests = py_get("metrics:requests").as_i64().expect("a count");
    assert!(requests >= 1, "{requests}");
}

#[test]
fn middleware_runs_in_load_order_across_languages() {
    let s = mixed();
    let count = || {
        json_of(client().get(s.url("/metrics")).send().expect("GET"))["requests"]
            .as_i64()
            .expect("requests")
    };
    let before = count();
    // Python (second) stops the request: Rust metrics (first) counted it.
    let r = client().get(s.url("/interop/stop")).send().expect("GET");
    assert_eq!(r.status(), 418);
    assert_eq!(header(&r, "x-python").as_deref(), Some("seen"));
    assert_eq!(json_of(r), json!({"stopped_by": "python"}));
    // Rust auth (third) stops it: Python ran first, its header is on auth's 401.
    let r = client()
        .get(s.url("/interop/guarded/x"))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "x-python").as_deref(), Some("seen"));
    // Python's request header reaches the route.
    let r = client().get(s.url("/interop/trail")).send().expect("GET");
    assert_eq!(json_of(r), json!({"trail": "python;"}));
    let after = count();
    assert!(after >= before + 4, "{before} then {after}");
}

#[test]
fn module_defaults_never_reset_stored_state() {
    let s = mixed();
    let visits = || {
        json_of(client().get(s.url("/interop/visits")).send().expect("GET"))["visits"]
            .as_i64()
            .expect("visits")
    };
    let setups = || {
        json_of(client().get(s.url("/interop/setups")).send().expect("GET"))["setups"]
            .as_i64()
            .expect("setups")
    };
    let first = visits();
    let second = visits();
    assert!(second > first, "{first} then {second}");
    // A handler that raises costs its instance; the next request sets up a new one,
    // whose module-level `app.state.interop_visits = 0` must not reset the count.
    let made = setups();
    let r = client().get(s.url("/interop/raise")).send().expect("GET");
    assert_eq!(r.status(), 500);
    assert_eq!(json_of(r), json!({"error": "Plugin failed", "code": 500}));
    let third = visits();
    assert!(setups() > made, "no new instance was set up");
    assert!(
        third > second,
        "{second} then {third}: the default reset the count"
    );
}

#[test]
fn wasi_grants_nothing_but_clocks_and_randomness() {
    let s = mixed();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let r = client()
        .get(s.url(&format!("/interop/sandbox?port={port}")))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 200);
    let seen = json_of(r);
    assert_eq!(seen["env"], json!({}), "no environment");
    assert!(
        seen["argv"].as_array().is_some_and(|a| a.len() <= 1),
        "{}",
        seen["argv"]
    );
    for key in ["root", "etc", "cwd"] {
        assert!(
            seen[key].as_str().is_some_and(|v| v.starts_with("error:")),
            "{key}: {}",
            seen[key]
        );
    }
    assert!(
        seen["socket"]
            .as_str()
            .is_some_and(|v| v.starts_with("error:")),
        "socket: {}",
        seen["socket"]
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let time = seen["time"].as_f64().expect("time");
    assert!((time - now).abs() < 60.0, "the wall clock works: {time}");
    let random = seen["random"].as_f64().expect("random");
    assert!((0.0..1.0).contains(&random));
}

#[test]
fn a_python_plugin_that_loops_or_hoards_is_contained() {
    let s = mixed();
    for (path, status, message) in [
        ("/interop/loop", 504, "Plugin timed out"),
        ("/interop/oom", 500, "Plugin ran out of memory"),
        ("/interop/raise", 500, "Plugin failed"),
    ] {
        let started = Instant::now();
        let r = client().get(s.url(path)).send().expect("GET");
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(json_of(r), json!({"error": message, "code": status}));
        assert!(started.elapsed() < Duration::from_secs(20), "{path}");
        // The plugin answers again, from a fresh instance.
        let r = client().get(s.url("/interop/trail")).send().expect("GET");
        assert_eq!(r.status(), 200, "after {path}");
    }
}
