//! TLS on the server runtime (`[server.tls]`), driven by real TLS clients: reqwest over
//! rustls for HTTPS (HTTP/1.1 and, by ALPN, HTTP/2), tokio-tungstenite over tokio-rustls
//! for wss:// on both ports, a raw TLS connection kept open across a certificate swap,
//! and the start-up errors an operator meets. Certificates are made per test by
//! `berth_tests::certs` (a throwaway CA and its leaves).

use std::time::{Duration, Instant};

use berth_tests::certs::{peer_leaf, tls_section, TestCa};
use berth_tests::{config, per_engine, temp_dir, EngineKind, Runtime, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

const PLUGINS: &str = "[plugins]\nload = [\"hello\", \"ws-echo\"]\n";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// A TLS server on `engine` with a dedicated WebSocket port, both listeners on TLS.
fn tls_server(engine: EngineKind, ca: &TestCa, name: &str) -> (TestServer, std::path::PathBuf) {
    let dir = temp_dir(&format!("tls-{name}-{engine:?}"));
    let leaf = ca.leaf(&dir, "first");
    let toml = format!("[server]\nws_port = 0\n{}{PLUGINS}", tls_section(&leaf));
    let server = TestServer::start(config(&toml, engine)).expect("TLS server starts");
    (server, dir)
}

/// HTTPS with a certificate chain (leaf, then CA): HTTP/1.1 and HTTP/2 by ALPN, and a
/// plain-HTTP client on the TLS port gets nothing it can read as HTTP.
fn https_serves_both_http_versions(engine: EngineKind) {
    let ca = TestCa::new("Berth test CA");
    let (server, _dir) = tls_server(engine, &ca, "https");
    let url = format!("https://localhost:{}/hello", server.addr.port());
    for (client, version) in [
        (
            ca.reqwest(server.addr).http1_only(),
            reqwest::Version::HTTP_11,
        ),
        (ca.reqwest(server.addr), reqwest::Version::HTTP_2),
    ] {
        let client = client.build().expect("client");
        for _ in 0..3 {
            let response = client.get(&url).send().expect("GET over TLS");
            assert_eq!(response.version(), version);
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.text().expect("body"),
                r#"{"message":"Hello, World!"}"#
            );
        }
    }
    // A client that does not trust the CA refuses the certificate.
    let untrusting = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .resolve("localhost", server.addr)
        .build()
        .expect("client");
    assert!(untrusting.get(&url).send().is_err());
    // Plain HTTP on the TLS port: the server answers a TLS alert, never a response.
    let plain = reqwest::blocking::get(server.url("/hello"));
    assert!(plain.is_err(), "plain HTTP on a TLS port: {plain:?}");
}

/// wss:// on the HTTP port's WebSocket route and on the dedicated WebSocket port.
fn wss_on_both_ports(engine: EngineKind) {
    let ca = TestCa::new("Berth test CA");
    let (server, _dir) = tls_server(engine, &ca, "wss");
    let ws_addr = server.ws_addr.expect("ws port");
    block_on(async {
        let tls = ca.connect(server.addr, &[b"http/1.1"]).await.expect("TLS");
        let url = format!("wss://localhost:{}/ws", server.addr.port());
        let (mut ws, _) = tokio_tungstenite::client_async(url, tls)
            .await
            .expect("wss handshake on the HTTP port");
        assert_eq!(next_text(&mut ws).await, "Connected!");
        ws.send(Message::text("over TLS")).await.expect("send");
        assert_eq!(next_text(&mut ws).await, "Echo: over TLS");

        // The dedicated port offers http/1.1 alone, even to a client that prefers h2.
        let tls = ca
            .connect(ws_addr, &[b"h2", b"http/1.1"])
            .await
            .expect("TLS");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let url = format!("wss://localhost:{}/any", ws_addr.port());
        let (mut ws, _) = tokio_tungstenite::client_async(url, tls)
            .await
            .expect("wss handshake on the WebSocket port");
        let big = "x".repeat(40_000);
        ws.send(Message::text(big.clone())).await.expect("send");
        assert_eq!(next_text(&mut ws).await, big);
        ws.close(None).await.expect("close");
    });
}

async fn next_text<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a message in time")
        .expect("open")
        .expect("a message");
    message.into_text().expect("text").to_string()
}

/// One keep-alive HTTP/1.1 request on an open TLS connection.
async fn get_on<S>(conn: &mut BufReader<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    conn.get_mut()
        .write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.expect("read head");
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().expect("length");
        }
        head.push_str(&line);
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.expect("read body");
    format!(
        "{}{}",
        head.lines().next().unwrap_or(""),
        String::from_utf8_lossy(&body)
    )
}

/// Replacing the certificate files swaps the certificate for new handshakes while an
/// HTTPS keep-alive connection and a wss:// session opened before go on undisturbed;
/// a broken pair written later is refused and the good one stays.
fn certificate_swap_keeps_open_connections(engine: EngineKind) {
    let ca = TestCa::new("Berth test CA");
    let (server, dir) = tls_server(engine, &ca, "swap");
    let first = std::fs::read(dir.join("first.crt")).expect("first cert");
    block_on(async {
        let tls = ca.connect(server.addr, &[b"http/1.1"]).await.expect("TLS");
        let old_leaf = peer_leaf(&tls).expect("peer certificate");
        let mut kept = BufReader::new(tls);
        let ok = "HTTP/1.1 200 OK{\"message\":\"Hello, World!\"}";
        assert_eq!(get_on(&mut kept).await, ok);
        let ws_tls = ca
            .connect(server.ws_addr.expect("ws port"), &[b"http/1.1"])
            .await
            .expect("TLS");
        let url = format!("wss://localhost:{}/", server.ws_addr.expect("ws").port());
        let (mut ws, _) = tokio_tungstenite::client_async(url, ws_tls)
            .await
            .expect("wss");

        // The operator replaces the files (same paths) with a new pair.
        let second = ca.leaf(&dir, "second");
        assert_ne!(second.der, old_leaf);
        std::fs::rename(&second.cert, dir.join("first.crt")).expect("swap cert");
        std::fs::rename(&second.key, dir.join("first.key")).expect("swap key");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let fresh = ca.connect(server.addr, &[b"http/1.1"]).await.expect("TLS");
            if peer_leaf(&fresh) == Some(second.der.clone()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the new certificate was never served"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The connections opened before still work, on the certificate they agreed on.
        assert_eq!(peer_leaf(kept.get_ref()), Some(old_leaf.clone()));
        assert_eq!(get_on(&mut kept).await, ok);
        ws.send(Message::text("still here")).await.expect("send");
        assert_eq!(next_text(&mut ws).await, "still here");

        // A key that does not fit the certificate is refused: the second pair stays.
        let third = ca.leaf(&dir, "third");
        std::fs::write(dir.join("first.crt"), &first).expect("old cert, new key mismatch");
        std::fs::rename(&third.key, dir.join("first.key")).expect("swap key");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let after = ca.connect(server.addr, &[b"http/1.1"]).await.expect("TLS");
        assert_eq!(peer_leaf(&after), Some(second.der.clone()));
        let mut after = BufReader::new(after);
        assert_eq!(get_on(&mut after).await, ok);
    });
}

/// What an operator gets at start-up for files that cannot be used: the path and the
/// cause, never a half-started server.
fn bad_files_stop_the_server_with_the_reason(engine: EngineKind) {
    let ca = TestCa::new("Berth test CA");
    let dir = temp_dir(&format!("tls-bad-{engine:?}"));
    let good = ca.leaf(&dir, "good");
    let other = ca.leaf(&dir, "other");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").expect("write");
    let missing = dir.join("missing.pem");
    let section = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "[server.tls]\ncert = {:?}\nkey = {:?}\n{PLUGINS}",
            cert.to_string_lossy(),
            key.to_string_lossy()
        )
    };
    let cases = [
        (
            section(&missing, &good.key),
            vec!["cannot read", "missing.pem"],
        ),
        (
            section(&good.cert, &missing),
            vec!["cannot read", "missing.pem"],
        ),
        (
            section(&garbage, &good.key),
            vec!["garbage.pem", "no CERTIFICATE"],
        ),
        (
            section(&good.cert, &garbage),
            vec!["garbage.pem", "PRIVATE KEY"],
        ),
        (
            section(&good.cert, &other.key),
            vec!["does not fit", "good.crt", "other.key"],
        ),
        // A certificate where a key should be.
        (
            section(&good.cert, &good.cert),
            vec!["good.crt", "PRIVATE KEY"],
        ),
    ];
    for (toml, expected) in cases {
        let err = match TestServer::start(config(&toml, engine)) {
            Ok(s) => panic!("started on {} with {toml}", s.addr),
            Err(e) => e,
        };
        for part in expected {
            assert!(err.contains(part), "{err:?} lacks {part:?}");
        }
    }
}

/// An expired certificate is served (the operator may be replacing it) with a warning
/// at start-up; clients refuse it.
fn an_expired_certificate_starts_with_a_warning(engine: EngineKind) {
    let logs = berth_tests::logs::capture();
    let ca = TestCa::new("Berth test CA");
    let dir = temp_dir(&format!("tls-expired-{engine:?}"));
    let leaf = ca.expired_leaf(&dir, "old");
    let server = TestServer::start(config(&format!("{}{PLUGINS}", tls_section(&leaf)), engine))
        .expect("starts despite the expired certificate");
    let text = logs.text();
    assert!(
        text.contains("not valid now") && text.contains("old.crt"),
        "no expiry warning in {text}"
    );
    let url = format!("https://localhost:{}/hello", server.addr.port());
    let refused = ca
        .reqwest(server.addr)
        .build()
        .expect("client")
        .get(url)
        .send();
    let err = format!(
        "{:?}",
        refused.expect_err("an expired certificate is refused")
    );
    assert!(err.to_ascii_lowercase().contains("expired"), "{err}");
    server.shutdown();
}

/// `listeners = ["ws"]`: TLS on the WebSocket port only; the HTTP port stays plain.
fn tls_on_one_listener_only(engine: EngineKind) {
    let ca = TestCa::new("Berth test CA");
    let dir = temp_dir(&format!("tls-one-{engine:?}"));
    let leaf = ca.leaf(&dir, "ws");
    let toml = format!(
        "[server]\nws_port = 0\n{}listeners = [\"ws\"]\n{PLUGINS}",
        tls_section(&leaf)
    );
    let server = TestServer::start(config(&toml, engine)).expect("starts");
    let hello = reqwest::blocking::get(server.url("/hello")).expect("plain HTTP");
    assert_eq!(hello.status(), 200);
    block_on(async {
        let ws_addr = server.ws_addr.expect("ws port");
        let tls = ca
            .connect(ws_addr, &[b"http/1.1"])
            .await
            .expect("TLS on the ws port");
        let url = format!("wss://localhost:{}/", ws_addr.port());
        let (mut ws, _) = tokio_tungstenite::client_async(url, tls)
            .await
            .expect("wss");
        ws.send(Message::text("hi")).await.expect("send");
        assert_eq!(next_text(&mut ws).await, "hi");
    });
}

/// The embedded runtime has no TLS: it refuses `[server.tls]` with the reason.
#[test]
fn the_embedded_runtime_refuses_tls() {
    let ca = TestCa::new("Berth test CA");
    let dir = temp_dir("tls-embedded");
    let leaf = ca.leaf(&dir, "e");
    let toml = format!("{}{PLUGINS}", tls_section(&leaf));
    let err = match Runtime::EmbeddedWasmi.start(config(&toml, Runtime::EmbeddedWasmi)) {
        Ok(s) => panic!("the embedded runtime started with TLS on {}", s.addr),
        Err(e) => e,
    };
    assert!(err.contains("no TLS"), "{err}");
}

per_engine!(
    https_serves_both_http_versions,
    wss_on_both_ports,
    certificate_swap_keeps_open_connections,
    bad_files_stop_the_server_with_the_reason,
    an_expired_certificate_starts_with_a_warning,
    tls_on_one_listener_only,
);
