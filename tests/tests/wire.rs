//! The HTTP wire rules both runtimes share (berth-core's `respond`, `stream_pull`,
//! `upgrade` and `head_rules`), driven over raw TCP against the server on both engines
//! and against the embedded runtime (`berth serve --runtime embedded`), plus the
//! embedded loop's own connection rules (slots, head timeout, timers).
//!
//! The `wire-probe` plugin answers with whatever a case asks for: any status, headers a
//! plugin may not set, streams of every shape.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use berth_tests::raw::{RawHttp, Reply};
use berth_tests::{config, per_runtime, start_embedded, EngineKind, Runtime, TestServer};

const PROBE: &str = r#"
    [plugins]
    load = ["wire-probe"]
    [limits]
    plugin_timeout = 0.3
    max_request_line = 256
    max_response_headers = 100
    stream_timeout = 2.0
"#;

fn probe(rt: Runtime) -> &'static TestServer {
    probe_as(rt, "wire-probe")
}

/// A probe server of its own, for a case that other cases' failed calls must not reach
/// (on the embedded runtime a failed call replaces the plugin's one instance, and cuts
/// every stream of it).
fn probe_as(rt: Runtime, key: &str) -> &'static TestServer {
    rt.shared(key, || config(PROBE, rt))
}

per_runtime!(
    final_statuses_only,
    host_owned_headers_are_stripped,
    response_header_count_is_capped,
    bodiless_statuses_and_head_carry_no_body,
    streams_are_paced_and_the_pacing_header_is_private,
    empty_chunks_do_not_stall_other_clients_and_the_budget_ends_a_stream,
    abandoned_streams_release_their_iterator,
    host_header_exactly_once,
    framing_as_strict_as_hyper,
);

fn get(conn: &mut RawHttp, method: &str, path: &str) -> Reply {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: berth.test\r\n\r\n");
    conn.send(request.as_bytes()).expect("send");
    conn.read()
}

fn response(reply: Reply) -> berth_tests::raw::RawResponse {
    match reply {
        Reply::Response(r) => r,
        Reply::Closed(bytes) => panic!("closed: {:?}", String::from_utf8_lossy(&bytes)),
    }
}

fn status(r: &berth_tests::raw::RawResponse) -> u16 {
    r.status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A plugin's 1xx (an interim response on the wire, after which the client waits for
/// the real one) and statuses HTTP has no class for become 500; the keep-alive
/// connection stays in step.
fn final_statuses_only(rt: Runtime) {
    let mut conn = RawHttp::connect(probe(rt).addr);
    for code in [100, 101, 102, 103, 150, 199, 600, 700, 999] {
        let r = response(get(&mut conn, "GET", &format!("/status/{code}")));
        assert_eq!(status(&r), 500, "{code}: {r:?}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(body.contains("\"code\":500"), "{code}: {body}");
        // The next response on the same connection is the next request's.
        let r = response(get(&mut conn, "GET", "/status/201"));
        assert_eq!((status(&r), &r.body[..]), (201, &b"status 201"[..]));
    }
    for code in [200, 299, 404, 418, 599] {
        let r = response(get(&mut conn, "GET", &format!("/status/{code}")));
        assert_eq!(status(&r), code);
    }
}

/// Hop-by-hop, framing and host-only headers a plugin sets never reach the client.
fn host_owned_headers_are_stripped(rt: Runtime) {
    let mut conn = RawHttp::connect(probe(rt).addr);
    for _ in 0..2 {
        let r = response(get(&mut conn, "GET", "/hop"));
        assert_eq!(status(&r), 200);
        assert_eq!(r.body, b"hop");
        assert_eq!(r.header("x-kept"), Some("1"));
        assert_eq!(r.header("content-length"), Some("3"));
        for (name, value) in &r.headers {
            assert_ne!(value, "999", "{name} leaked: {r:?}");
        }
        for name in [
            "keep-alive",
            "transfer-encoding",
            "upgrade",
            "te",
            "trailer",
            "proxy-authenticate",
            "berth-chunk-interval-ms",
        ] {
            assert_eq!(r.header(name), None, "{name}: {r:?}");
        }
    }
}

/// More than `max_response_headers` is a 500 (and never a panic past the `http` crate's
/// own cap of 32 768).
fn response_header_count_is_capped(rt: Runtime) {
    let s = probe(rt);
    let mut conn = RawHttp::connect(s.addr);
    // 95 of the plugin's own, plus its content-type and the server header: under 100.
    let r = response(get(&mut conn, "GET", "/headers?n=95"));
    assert_eq!(status(&r), 200);
    assert_eq!(
        r.headers
            .iter()
            .filter(|(n, _)| n.starts_with("x-h-"))
            .count(),
        95
    );
    let r = response(get(&mut conn, "GET", "/headers?n=101"));
    assert_eq!(status(&r), 500, "{r:?}");
    assert!(!r.headers.iter().any(|(n, _)| n.starts_with("x-h-")));
    let mut conn = RawHttp::connect(s.addr);
    // Building 33 000 headers may take the plugin past its deadline (504) under load;
    // either way it is an error response, and the server goes on.
    let r = response(get(&mut conn, "GET", "/headers?n=33000"));
    assert!(matches!(status(&r), 500 | 504), "{r:?}");
    let r = response(get(&mut conn, "GET", "/status/200"));
    assert_eq!(status(&r), 200);
}

/// 204 and 304 never have a body, streamed or not, and HEAD never does; the next
/// response on the connection proves nothing was left behind.
fn bodiless_statuses_and_head_carry_no_body(rt: Runtime) {
    let mut conn = RawHttp::connect(probe(rt).addr);
    for (method, path) in [
        ("GET", "/stream?status=204"),
        ("GET", "/stream?status=304"),
        ("GET", "/status/204"),
        ("GET", "/status/304"),
        // (A HEAD of a bytes body announces its length, which this client would wait
        // for; a HEAD of a stream announces none.)
        ("HEAD", "/stream"),
    ] {
        let r = response(get(&mut conn, method, path));
        assert!(r.body.is_empty(), "{method} {path}: {r:?}");
        if path.contains("204") || path.contains("304") {
            assert_eq!(r.header("transfer-encoding"), None, "{path}: {r:?}");
            assert_eq!(r.header("content-length"), None, "{path}: {r:?}");
        }
        let next = response(get(&mut conn, "GET", "/status/202"));
        assert_eq!(
            (status(&next), &next.body[..]),
            (202, &b"status 202"[..]),
            "after {method} {path}"
        );
    }
}

/// Reads a chunked response to its end: the head, the decoded body, and whether the
/// terminating chunk came (`false`: the connection closed first).
fn read_chunked(stream: &mut TcpStream) -> (String, Vec<u8>, bool) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let (head, rest) = raw.split_at(end + 4);
            let mut body = Vec::new();
            let mut rest = rest;
            while let Some(line) = rest.windows(2).position(|w| w == b"\r\n") {
                let text = std::str::from_utf8(&rest[..line]).expect("a chunk-size line");
                let size = usize::from_str_radix(text, 16).expect("chunk size");
                if size == 0 && rest.len() >= line + 4 {
                    return (String::from_utf8_lossy(head).into(), body, true);
                }
                if rest.len() < line + 2 + size + 2 {
                    break;
                }
                body.extend_from_slice(&rest[line + 2..line + 2 + size]);
                rest = &rest[line + 2 + size + 2..];
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
                return (String::from_utf8_lossy(&raw[..head_end]).into(), raw, false);
            }
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&raw).into(), raw, false)
            }
            Err(e) => panic!("read: {e} after {:?}", String::from_utf8_lossy(&raw)),
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("socket");
    s
}

/// `chunk_interval` pauses between chunks on both runtimes, and its header stays with the
/// host.
fn streams_are_paced_and_the_pacing_header_is_private(rt: Runtime) {
    let mut s = connect(probe(rt).addr);
    let started = Instant::now();
    s.write_all(b"GET /stream?chunks=3&interval=300&empty=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("socket");
    let (head, body, complete) = read_chunked(&mut s);
    let took = started.elapsed();
    assert!(complete, "{head}");
    assert_eq!(body, b"chunk 0\nchunk 1\nchunk 2\n");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("berth-chunk-interval-ms"),
        "{head}"
    );
    assert!(
        took >= Duration::from_millis(580),
        "two pauses of 300 ms took {took:?}"
    );
}

/// A stream of nothing but empty chunks neither spins the loop nor holds anyone else up,
/// and `stream_timeout` cuts it off as a broken transfer.
fn empty_chunks_do_not_stall_other_clients_and_the_budget_ends_a_stream(rt: Runtime) {
    let s = probe_as(rt, "wire-probe-budget");
    let mut forever = connect(s.addr);
    let started = Instant::now();
    forever
        .write_all(b"GET /forever?empty HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("socket");
    std::thread::sleep(Duration::from_millis(200));
    let mut other = RawHttp::connect(s.addr);
    for _ in 0..5 {
        let asked = Instant::now();
        let r = response(get(&mut other, "GET", "/status/200"));
        assert_eq!(status(&r), 200);
        // Generous: other cases share this loop; a stalled one never answers at all.
        assert!(
            asked.elapsed() < Duration::from_millis(1500),
            "{:?}",
            asked.elapsed()
        );
    }
    let (head, _, complete) = read_chunked(&mut forever);
    let took = started.elapsed();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!complete, "a cut-off stream must not look complete");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "stream_timeout = 2 s, cut after {took:?}"
    );
}

fn live_iterators(s: &TestServer) -> u64 {
    let mut conn = RawHttp::connect(s.addr);
    let r = response(get(&mut conn, "GET", "/live"));
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["live"].as_u64().expect("live")
}

/// A stream that is not pulled to its end (HEAD, a client that went away) leaves no
/// iterator behind in the instance that serves the next request.
fn abandoned_streams_release_their_iterator(rt: Runtime) {
    let s = probe(rt);
    let mut conn = RawHttp::connect(s.addr);
    for _ in 0..3 {
        let r = response(get(&mut conn, "HEAD", "/stream?chunks=5"));
        assert_eq!(status(&r), 200);
    }
    // With one instance per plugin (the embedded runtime), the release waits for the
    // plugin's other streams (other cases') to end; each ends within stream_timeout.
    released_within(s, Duration::from_secs(5), "after HEAD");
    {
        let mut gone = connect(s.addr);
        gone.write_all(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("socket");
        let mut first = [0u8; 64];
        let _ = gone.read(&mut first).expect("socket");
    }
    released_within(s, Duration::from_secs(5), "after the client left");
}

fn released_within(s: &TestServer, wait: Duration, what: &str) {
    let deadline = Instant::now() + wait;
    while live_iterators(s) != 0 {
        assert!(Instant::now() < deadline, "{what}: iterators still alive");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn raw_status(addr: SocketAddr, request: &[u8]) -> Option<u16> {
    let mut conn = RawHttp::connect(addr);
    conn.send(request).expect("send");
    match conn.read() {
        Reply::Response(r) => Some(status(&r)),
        Reply::Closed(_) => None,
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request without Host, or any with two, is 400.
fn host_header_exactly_once(rt: Runtime) {
    let addr = probe(rt).addr;
    let cases: [(&[u8], u16); 5] = [
        (b"GET /status/200 HTTP/1.1\r\n\r\n", 400),
        (
            b"GET /status/200 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
        ),
        (
            b"GET /status/200 HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
            400,
        ),
        (b"GET /status/200 HTTP/1.0\r\n\r\n", 200),
        (b"GET /status/200 HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ];
    for (request, expected) in cases {
        assert_eq!(
            raw_status(addr, request),
            Some(expected),
            "{:?}",
            String::from_utf8_lossy(request)
        );
    }
}

/// Framing hyper refuses is refused by the embedded runtime too: whitespace other than
/// space and tab around Content-Length and Transfer-Encoding, bare-LF chunk framing, and
/// a leading CRLF in front of a request line over the limit.
fn framing_as_strict_as_hyper(rt: Runtime) {
    let addr = probe(rt).addr;
    let mut cases: Vec<(Vec<u8>, u16)> = Vec::new();
    for ws in ["\u{a0}", "\u{2000}", "\u{3000}", "\u{feff}"] {
        cases.push((
            format!("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: {ws}5\r\n\r\nhello").into(),
            400,
        ));
        cases.push((
            format!("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5{ws}\r\n\r\nhello").into(),
            400,
        ));
        cases.push((
            format!(
                "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked{ws}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            )
            .into(),
            400,
        ));
    }
    for body in [
        &b"5\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhello\r\n0\n\r\n",
    ] {
        let mut r = b"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        r.extend_from_slice(body);
        cases.push((r, 400));
    }
    let long = "a".repeat(300);
    for prefix in ["\r\n", "\r\n\r\n"] {
        cases.push((
            format!("{prefix}GET /{long} HTTP/1.1\r\nHost: t\r\n\r\n").into(),
            414,
        ));
    }
    // The well-formed versions reach the router (no POST route: 405).
    cases.push((
        b"POST /status/1 HTTP/1.1\r\nHost: t\r\nContent-Length: \t5 \r\n\r\nhello".to_vec(),
        405,
    ));
    cases.push((
        b"POST /status/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\n\r\n"
            .to_vec(),
        405,
    ));
    cases.push((
        b"\r\nGET /status/200 HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
        200,
    ));
    for (request, expected) in cases {
        assert_eq!(
            raw_status(addr, &request),
            Some(expected),
            "{:?}",
            String::from_utf8_lossy(&request)
        );
    }
}

// ---- the embedded loop's own connection rules --------------------------------------

/// A timer whose handler runs longer than its interval does not take the loop from the
/// connections.
#[test]
fn embedded_slow_timer_does_not_freeze_the_loop() {
    let s = start_embedded(config(
        r#"
        [plugins]
        load = ["wire-probe"]
        [limits]
        plugin_timeout = 0.2
        [plugin.wire-probe]
        slow_tick_ms = 20
        "#,
        EngineKind::Wasmi,
    ))
    .expect("start");
    std::thread::sleep(Duration::from_millis(300));
    let mut conn = RawHttp::connect(s.addr);
    for _ in 0..5 {
        let asked = Instant::now();
        let r = response(get(&mut conn, "GET", "/status/200"));
        assert_eq!(status(&r), 200);
        assert!(
            asked.elapsed() < Duration::from_millis(1500),
            "{:?}",
            asked.elapsed()
        );
    }
}

/// Every slot held by a client that never finishes its head (or by idle WebSockets or
/// SSE streams alike): the next connection is told 503, as the server tells it, instead
/// of never being answered.
#[test]
fn embedded_slots_exhausted_answer_503() {
    let s = start_embedded(config(
        "[plugins]\nload = [\"wire-probe\"]\n[limits]\nheader_timeout = 20.0\n",
        EngineKind::Wasmi,
    ))
    .expect("start");
    // The desktop runs 64 slots (default max_connections 1024): fill them all.
    let mut held = Vec::new();
    for _ in 0..64 {
        let mut c = connect(s.addr);
        c.write_all(b"GET /status/200 HTTP/1.1\r\nHost:")
            .expect("socket");
        held.push(c);
    }
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let mut conn = RawHttp::connect(s.addr);
        conn.send(b"GET /status/200 HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("socket");
        let r = response(conn.read());
        assert_eq!(status(&r), 503, "{r:?}");
        assert_eq!(r.body, br#"{"error":"Service Unavailable","code":503}"#);
    }
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut conn = RawHttp::connect(s.addr);
        let r = response(get(&mut conn, "GET", "/status/200"));
        if status(&r) == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slots never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A first head that trickles in is cut `header_timeout` after the connection opened,
/// not after its first byte.
#[test]
fn embedded_slow_head_is_cut_by_header_timeout() {
    let s = start_embedded(config(
        "[plugins]\nload = [\"wire-probe\"]\n[limits]\nheader_timeout = 1.0\n",
        EngineKind::Wasmi,
    ))
    .expect("start");
    let mut c = connect(s.addr);
    let opened = Instant::now();
    std::thread::sleep(Duration::from_millis(700));
    c.write_all(b"GET /status/200 HTTP/1.1\r\n")
        .expect("socket");
    let mut closed = None;
    let mut buf = [0u8; 512];
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("socket");
    while opened.elapsed() < Duration::from_secs(4) {
        let _ = c.write_all(b"X-Slow: 1\r\n");
        match c.read(&mut buf) {
            Ok(0) => {
                closed = Some(opened.elapsed());
                break;
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = Some(opened.elapsed());
                break;
            }
        }
    }
    let closed = closed.expect("the trickling head was never cut");
    assert!(
        closed < Duration::from_millis(1500),
        "header_timeout = 1 s from the accept, cut after {closed:?}"
    );
}
