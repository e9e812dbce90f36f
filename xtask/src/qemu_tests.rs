//! What `cargo xtask qemu` checks against the booted image, from the host: HTTP
//! (`/hello`, micro-api routes, keep-alive, limits) and WebSocket (chat ping/pong and
//! rooms on `/chat/ws`, ws-echo's `/ws/echo` and `/ws`), and static files from the
//! store (micro-api's `/static` mount and `send_file`). Each check is a function that
//! panics on failure; `run_all` counts them.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use serde_json::{json, Value};

use crate::qemu::{http, read_response};

#[path = "../../tests/tests/support/ws_client.rs"]
#[allow(dead_code)]
mod ws_client;
pub use ws_client::WsClient;

fn get_json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, _, body) = http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"),
    )
    .unwrap_or_else(|e| panic!("GET {path}: {e:#}"));
    let value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "GET {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, value)
}

fn hello(addr: SocketAddr) {
    // Ten times, each on its own connection: the serial log's per-connection
    // instruction counts for `GET /hello` come from these.
    for _ in 0..10 {
        assert_eq!(
            get_json(addr, "/hello"),
            (200, json!({"message": "Hello, World!"}))
        );
    }
}

fn micro_api(addr: SocketAddr) {
    assert_eq!(
        get_json(addr, "/"),
        (200, json!({"message": "Hello from MicroServer"}))
    );
    assert_eq!(
        get_json(addr, "/users/42?page=2"),
        (200, json!({"id": "42", "page": "2"}))
    );
    assert_eq!(
        get_json(addr, "/posts/7/comments/99"),
        (200, json!({"post": "7", "comment": "99"}))
    );
    assert_eq!(
        get_json(addr, "/search?q=esp32&page=2"),
        (200, json!({"query": "esp32", "page": 2}))
    );
    let (status, value) = get_json(addr, "/status");
    assert_eq!(status, 200);
    assert_eq!(value["ok"], true, "{value}");
    let body = r#"{"a":1,"b":2.5}"#;
    let req = format!(
        "POST /sum HTTP/1.1\r\nHost: d\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, _, body) = http(addr, &req).expect("POST /sum");
    assert_eq!((status, body.as_slice()), (200, &br#"{"result":3.5}"#[..]));
    let req =
        "POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let (status, _, body) = http(addr, req).expect("POST /echo");
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    let (status, headers, _) = http(
        addr,
        "GET /old HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
    )
    .expect("GET /old");
    assert_eq!(status, 302);
    assert!(
        headers.contains(&("location".into(), "/new".into())),
        "{headers:?}"
    );
}

fn errors_and_limits(addr: SocketAddr) {
    assert_eq!(
        get_json(addr, "/nope"),
        (404, json!({"error": "Not Found", "code": 404}))
    );
    // The device's body limit is 16 KiB.
    let req =
        "POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n";
    let (status, _, _) = http(addr, req).expect("POST big");
    assert_eq!(status, 413);
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(2000));
    let (status, _, _) = http(addr, &long).expect("long line");
    assert_eq!(status, 414);
}

fn keep_alive(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    for _ in 0..3 {
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: d\r\n\r\n")
            .expect("write");
        let (status, headers, _) = read_response(&mut r).expect("response");
        assert_eq!(status, 200);
        assert!(
            headers.contains(&("connection".into(), "keep-alive".into())),
            "{headers:?}"
        );
    }
}

fn chat_ping_pong(addr: SocketAddr) {
    let mut ws = WsClient::connect(addr, "/chat/ws");
    ws.send_text(r#"{"type":"ping"}"#);
    assert_eq!(ws.recv_json(), json!({"type": "pong"}));
    // No default echo on a route: the next frame is the second pong.
    ws.send_text("not for the hooks");
    ws.send_text(r#"{"type":"ping"}"#);
    assert_eq!(ws.recv_json(), json!({"type": "pong"}));
    assert_eq!(ws.close(1000), Some(1000));
}

fn ws_echo(addr: SocketAddr) {
    let mut ws = WsClient::connect(addr, "/ws/echo");
    assert_eq!(ws.recv(), (1, b"Welcome!".to_vec()));
    ws.send_text("echo me");
    assert_eq!(ws.recv(), (1, b"Echo: echo me".to_vec()));
    assert_eq!(ws.close(1000), Some(1000));
    let mut ws = WsClient::connect(addr, "/ws");
    assert_eq!(ws.recv(), (1, b"Connected!".to_vec()));
    ws.send_text("bye");
    let (op, payload) = ws.recv();
    assert_eq!((op, &payload[..2]), (8, &1000u16.to_be_bytes()[..]));
}

fn chat_rooms(addr: SocketAddr) {
    let mut a = WsClient::connect(addr, "/chat/ws");
    let mut b = WsClient::connect(addr, "/chat/ws");
    a.send_text(r#"{"type":"set_name","name":"riscv"}"#);
    assert_eq!(a.recv_json(), json!({"type": "name_set", "name": "riscv"}));
    for c in [&mut a, &mut b] {
        c.send_text(r#"{"action":"join","room":"lab"}"#);
        assert_eq!(c.recv_json(), json!({"action": "joined", "room": "lab"}));
    }
    a.send_text(r#"{"action":"message","text":"hi from the host"}"#);
    assert_eq!(a.recv_json(), json!({"action": "sent"}));
    assert_eq!(
        b.recv_json(),
        json!({"action": "message", "from": "riscv", "text": "hi from the host"})
    );
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: d\r\n{extra}Connection: close\r\n\r\n"),
    )
    .unwrap_or_else(|e| panic!("GET {path}: {e:#}"))
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Seed 002's `mount_static` and `send_file`, from the folders packed into the store.
fn static_files(addr: SocketAddr) {
    let index = include_bytes!("../../examples/seed002-medium/www/index.html");
    let (status, headers, body) = get(addr, "/static/", "");
    assert_eq!((status, body.as_slice()), (200, &index[..]));
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&headers, "cache-control"), Some("max-age=3600"));
    let etag = header(&headers, "etag").expect("an ETag").to_string();
    let (status, _, body) = get(addr, "/static/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((status, body.len()), (304, 0));
    let (status, headers, body) = get(addr, "/static/style.css", "Range: bytes=0-3\r\n");
    assert_eq!(status, 206);
    assert_eq!(body.len(), 4);
    assert!(header(&headers, "content-range").is_some_and(|r| r.starts_with("bytes 0-3/")));
    let (status, headers, body) = get(addr, "/download", "");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert!(body.starts_with(b"date,sales,revenue\n"));
    for refused in ["/static/../data/report.csv", "/static/%2e%2e/x"] {
        assert_eq!(get(addr, refused, "").0, 403, "{refused}");
    }
    assert_eq!(
        get(addr, "/static/.env", "").0,
        404,
        "dotfiles are never served"
    );
    assert_eq!(get(addr, "/static/missing.txt", "").0, 404);
}

/// A named check: it panics on failure.
pub type Check = (&'static str, fn(SocketAddr));

/// Runs every check; returns (passed, failed).
pub fn run_all(addr: SocketAddr) -> (usize, usize) {
    let checks: &[Check] = &[
        ("GET /hello", hello),
        ("micro-api routes", micro_api),
        ("404, 413, 414", errors_and_limits),
        ("keep-alive", keep_alive),
        ("chat ping/pong", chat_ping_pong),
        ("ws-echo routes", ws_echo),
        ("chat rooms", chat_rooms),
        ("static files", static_files),
    ];
    run_checks(addr, checks)
}

/// Runs `checks` in order against `addr`, printing each outcome; returns (passed, failed).
pub fn run_checks(addr: SocketAddr, checks: &[Check]) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks {
        match catch_unwind(AssertUnwindSafe(|| check(addr))) {
            Ok(()) => {
                passed += 1;
                println!("ok     {name}");
            }
            Err(e) => {
                failed += 1;
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("FAILED {name}: {why}");
            }
        }
    }
    (passed, failed)
}
