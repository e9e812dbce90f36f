//! `[server] allowed_hosts` and `allowed_origins`, from a raw TCP client, on the server
//! (both engines) and on the embedded runtime: a request for a host not listed gets 421
//! before any plugin runs, an upgrade from a page not listed gets 403, and the Origin
//! that passes reaches the plugins' `ws-connect`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use berth_tests::{config, per_engine, shared, shared_embedded, EngineKind, TestServer};

const CONFIG: &str = r#"
[server]
allowed_hosts = ["127.0.0.1", "localhost", "*.berth.test", "api.test:8443"]
allowed_origins = ["http://app.test", "https://app.test:8443"]
[plugins]
load = ["hello", "misbehave"]
"#;

fn server(engine: EngineKind) -> &'static TestServer {
    shared(engine, "allow-lists", || config(CONFIG, engine))
}

fn embedded() -> &'static TestServer {
    shared_embedded("allow-lists", || config(CONFIG, EngineKind::Wasmi))
}

/// Sends `request` as is and returns the status and everything read until the server
/// closes or goes quiet for a second.
fn exchange(addr: SocketAddr, request: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        // A 101 stays open: stop once the greeting frame is in.
        if got.starts_with(b"HTTP/1.1 101") && frame_text(&got).is_some() {
            break;
        }
    }
    let text = String::from_utf8_lossy(&got);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, got)
}

/// The first (unmasked, short) text frame after a 101's head.
fn frame_text(got: &[u8]) -> Option<String> {
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let frame = &got[head_end..];
    let len = usize::from(*frame.get(1)? & 0x7f);
    (frame.first() == Some(&0x81) && len < 126 && frame.len() >= 2 + len)
        .then(|| String::from_utf8_lossy(&frame[2..2 + len]).into_owned())
}

fn get(addr: SocketAddr, target: &str, host: Option<&str>) -> (u16, Vec<u8>) {
    let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    exchange(
        addr,
        &format!("GET {target} HTTP/1.1\r\n{host}Connection: close\r\n\r\n"),
    )
}

fn upgrade(addr: SocketAddr, origin: Option<&str>) -> (u16, Vec<u8>) {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    exchange(
        addr,
        &format!(
            "GET /ws/misbehave?origin HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{origin}\r\n"
        ),
    )
}

fn hosts_not_listed_get_421(s: &TestServer) {
    let port = s.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".into(),
        "LOCALHOST:1".into(),
        "a.berth.test".into(),
        "x.y.berth.test:80".into(),
        "api.test:8443".into(),
    ] {
        let (status, body) = get(s.addr, "/hello", Some(&host));
        assert_eq!(status, 200, "Host: {host}");
        assert!(
            String::from_utf8_lossy(&body).contains("Hello"),
            "Host: {host}"
        );
    }
    for host in [
        "evil.test",
        "127.0.0.2",
        "berth.test",
        "localhost.evil.test",
        "evil-berth.test",
        "api.test",
        "api.test:8444",
    ] {
        let (status, body) = get(s.addr, "/hello", Some(host));
        assert_eq!(status, 421, "Host: {host}");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("\"code\":421"), "Host: {host}: {body}");
        assert!(!body.contains("Hello"), "no plugin ran for Host: {host}");
    }
    // An absolute-form target names the host, whatever `Host` says.
    let (status, _) = exchange(
        s.addr,
        "GET http://evil.test/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 421);
    // An upgrade is a request like any other: the host is checked first.
    let (status, _) = exchange(
        s.addr,
        "GET /ws/misbehave HTTP/1.1\r\nHost: evil.test\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nOrigin: http://app.test\r\n\r\n",
    );
    assert_eq!(status, 421);
}

fn origins_not_listed_get_403(s: &TestServer) {
    for (origin, seen) in [
        (Some("http://app.test"), "http://app.test"),
        (Some("HTTP://APP.test"), "HTTP://APP.test"),
        (Some("https://app.test:8443"), "https://app.test:8443"),
        // No Origin: not a browser, which the list protects nothing against.
        (None, "<none>"),
    ] {
        let (status, got) = upgrade(s.addr, origin);
        assert_eq!(status, 101, "Origin {origin:?}");
        // The Origin reaches ws-connect among the request headers.
        assert_eq!(
            frame_text(&got).as_deref(),
            Some(format!("origin: {seen}").as_str()),
            "Origin {origin:?}"
        );
    }
    for origin in [
        "http://evil.test",
        "https://app.test",
        "http://app.test:8080",
        "http://app.test.evil.test",
        "null",
        "",
    ] {
        let (status, got) = upgrade(s.addr, Some(origin));
        assert_eq!(status, 403, "Origin {origin:?}");
        assert!(
            frame_text(&got).is_none(),
            "no ws-connect for Origin {origin:?}"
        );
    }
}

fn allow_lists(engine: EngineKind) {
    hosts_not_listed_get_421(server(engine));
    origins_not_listed_get_403(server(engine));
}

per_engine!(allow_lists);

#[test]
fn allow_lists_embedded() {
    hosts_not_listed_get_421(embedded());
    origins_not_listed_get_403(embedded());
}
