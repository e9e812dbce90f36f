//! HTTP/2 on the server runtime: h2c with prior knowledge on a plain port, h2 by ALPN on
//! a TLS one (`tls.rs` drives that with reqwest; here curl does too), and every limit
//! holding on HTTP/2 as on HTTP/1.1 — body size, header size and count, concurrent
//! streams, the body, header and keep-alive timeouts, requests per connection — with
//! SSE and streamed bodies arriving as they are produced. Driven by reqwest, the `h2`
//! crate as a low-level peer, and curl.

use std::time::{Duration, Instant};

use berth_tests::certs::{tls_section, TestCa};
use berth_tests::{config, example, per_engine, temp_dir, EngineKind, TestServer};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: &str = "[limits]\nmax_body_size = 1000\nmax_header_size = 300\nmax_headers = 20\n\
header_timeout = 0.5\nbody_timeout = 0.5\n";

fn server(engine: EngineKind) -> &'static TestServer {
    berth_tests::shared(engine, "h2-limits", || {
        config(
            &format!(
                "[server.http2]\nmax_concurrent_streams = 2\n\
                 [plugins]\nload = [\"hello\", \"sse-sensor\"]\n\
                 [plugin.sse-sensor]\ninterval = 0.1\n{LIMITS}"
            ),
            engine,
        )
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn h2c_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// An `h2` client connection to `addr` (prior knowledge); the connection is driven on
/// its own task.
async fn h2_connect(
    addr: std::net::SocketAddr,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (send, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    (send, tokio::spawn(conn))
}

fn get(path: &str) -> http::Request<()> {
    http::Request::get(format!("http://localhost{path}"))
        .body(())
        .expect("request")
}

/// h2c with prior knowledge, and HTTP/1.1 on the same port.
fn h2c_and_http1_share_the_port(engine: EngineKind) {
    let s = server(engine);
    let h2 = h2c_client().get(s.url("/hello")).send().expect("h2c GET");
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    assert_eq!(h2.status(), 200);
    assert_eq!(h2.text().expect("body"), r#"{"message":"Hello, World!"}"#);
    let h1 = reqwest::blocking::get(s.url("/hello")).expect("HTTP/1.1 GET");
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);
    assert_eq!(h1.status(), 200);
    // curl, as an operator would check it.
    let out = std::process::Command::new("curl")
        .args(["-s", "--http2-prior-knowledge", "-w", "\n%{http_version}"])
        .arg(s.url("/hello"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, "{\"message\":\"Hello, World!\"}\n2", "{out:?}");
}

/// `[server.http2] enabled = false`: the preface is not HTTP/1.1, so the connection is
/// refused as a bad request; HTTP/1.1 works as before.
fn h2_off_speaks_http1_only(engine: EngineKind) {
    let s = TestServer::start(config(
        "[server.http2]\nenabled = false\n[plugins]\nload = [\"hello\"]\n",
        engine,
    ))
    .expect("starts");
    assert!(h2c_client().get(s.url("/hello")).send().is_err());
    let h1 = reqwest::blocking::get(s.url("/hello")).expect("HTTP/1.1");
    assert_eq!(h1.status(), 200);
    s.shutdown();
}

/// Body size (declared and streamed), header size and count: the same statuses as on
/// HTTP/1.1.
fn size_limits_hold(engine: EngineKind) {
    let s = server(engine);
    let client = h2c_client();
    let url = s.url("/hello");
    let post = |body: reqwest::blocking::Body| client.post(&url).body(body).send().expect("POST");
    assert_eq!(post(vec![b'x'; 1001].into()).status(), 413);
    // Without a length: the body is cut off where it passes the limit.
    let unsized_body = reqwest::blocking::Body::new(std::io::Cursor::new(vec![b'x'; 5000]));
    assert_eq!(post(unsized_body).status(), 413);
    let within = post(vec![b'x'; 1000].into()).status();
    assert_ne!(within, 413);
    // One header over max_header_size.
    let r = client
        .get(&url)
        .header("x-big", "v".repeat(300))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 431);
    // More headers than max_headers.
    let mut many = client.get(&url);
    for i in 0..25 {
        many = many.header(format!("x-h{i}"), "v");
    }
    assert_eq!(many.send().expect("GET").status(), 431);
    // A header list over the whole head budget is refused by HTTP/2 itself (431).
    let mut huge = client.get(&url);
    for i in 0..30 {
        huge = huge.header(format!("x-h{i}"), "v".repeat(500));
    }
    let status = huge.send().map(|r| r.status().as_u16());
    assert!(matches!(status, Ok(431) | Err(_)), "{status:?}");
    // The connection and the server are fine afterwards.
    assert_eq!(client.get(&url).send().expect("GET").status(), 200);
}

/// `max_concurrent_streams = 2`: the server says so in its SETTINGS, and a third
/// request on the connection waits until one of two open SSE streams ends.
fn concurrent_streams_are_bounded(engine: EngineKind) {
    let s = server(engine);
    block_on(async {
        let (mut send, conn) = h2_connect(s.addr).await;
        send = send.ready().await.expect("ready");
        let mut open = Vec::new();
        for _ in 0..2 {
            let (response, _) = send.send_request(get("/events"), true).expect("send");
            let response = response.await.expect("SSE response");
            assert_eq!(response.status(), 200);
            open.push(response.into_body());
        }
        let (third, _) = send.send_request(get("/hello"), true).expect("queued");
        tokio::pin!(third);
        let waited = tokio::time::timeout(Duration::from_millis(800), &mut third).await;
        assert!(
            waited.is_err(),
            "a third stream was served while two were open"
        );
        drop(open.pop()); // resets one SSE stream
        let third = tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("served once a stream closed")
            .expect("response");
        assert_eq!(third.status(), 200);
        drop(open);
        drop(send);
        conn.abort();
    });
}

/// SSE arrives event by event over HTTP/2, and a streamed body chunk by chunk.
fn sse_and_streams_flow(engine: EngineKind) {
    let s = server(engine);
    block_on(async {
        let (send, conn) = h2_connect(s.addr).await;
        let mut send = send.ready().await.expect("ready");
        let (response, _) = send.send_request(get("/events"), true).expect("send");
        let response = response.await.expect("response");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut body = response.into_body();
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.matches("data: ").count() < 3 {
            assert!(Instant::now() < deadline, "no events in {seen:?}");
            let chunk = tokio::time::timeout(Duration::from_secs(5), body.data())
                .await
                .expect("an event in time")
                .expect("open")
                .expect("data");
            let _ = body.flow_control().release_capacity(chunk.len());
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(seen.contains("\"temperature\""), "{seen}");
        drop(body);
        conn.abort();
    });
    let medium = berth_tests::shared(engine, "h2-medium", || example("seed002-medium", engine));
    let started = Instant::now();
    let mut r = h2c_client()
        .get(medium.url("/stream"))
        .send()
        .expect("GET /stream");
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    // Read as it arrives: five chunks, about half a second apart.
    let mut text = String::new();
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let n = std::io::Read::read(&mut r, &mut buf).expect("body");
        if n == 0 {
            break;
        }
        arrivals.push(started.elapsed());
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let expected: String = (0..5).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(text, expected);
    let spread = arrivals.last().copied().unwrap_or_default() - arrivals[0];
    assert!(
        spread >= Duration::from_millis(1500),
        "the chunks came together: {arrivals:?}"
    );
}

/// A client that opens HTTP/2 and never sends a request is closed after
/// `header_timeout`; so is one that sends nothing at all.
fn a_silent_connection_is_closed(engine: EngineKind) {
    let s = server(engine);
    block_on(async {
        for preface in [true, false] {
            let mut tcp = TcpStream::connect(s.addr).await.expect("connect");
            if preface {
                tcp.write_all(
                    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
                )
                .await
                .expect("preface");
            }
            let started = Instant::now();
            let mut sink = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut sink))
                .await
                .expect("closed within 5 s");
            let _ = read; // a reset is as closed as an EOF
            let took = started.elapsed();
            assert!(
                took >= Duration::from_millis(400),
                "closed too early ({took:?}, preface {preface})"
            );
        }
    });
}

/// A request body that stops coming: 408 after `body_timeout`, as on HTTP/1.1.
fn a_stalled_body_times_out(engine: EngineKind) {
    let s = server(engine);
    block_on(async {
        let (send, conn) = h2_connect(s.addr).await;
        let mut send = send.ready().await.expect("ready");
        let request = http::Request::post("http://localhost/hello")
            .header("content-length", "100")
            .body(())
            .expect("request");
        let (response, mut body) = send.send_request(request, false).expect("send");
        body.send_data(Bytes::from_static(b"only ten b"), false)
            .expect("some data");
        let started = Instant::now();
        let response = tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .expect("answered in time")
            .expect("response");
        assert_eq!(response.status(), 408);
        assert!(started.elapsed() >= Duration::from_millis(400));
        conn.abort();
    });
}

/// Idle for `keep_alive_timeout`: closed with GOAWAY; and after `[server.http2]
/// max_requests` the connection takes no more (HTTP/1.1's `max_keep_alive_requests`,
/// set lower here, does not apply).
fn keep_alive_rules_hold(engine: EngineKind) {
    let s = TestServer::start(config(
        "[plugins]\nload = [\"hello\"]\n[limits]\nkeep_alive_timeout = 1.0\nmax_keep_alive_requests = 2\n\
         [server.http2]\nmax_requests = 5\n",
        engine,
    ))
    .expect("starts");
    block_on(async {
        let (send, conn) = h2_connect(s.addr).await;
        let mut send = send.ready().await.expect("ready");
        let (response, _) = send.send_request(get("/hello"), true).expect("send");
        assert_eq!(response.await.expect("response").status(), 200);
        let started = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(5), conn)
            .await
            .expect("closed when idle");
        assert!(ended.is_ok(), "the connection task ended");
        assert!(started.elapsed() >= Duration::from_millis(800));

        let (send, conn) = h2_connect(s.addr).await;
        let mut send = send.ready().await.expect("ready");
        let mut served = 0;
        for _ in 0..8 {
            let Ok(mut ready) = send.clone().ready().await else {
                break;
            };
            let Ok((response, _)) = ready.send_request(get("/hello"), true) else {
                break;
            };
            match response.await {
                Ok(r) if r.status() == 200 => served += 1,
                _ => break,
            }
            send = ready;
        }
        // GOAWAY goes out as the 5th request begins; a request the client sent before it
        // saw the GOAWAY is still served (HTTP/2's graceful close), none after.
        assert!(
            (5..=6).contains(&served),
            "max_requests = 5 on HTTP/2: served {served}"
        );
        let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
        assert!(ended.is_ok(), "the server closed the used-up connection");
    });
    s.shutdown();
}

/// h2 by ALPN with curl (`--http2`) on a TLS port.
fn curl_speaks_h2_over_tls(engine: EngineKind) {
    let ca = TestCa::new("Berth test CA");
    let dir = temp_dir(&format!("h2-curl-{engine:?}"));
    let leaf = ca.leaf(&dir, "curl");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("write CA");
    let toml = format!("{}[plugins]\nload = [\"hello\"]\n", tls_section(&leaf));
    let s = TestServer::start(config(&toml, engine)).expect("starts");
    let port = s.addr.port();
    let out = std::process::Command::new("curl")
        .args(["-s", "--http2", "--cacert"])
        .arg(&ca_file)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["-w", "\n%{http_version}"])
        .arg(format!("https://localhost:{port}/hello"))
        .output()
        .expect("run curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"message\":\"Hello, World!\"}\n2",
        "{out:?}"
    );
    s.shutdown();
}

per_engine!(
    h2c_and_http1_share_the_port,
    h2_off_speaks_http1_only,
    size_limits_hold,
    concurrent_streams_are_bounded,
    sse_and_streams_flow,
    a_silent_connection_is_closed,
    a_stalled_body_times_out,
    keep_alive_rules_hold,
    curl_speaks_h2_over_tls,
);
