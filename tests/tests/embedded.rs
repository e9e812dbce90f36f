//! The embedded runtime (berth-embedded's no_std loop on a desktop socket, as
//! `berth serve --runtime embedded` runs it): a representative subset of the HTTP suite,
//! the wire limits the loop enforces itself, WebSocket (chat, echo, rooms, limits) and
//! SSE — what a microcontroller serves.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use berth_tests::http_client::{client, header, json_of};
use berth_tests::{config, example, shared_embedded, EngineKind, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

// The engine field is ignored by the embedded runtime (always wasmi).
const ENGINE: EngineKind = EngineKind::Wasmi;

fn seed000() -> &'static TestServer {
    shared_embedded("seed000-full", || example("seed000-full", ENGINE))
}

fn seed002() -> &'static TestServer {
    shared_embedded("seed002-medium", || example("seed002-medium", ENGINE))
}

fn extras() -> &'static TestServer {
    shared_embedded("extras", || {
        config(
            r#"
            [plugins]
            load = ["metrics", "hello", "misbehave", "chat", "ws-echo", "pubsub", "sse-sensor"]
            [limits]
            plugin_timeout = 0.5
            plugin_memory = 8388608
            header_timeout = 0.5
            max_request_line = 256
            max_header_size = 256
            max_headers = 10
            ws_max_frame = 1024
            max_keep_alive_requests = 3
            [plugin.sse-sensor]
            interval = 0.2
            "#,
            ENGINE,
        )
    })
}

// ---- the HTTP suite's cases, on the embedded loop ------------------------------------

#[test]
fn welcome_and_server_header() {
    let r = client().get(seed000().url("/")).send().expect("GET /");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    assert!(header(&r, "server").is_some_and(|s| s.starts_with("Berth/")));
    assert_eq!(json_of(r), json!({"message": "Welcome to the API"}));
}

#[test]
fn api_key_and_users() {
    let s = seed000();
    let r = client().get(s.url("/api/users")).send().expect("GET");
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(r), json!({"error": "Invalid API key"}));
    let r = client()
        .post(s.url("/api/users"))
        .header("X-API-Key", "my-secret-key")
        .json(&json!({"name": "Ada", "role": "admin"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 201);
    let user = json_of(r);
    let r = client()
        .get(s.url("/api/users"))
        .header("x-api-key", "my-secret-key")
        .send()
        .expect("GET");
    let users = json_of(r)["users"].as_array().expect("users").clone();
    assert!(users.contains(&user), "{users:?} lacks {user}");
}

#[test]
fn not_found_method_not_allowed_head_and_501() {
    let s = seed000();
    let r = client().get(s.url("/no/such/path")).send().expect("GET");
    assert_eq!(r.status(), 404);
    assert_eq!(json_of(r), json!({"error": "Not Found", "code": 404}));
    let r = client().delete(s.url("/")).send().expect("DELETE");
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow").as_deref(), Some("GET, HEAD"));
    let len = client()
        .get(s.url("/"))
        .send()
        .expect("GET")
        .bytes()
        .expect("b")
        .len();
    let r = client().head(s.url("/")).send().expect("HEAD");
    assert_eq!(header(&r, "content-length"), Some(len.to_string()));
    assert!(r.bytes().expect("body").is_empty());
    let m = Method::from_bytes(b"PROPFIND").expect("method");
    let r = client().request(m, s.url("/")).send().expect("PROPFIND");
    assert_eq!(r.status(), 501);
}

#[test]
fn micro_api_routes_and_bodies() {
    let s = seed002();
    let get = |path: &str| json_of(client().get(s.url(path)).send().expect("GET"));
    assert_eq!(get("/status"), json!({"ok": true, "ip": "127.0.0.1"}));
    assert_eq!(get("/users/42?page=2"), json!({"id": "42", "page": "2"}));
    assert_eq!(
        get("/search?q=hello%20world+again"),
        json!({"query": "hello world again", "page": 1})
    );
    let r = client()
        .post(s.url("/echo"))
        .body("hello there")
        .send()
        .expect("POST");
    assert_eq!(r.text().expect("text"), "hello there");
    let r = client()
        .post(s.url("/sum"))
        .json(&json!({"a": 1, "b": 2.5}))
        .send()
        .expect("POST");
    assert_eq!(json_of(r), json!({"result": 3.5}));
    let r = client().get(s.url("/old")).send().expect("GET");
    assert_eq!(r.status(), 302);
    assert_eq!(header(&r, "location").as_deref(), Some("/new"));
}

#[test]
fn body_limit_is_413() {
    let r = client()
        .post(seed002().url("/echo"))
        .body(vec![b'x'; 5000])
        .send()
        .expect("POST");
    assert_eq!(r.status(), 413);
    assert_eq!(
        json_of(r),
        json!({"error": "Payload Too Large", "code": 413})
    );
    let r = client()
        .post(seed002().url("/echo"))
        .body(vec![b'y'; 4096])
        .send()
        .expect("POST");
    assert_eq!(r.status(), 200);
}

#[test]
fn cors_preflight_and_merged_headers() {
    let s = seed002();
    let r = client()
        .request(Method::OPTIONS, s.url("/sum"))
        .header("Origin", "http://example.test")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .expect("OPTIONS");
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-methods").as_deref(),
        Some("GET,POST,OPTIONS")
    );
    let r = client().get(s.url("/missing")).send().expect("GET");
    assert_eq!(r.status(), 404);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}

#[test]
fn containment() {
    let s = extras();
    for (path, status, message) in [
        ("/loop", 504, "Plugin timed out"),
        ("/panic", 500, "Plugin failed"),
        ("/oom", 500, "Plugin ran out of memory"),
    ] {
        let r = client().get(s.url(path)).send().expect("GET");
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(json_of(r), json!({"error": message, "code": status}));
        let r = client().get(s.url("/ok")).send().expect("GET");
        assert_eq!(
            json_of(r),
            json!({"ok": true}),
            "fresh instance after {path}"
        );
    }
    let r = client().get(s.url("/hello")).send().expect("GET");
    assert_eq!(json_of(r), json!({"message": "Hello, World!"}));
}

// ---- the device API (seed 002's Full Example) ----------------------------------------

fn seed002_full() -> &'static TestServer {
    shared_embedded("seed002-full", || example("seed002-full", ENGINE))
}

#[test]
fn device_led_drives_the_granted_pin() {
    berth_tests::device::led_round_trip(seed002_full());
}

#[test]
fn device_memory_figures() {
    berth_tests::device::memory_figures(seed002_full());
}

#[test]
fn device_without_a_grant_is_503_and_serving_goes_on() {
    let s = shared_embedded("device-ungranted", || {
        config("[plugins]\nload = [\"device\", \"hello\"]\n", ENGINE)
    });
    berth_tests::device::ungranted_led_is_503(s, 2);
    let r = client().get(s.url("/hello")).send().expect("GET /hello");
    assert_eq!(r.status(), 200);
}

// ---- the wire, byte by byte ------------------------------------------------------------

fn connect(s: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(s.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Reads one response: status, lower-case headers, body (by content-length).
fn read_response(r: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').expect("header colon");
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().expect("length"));
    let mut body = vec![0; len];
    r.read_exact(&mut body).expect("body");
    (status, headers, body)
}

fn get(h: &[(String, String)], name: &str) -> Option<String> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

#[test]
fn keep_alive_and_pipelining_until_the_request_limit() {
    let mut stream = connect(extras());
    // Two pipelined requests in one write, then a third: the limit is 3 per connection.
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut r = BufReader::new(stream.try_clone().expect("clone"));
    let (status, h, body) = read_response(&mut r);
    assert_eq!(
        (status, body.as_slice()),
        (200, &br#"{"message":"Hello, World!"}"#[..])
    );
    assert_eq!(get(&h, "connection").as_deref(), Some("keep-alive"));
    let (status, _, body) = read_response(&mut r);
    assert_eq!((status, body.as_slice()), (200, &br#"{"ok":true}"#[..]));
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: berth.test\r\n\r\n")
        .expect("write");
    let (status, h, _) = read_response(&mut r);
    assert_eq!(status, 200);
    assert_eq!(get(&h, "connection").as_deref(), Some("close"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).expect("closed");
    assert!(rest.is_empty());
}

#[test]
fn chunked_request_body() {
    let mut stream = connect(seed002());
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: berth.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n there\r\n0\r\n\r\n",
        )
        .expect("write");
    let (status, _, body) = read_response(&mut BufReader::new(stream));
    assert_eq!((status, body.as_slice()), (200, &b"hello there"[..]));
}

fn raw_status(s: &TestServer, request: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = connect(s);
    stream.write_all(request).expect("write");
    let (status, _, body) = read_response(&mut BufReader::new(stream));
    (status, body)
}

#[test]
fn limits_414_431_and_bad_requests() {
    let s = extras();
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: berth.test\r\n\r\n",
        "a".repeat(300)
    );
    let (status, body) = raw_status(s, long.as_bytes());
    assert_eq!(status, 414);
    assert_eq!(body, br#"{"error":"URI Too Long","code":414}"#);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: berth.test\r\nX-Big: {}\r\n\r\n",
        "v".repeat(300)
    );
    assert_eq!(raw_status(s, big.as_bytes()).0, 431);
    let many: String = (0..11).map(|i| format!("H{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: berth.test\r\n{many}\r\n");
    assert_eq!(raw_status(s, many.as_bytes()).0, 431);
    assert_eq!(
        raw_status(s, b"GET / HTTP/1.1\r\nHost: berth.test\r\nNo colon\r\n\r\n").0,
        400
    );
    let smuggle = b"POST /x HTTP/1.1\r\nHost: berth.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(raw_status(s, smuggle).0, 400);
}

#[test]
fn slow_head_is_408() {
    let mut stream = connect(extras());
    let started = Instant::now();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: berth.test\r\nHos")
        .expect("write");
    let (status, _, _) = read_response(&mut BufReader::new(stream));
    assert_eq!(status, 408);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn connection_limit_is_503() {
    let s = shared_embedded("one-connection", || {
        config(
            "[plugins]\nload = [\"hello\"]\n[limits]\nmax_connections = 1\n",
            ENGINE,
        )
    });
    let mut first = connect(s);
    first
        .write_all(b"GET /hello HTTP/1.1\r\nHost: berth.test\r\n\r\n")
        .expect("write");
    let mut r = BufReader::new(first.try_clone().expect("clone"));
    assert_eq!(read_response(&mut r).0, 200);
    // `first` is kept alive and holds the only connection.
    let (status, body) = raw_status(s, b"GET /hello HTTP/1.1\r\nHost: berth.test\r\n\r\n");
    assert_eq!(status, 503);
    assert_eq!(body, br#"{"error":"Service Unavailable","code":503}"#);
    drop(r);
    drop(first);
}

// ---- WebSocket -------------------------------------------------------------------------

#[path = "support/ws_client.rs"]
mod ws_client;
use ws_client::WsClient;

#[test]
fn chat_ping_pong_names_and_no_echo_on_a_route() {
    let mut ws = WsClient::connect(extras().addr, "/chat/ws");
    ws.send_text(r#"{"type":"ping"}"#);
    assert_eq!(ws.recv_json(), json!({"type": "pong"}));
    ws.send_text(r#"{"type":"set_name","name":"ada"}"#);
    assert_eq!(ws.recv_json(), json!({"type": "name_set", "name": "ada"}));
    // On a route there is no default echo: the next frame is the pong, not the words.
    ws.send_text("plain words");
    ws.send_binary(&[0, 1, 2, 255]);
    ws.send_text(r#"{"type":"ping"}"#);
    assert_eq!(ws.recv_json(), json!({"type": "pong"}));
    ws.ping(b"hi");
    assert_eq!(ws.recv(), (10, b"hi".to_vec()), "pong");
    assert_eq!(ws.close(1000), Some(1000));
}

#[test]
fn ws_echo_routes() {
    let mut ws = WsClient::connect(extras().addr, "/ws/echo");
    assert_eq!(ws.recv(), (1, b"Welcome!".to_vec()));
    ws.send_text("hi");
    assert_eq!(ws.recv(), (1, b"Echo: hi".to_vec()));
    ws.send_binary(&[0, 1, 2, 255]);
    assert_eq!(ws.recv(), (2, vec![0, 1, 2, 255]));
    let mut ws = WsClient::connect(extras().addr, "/ws");
    assert_eq!(ws.recv(), (1, b"Connected!".to_vec()));
    ws.send_text("bye");
    let (op, payload) = ws.recv();
    assert_eq!(op, 8);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1000);
    assert_eq!(&payload[2..], b"Normal closure");
}

#[test]
fn chat_rooms_broadcast_to_others() {
    let s = extras();
    let mut a = WsClient::connect(s.addr, "/chat/ws");
    let mut b = WsClient::connect(s.addr, "/chat/ws");
    a.send_text(r#"{"type":"set_name","name":"alice"}"#);
    a.recv_json();
    for c in [&mut a, &mut b] {
        c.send_text(r#"{"action":"join","room":"lobby"}"#);
        assert_eq!(c.recv_json(), json!({"action": "joined", "room": "lobby"}));
    }
    a.send_text(r#"{"action":"message","text":"hello"}"#);
    assert_eq!(a.recv_json(), json!({"action": "sent"}));
    assert_eq!(
        b.recv_json(),
        json!({"action": "message", "from": "alice", "text": "hello"})
    );
}

#[test]
fn websocket_hooks_and_metrics() {
    let s = extras();
    let before = json_of(client().get(s.url("/metrics")).send().expect("GET"));
    let mut ws = WsClient::connect(s.addr, "/chat/ws");
    ws.send_text(r#"{"type":"ping"}"#);
    ws.recv_json();
    let during = json_of(client().get(s.url("/metrics")).send().expect("GET"));
    let n = |v: &Value, k: &str| v[k].as_i64().expect("number");
    assert!(n(&during, "ws_connections") >= 1, "{during}");
    assert!(n(&during, "ws_messages") > n(&before, "ws_messages"));
}

#[test]
fn websocket_frame_limit_closes_1009() {
    let mut ws = WsClient::connect(extras().addr, "/chat/ws");
    ws.send_text(&"x".repeat(2000));
    let (op, payload) = ws.recv();
    assert_eq!(op, 8);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1009);
}

#[test]
fn plain_get_on_a_websocket_route_is_told_to_upgrade() {
    let r = client().get(extras().url("/ws/echo")).send().expect("GET");
    assert_eq!(r.status(), 426);
    assert_eq!(header(&r, "upgrade").as_deref(), Some("websocket"));
    let r = client().get(extras().url("/ws/nope")).send().expect("GET");
    assert_eq!(r.status(), 404);
    // `/chat` is the chat page, an HTTP route.
    let r = client().get(extras().url("/chat")).send().expect("GET");
    assert_eq!(r.status(), 200);
    assert!(r.text().expect("page").contains("/chat/ws"));
}

// ---- SSE -----------------------------------------------------------------------------

#[test]
fn sse_stream_gets_published_and_timer_events() {
    let s = extras();
    let mut stream = connect(s);
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: berth.test\r\nAccept: text/event-stream\r\n\r\n")
        .expect("write");
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).expect("status");
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    let mut head = String::new();
    while line != "\r\n" {
        line.clear();
        r.read_line(&mut line).expect("header");
        head.push_str(&line.to_ascii_lowercase());
    }
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    // A timer reading (every 200 ms).
    let mut event = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("event line");
        if line == "\n" {
            break;
        }
        event.push_str(&line);
    }
    let data = event
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data in {event:?}"));
    assert!(event.lines().any(|l| l.starts_with("id: ")), "{event:?}");
    let data: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {event:?}"));
    assert!((20..=30).contains(&data["temperature"].as_i64().expect("t")));
    // A manual publish reaches this subscriber.
    let r2 = client()
        .post(s.url("/publish/sensors?event=manual"))
        .body("line1\nline2")
        .send()
        .expect("POST");
    assert!(json_of(r2)["subscribers"].as_i64().expect("n") >= 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains("event: manual\ndata: line1\ndata: line2\n\n") {
        assert!(Instant::now() < deadline, "no manual event in {seen:?}");
        line.clear();
        r.read_line(&mut line).expect("line");
        seen.push_str(&line);
    }
}
