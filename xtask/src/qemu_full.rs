//! What `cargo xtask qemu --example full` checks against the booted image: seed 002's
//! Full Example (logger and cors middleware, the device routes, the WebSocket echo) and
//! a static file from the store's `/static` mount, one connection at a time and then at
//! the device's 4 concurrent connections.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};

use crate::qemu::{http, read_response, Reply};
use crate::qemu_tests::{header, run_checks, Check, WsClient};

fn request(addr: SocketAddr, method: &str, path: &str, extra: &str, body: &str) -> Reply {
    http(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: d\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.2)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&reply.2)))
}

/// `/` and `/gc`: the free heap the device reports is a real, plausible figure.
fn device_memory(addr: SocketAddr) {
    let reply = request(addr, "GET", "/", "", "");
    assert_eq!(reply.0, 200);
    let index = json_of(&reply);
    assert_eq!(index["status"], "online", "{index}");
    let free = index["memory_free"].as_u64().expect("memory_free");
    assert!(free > 0 && free < 16 << 20, "memory_free {free}");
    let reply = request(addr, "GET", "/gc", "", "");
    assert_eq!(reply.0, 200);
    let gc = json_of(&reply);
    assert!(gc["free"].as_u64().is_some_and(|f| f > 0), "{gc}");
    assert!(gc["freed"].is_i64() || gc["freed"].is_u64(), "{gc}");
}

/// `POST /led` drives the granted pin and `GET /led` reads it back; no state is a 400.
fn led(addr: SocketAddr) {
    for (state, shown) in [("on", "on"), ("off", "off"), ("on", "on")] {
        let reply = request(
            addr,
            "POST",
            "/led",
            "",
            &format!(r#"{{"state":"{state}"}}"#),
        );
        assert_eq!((reply.0, json_of(&reply)), (200, json!({"led": shown})));
        let reply = request(addr, "GET", "/led", "", "");
        assert_eq!((reply.0, json_of(&reply)), (200, json!({"led": shown})));
    }
    let reply = request(addr, "POST", "/led", "", "{}");
    assert_eq!(
        (reply.0, json_of(&reply)),
        (400, json!({"error": "Missing 'state' field", "code": 400}))
    );
    // The Full Example's 4 KB body limit is the device's too or lower.
    let reply = request(addr, "POST", "/led", "", &"x".repeat(20_000));
    assert_eq!(reply.0, 413);
}

/// `CORSMiddleware(origins="*", methods="*")`: the header on responses, and preflights.
fn cors(addr: SocketAddr) {
    let reply = request(addr, "GET", "/", "Origin: http://app.example\r\n", "");
    assert_eq!(header(&reply.1, "access-control-allow-origin"), Some("*"));
    let reply = request(
        addr,
        "OPTIONS",
        "/led",
        "Origin: http://app.example\r\nAccess-Control-Request-Method: POST\r\n",
        "",
    );
    assert_eq!(reply.0, 204);
    assert_eq!(header(&reply.1, "access-control-allow-methods"), Some("*"));
    assert_eq!(header(&reply.1, "access-control-allow-origin"), Some("*"));
}

/// One WebSocket echo session: the welcome, several echoes, a clean close.
fn echo_session(addr: SocketAddr, tag: usize) -> WsClient {
    let mut ws = WsClient::connect(addr, "/ws/echo");
    assert_eq!(ws.recv(), (1, b"Welcome!".to_vec()));
    for i in 0..3 {
        let text = format!("message {i} from client {tag}");
        ws.send_text(&text);
        assert_eq!(ws.recv(), (1, format!("Echo: {text}").into_bytes()));
    }
    ws
}

fn ws_echo(addr: SocketAddr) {
    let mut ws = echo_session(addr, 0);
    assert_eq!(ws.close(1000), Some(1000));
}

/// The `/static` mount: a file, its ETag, a range, a refusal.
fn static_file(addr: SocketAddr) {
    let index = include_bytes!("../../examples/seed002-medium/www/index.html");
    let reply = request(addr, "GET", "/static/", "", "");
    assert_eq!((reply.0, reply.2.as_slice()), (200, &index[..]));
    assert_eq!(
        header(&reply.1, "content-type"),
        Some("text/html; charset=utf-8")
    );
    // The cors middleware does not apply to the host's own mounts, the logger neither.
    let etag = header(&reply.1, "etag").expect("an ETag").to_string();
    let reply = request(
        addr,
        "GET",
        "/static/",
        &format!("If-None-Match: {etag}\r\n"),
        "",
    );
    assert_eq!(reply.0, 304);
    let reply = request(addr, "GET", "/static/style.css", "Range: bytes=0-3\r\n", "");
    assert_eq!((reply.0, reply.2.len()), (206, 4));
    assert_eq!(request(addr, "GET", "/static/../x", "", "").0, 403);
    assert_eq!(request(addr, "GET", "/static/missing.txt", "", "").0, 404);
}

/// Four connections at once (the device serves 4): four echo sessions open together,
/// then four keep-alive HTTP connections each fetching a static file and `/` in turn.
fn four_at_once(addr: SocketAddr) {
    let mut sessions: Vec<WsClient> = (0..4).map(|i| echo_session(addr, i)).collect();
    for (i, ws) in sessions.iter_mut().enumerate() {
        let text = format!("all four open, client {i}");
        ws.send_text(&text);
        assert_eq!(ws.recv(), (1, format!("Echo: {text}").into_bytes()));
    }
    for mut ws in sessions {
        assert_eq!(ws.close(1000), Some(1000));
    }
    let css = include_bytes!("../../examples/seed002-medium/www/style.css");
    let mut conns: Vec<(TcpStream, BufReader<TcpStream>)> = (0..4)
        .map(|_| {
            let s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
            let r = BufReader::new(s.try_clone().expect("clone"));
            (s, r)
        })
        .collect();
    for round in 0..2 {
        for (s, _) in &mut conns {
            s.write_all(b"GET /static/style.css HTTP/1.1\r\nHost: d\r\n\r\n")
                .expect("write");
        }
        for (_, r) in &mut conns {
            let (status, _, body) = read_response(r).expect("response");
            assert_eq!((status, body.as_slice()), (200, &css[..]), "round {round}");
        }
        for (s, _) in &mut conns {
            s.write_all(b"GET / HTTP/1.1\r\nHost: d\r\n\r\n")
                .expect("write");
        }
        for (_, r) in &mut conns {
            let (status, _, body) = read_response(r).expect("response");
            assert_eq!(status, 200, "round {round}");
            let v: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(v["status"], "online");
        }
    }
}

/// Runs every Full Example check; returns (passed, failed).
pub fn run_full(addr: SocketAddr) -> (usize, usize) {
    let checks: &[Check] = &[
        ("device: / and /gc", device_memory),
        ("device: /led", led),
        ("cors", cors),
        ("ws-echo session", ws_echo),
        ("static file", static_file),
        ("4 concurrent connections", four_at_once),
    ];
    run_checks(addr, checks)
}
