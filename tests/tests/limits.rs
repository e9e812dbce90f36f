//! Every HTTP limit of `[limits]`, provoked from a raw TCP client and observed as the
//! exact status line or the connection closing; once per runtime. (The WebSocket limits,
//! the oversized frame's 1009 among them, are in `ws_limits.rs`.)

mod ws_support;

use std::net::SocketAddr;
use std::time::Duration;

use berth_tests::raw::{RawHttp, Reply};
use berth_tests::{config, per_runtime, Runtime, TestServer};

/// Small limits so each test provokes them quickly; timeouts are 0.3 s.
fn tight(rt: Runtime) -> &'static TestServer {
    rt.shared("http-limits", || {
        config(
            r#"
            [plugins]
            load = ["hello"]
            [limits]
            max_body_size = 1024
            max_request_line = 1024
            max_headers = 10
            max_header_size = 512
            header_timeout = 0.3
            body_timeout = 0.3
            keep_alive_timeout = 0.3
            max_keep_alive_requests = 3
            "#,
            rt,
        )
    })
}

/// Room for four connections; timeouts long enough that none closes by itself.
fn four_connections(rt: Runtime) -> &'static TestServer {
    rt.shared("max-connections", || {
        config(
            r#"
            [plugins]
            load = ["hello", "ws-echo"]
            [limits]
            max_connections = 4
            keep_alive_timeout = 30
            "#,
            rt,
        )
    })
}

/// Plugin memory capped at one 64 KiB page: what a plugin built with the SDK starts
/// with (16 KiB stack, its static data, and its heap in the rest of the page).
fn one_page(rt: Runtime) -> &'static TestServer {
    rt.shared("one-page", || {
        config(
            "[plugins]\nload = [\"hello\", \"chat\"]\n[limits]\nplugin_memory = 65536\n",
            rt,
        )
    })
}

/// Two connections in all, and SSE queues of four events.
fn two_connections(rt: Runtime) -> &'static TestServer {
    rt.shared("two-connections", || {
        config(
            "[plugins]\nload = [\"pubsub\"]\n[limits]\nmax_connections = 2\n[sse]\nqueue = 4\n",
            rt,
        )
    })
}

per_runtime!(
    a_body_over_the_limit_is_413,
    a_long_request_line_is_414,
    too_many_headers_are_431,
    a_large_header_is_431,
    a_head_over_the_whole_budget_is_431,
    a_slow_head_is_closed,
    a_slow_body_is_408,
    an_idle_keep_alive_connection_is_closed,
    the_last_keep_alive_request_says_close,
    pipelined_requests_are_answered_in_order,
    a_header_line_without_a_colon_is_400,
    content_length_beside_chunked_never_keeps_the_connection,
    a_connection_flood_gets_503,
    a_stalled_sse_client_frees_its_connection,
    small_plugins_serve_from_their_first_page,
);

fn status(r: &berth_tests::raw::RawResponse) -> &str {
    &r.status_line
}

/// Whether a response leaves its HTTP/1.1 connection open: no `Connection` header (the
/// default, as hyper answers) or an explicit `keep-alive` (as the embedded runtime does).
fn kept_alive(r: &berth_tests::raw::RawResponse) -> bool {
    matches!(r.header("connection"), None | Some("keep-alive"))
}

fn a_body_over_the_limit_is_413(rt: Runtime) {
    let s = tight(rt);
    // Declared too large: refused from the head, before a byte of body is read.
    let mut c = RawHttp::connect(s.addr);
    c.send(b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n")
        .expect("send");
    let r = c.response();
    assert_eq!(status(&r), "HTTP/1.1 413 Payload Too Large");
    assert_eq!(r.body, br#"{"error":"Payload Too Large","code":413}"#);
    // Chunked, with no length up front: refused once 1 KiB has arrived.
    let mut c = RawHttp::connect(s.addr);
    let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
    let request = format!(
        "POST /hello HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}1\r\ny\r\n0\r\n\r\n"
    );
    c.send(request.as_bytes()).expect("send");
    assert_eq!(status(&c.response()), "HTTP/1.1 413 Payload Too Large");
    // Exactly the limit passes the host (and reaches routing: hello has no POST).
    let mut c = RawHttp::connect(s.addr);
    let request = format!(
        "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n{}",
        "x".repeat(1024)
    );
    c.send(request.as_bytes()).expect("send");
    assert_eq!(status(&c.response()), "HTTP/1.1 405 Method Not Allowed");
}

/// A `GET` whose request line (`GET <target> HTTP/1.1`) is exactly `len` bytes.
fn get_with_line(addr: SocketAddr, len: usize) -> Reply {
    let fixed = "GET /hello?q= HTTP/1.1".len();
    let request = format!(
        "GET /hello?q={} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(len - fixed)
    );
    let mut c = RawHttp::connect(addr);
    c.send(request.as_bytes()).expect("send");
    c.read()
}

fn a_long_request_line_is_414(rt: Runtime) {
    let s = tight(rt);
    match get_with_line(s.addr, 1024) {
        Reply::Response(r) => assert_eq!(status(&r), "HTTP/1.1 200 OK"),
        Reply::Closed(b) => panic!("closed: {:?}", String::from_utf8_lossy(&b)),
    }
    for len in [1025, 4000] {
        match get_with_line(s.addr, len) {
            Reply::Response(r) => {
                assert_eq!(status(&r), "HTTP/1.1 414 URI Too Long", "{len}");
                assert_eq!(r.body, br#"{"error":"URI Too Long","code":414}"#);
            }
            Reply::Closed(b) => panic!("closed: {:?}", String::from_utf8_lossy(&b)),
        }
    }
}

/// A `GET /hello` with `n` headers in all (`Host` included).
fn get_with_headers(addr: SocketAddr, n: usize) -> Reply {
    let mut request = String::from("GET /hello HTTP/1.1\r\nHost: t\r\n");
    for i in 1..n {
        request.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    let mut c = RawHttp::connect(addr);
    c.send(request.as_bytes()).expect("send");
    c.read()
}

fn too_many_headers_are_431(rt: Runtime) {
    let s = tight(rt);
    let Reply::Response(r) = get_with_headers(s.addr, 10) else {
        panic!("closed");
    };
    assert_eq!(status(&r), "HTTP/1.1 200 OK");
    let Reply::Response(r) = get_with_headers(s.addr, 11) else {
        panic!("closed");
    };
    assert_eq!(status(&r), "HTTP/1.1 431 Request Header Fields Too Large");
}

/// A `GET /hello` with one header line (`X-Big: vvv…`) of exactly `len` bytes.
fn get_with_header_line(addr: SocketAddr, len: usize) -> Reply {
    let value = "v".repeat(len - "X-Big: ".len());
    let request = format!("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: {value}\r\n\r\n");
    let mut c = RawHttp::connect(addr);
    c.send(request.as_bytes()).expect("send");
    c.read()
}

fn a_large_header_is_431(rt: Runtime) {
    let s = tight(rt);
    let Reply::Response(r) = get_with_header_line(s.addr, 512) else {
        panic!("closed");
    };
    assert_eq!(status(&r), "HTTP/1.1 200 OK");
    let Reply::Response(r) = get_with_header_line(s.addr, 513) else {
        panic!("closed");
    };
    assert_eq!(status(&r), "HTTP/1.1 431 Request Header Fields Too Large");
    assert_eq!(
        r.body,
        br#"{"error":"Request Header Fields Too Large","code":431}"#
    );
}

fn a_head_over_the_whole_budget_is_431(rt: Runtime) {
    // The budget is 1026 + 10 × 514 + 2 = 6168 bytes: hyper stops buffering there and
    // answers itself, whatever else the head holds.
    let s = tight(rt);
    let Reply::Response(r) = get_with_header_line(s.addr, 6200) else {
        panic!("closed");
    };
    assert_eq!(status(&r), "HTTP/1.1 431 Request Header Fields Too Large");
}

fn a_slow_head_is_closed(rt: Runtime) {
    let s = tight(rt);
    let mut c = RawHttp::connect(s.addr);
    c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n").expect("send");
    // Slowloris: one more header line now and then, never the blank line.
    let trickle = {
        let mut writer = std::net::TcpStream::connect(s.addr).expect("connect");
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = writer.write_all(b"GET /hello HTTP/1.1\r\nHost: berth.test\r\n");
            for i in 0..20 {
                std::thread::sleep(Duration::from_millis(50));
                if writer
                    .write_all(format!("X-{i}: x\r\n").as_bytes())
                    .is_err()
                {
                    return i;
                }
            }
            20
        })
    };
    let (after, sent) = c.closed_after();
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    assert!(
        after >= Duration::from_millis(250) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
    // The trickling client is cut off too, well before its 20 lines (1 s) are out.
    let lines = trickle.join().expect("trickle thread");
    assert!(lines < 20, "the trickle got all its lines out");
}

fn a_slow_body_is_408(rt: Runtime) {
    let s = tight(rt);
    let mut c = RawHttp::connect(s.addr);
    c.send(b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly ten b")
        .expect("send");
    let r = c.response();
    assert_eq!(status(&r), "HTTP/1.1 408 Request Timeout");
    assert_eq!(r.body, br#"{"error":"Request Timeout","code":408}"#);
}

fn an_idle_keep_alive_connection_is_closed(rt: Runtime) {
    let s = tight(rt);
    let mut c = RawHttp::connect(s.addr);
    let r = c.get("/hello");
    assert_eq!(status(&r), "HTTP/1.1 200 OK");
    assert!(kept_alive(&r), "keep-alive is the default: {:?}", r.headers);
    // A second request in time is served on the same connection.
    assert_eq!(status(&c.get("/hello")), "HTTP/1.1 200 OK");
    let (after, sent) = c.closed_after();
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    assert!(
        after >= Duration::from_millis(250) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
}

fn the_last_keep_alive_request_says_close(rt: Runtime) {
    let s = tight(rt);
    let mut c = RawHttp::connect(s.addr);
    for _ in 0..2 {
        let r = c.get("/hello");
        assert_eq!(status(&r), "HTTP/1.1 200 OK");
        assert!(kept_alive(&r), "{:?}", r.headers);
    }
    let third = c.get("/hello");
    assert_eq!(status(&third), "HTTP/1.1 200 OK");
    assert_eq!(third.header("connection"), Some("close"));
    let (after, sent) = c.closed_after();
    assert!(sent.is_empty());
    assert!(after < Duration::from_millis(250), "closed after {after:?}");
}

fn pipelined_requests_are_answered_in_order(rt: Runtime) {
    let s = tight(rt);
    let mut c = RawHttp::connect(s.addr);
    // Two requests in one write: two answers, in order, on the same connection.
    c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let first = c.response();
    assert_eq!(status(&first), "HTTP/1.1 200 OK");
    assert_eq!(first.body, br#"{"message":"Hello, World!"}"#);
    let second = c.response();
    assert_eq!(status(&second), "HTTP/1.1 404 Not Found");
    assert!(kept_alive(&second), "{:?}", second.headers);
    // The third is the last this connection may carry (max_keep_alive_requests = 3).
    let third = c.get("/hello");
    assert_eq!(third.header("connection"), Some("close"));
}

fn a_header_line_without_a_colon_is_400(rt: Runtime) {
    let mut c = RawHttp::connect(tight(rt).addr);
    c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nNo colon\r\n\r\n")
        .expect("send");
    assert_eq!(status(&c.response()), "HTTP/1.1 400 Bad Request");
}

fn content_length_beside_chunked_never_keeps_the_connection(rt: Runtime) {
    // Request smuggling: RFC 9112 §6.3 lets a server refuse this (400, the embedded
    // runtime) or read the body as chunked (hyper), but either way it MUST close the
    // connection after answering, so no second request can hide in the body.
    let mut c = RawHttp::connect(tight(rt).addr);
    c.send(
        b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\
          Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .expect("send");
    let r = c.response();
    assert!(
        [
            "HTTP/1.1 400 Bad Request",
            "HTTP/1.1 405 Method Not Allowed"
        ]
        .contains(&status(&r)),
        "{r:?}"
    );
    let (_, sent) = c.closed_after();
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
}

fn a_connection_flood_gets_503(rt: Runtime) {
    let s = four_connections(rt);
    // Three keep-alive connections and a WebSocket, each proven accepted by a reply.
    let mut held: Vec<RawHttp> = (0..3).map(|_| RawHttp::connect(s.addr)).collect();
    for c in &mut held {
        assert_eq!(status(&c.get("/hello")), "HTTP/1.1 200 OK");
    }
    let ws = ws_support::block_on(async {
        let mut ws = ws_support::Raw::connect(s.addr, "/ws/echo", None).await;
        ws.read_frame().await.expect("greeting");
        ws
    });
    // The fifth is refused, whatever it sends.
    for _ in 0..3 {
        let mut c = RawHttp::connect(s.addr);
        let _ = c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response();
        assert_eq!(status(&r), "HTTP/1.1 503 Service Unavailable");
        assert_eq!(r.body, br#"{"error":"Service Unavailable","code":503}"#);
        assert_eq!(c.closed_after().1, b"");
    }
    // Closing the WebSocket's socket frees a slot: a new client gets in once the
    // server has seen it go.
    drop(ws);
    let served = (0..200).any(|_| {
        let mut c = RawHttp::connect(s.addr);
        let _ = c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        match c.read() {
            Reply::Response(r) if r.status_line == "HTTP/1.1 200 OK" => true,
            Reply::Response(r) => {
                assert_eq!(r.status_line, "HTTP/1.1 503 Service Unavailable");
                std::thread::sleep(Duration::from_millis(10));
                false
            }
            Reply::Closed(b) => panic!("closed: {:?}", String::from_utf8_lossy(&b)),
        }
    });
    assert!(served, "the slot of the closed WebSocket was never freed");
    drop(held);
}

fn a_stalled_sse_client_frees_its_connection(rt: Runtime) {
    // The subscriber never reads; the publisher fills its socket and then its queue
    // until the hub drops it. Its connection must close then, not whenever hyper can
    // write again (never, for this client): with two connections allowed, a third
    // client only gets in once it has.
    let s = two_connections(rt);
    let mut stalled = RawHttp::connect(s.addr);
    stalled
        .send(b"GET /sse/stalled HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut publisher = RawHttp::connect(s.addr);
    let publish = |c: &mut RawHttp, data: &str| -> String {
        let request = format!(
            "POST /publish/stalled HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{data}",
            data.len()
        );
        c.send(request.as_bytes()).expect("publish");
        String::from_utf8_lossy(&c.response().body).into_owned()
    };
    // Wait until the subscription is live, then publish 64 KiB events until dropped.
    let live = (0..500).any(|_| {
        let reached = publish(&mut publisher, "hello") == r#"{"subscribers":1}"#;
        if !reached {
            std::thread::sleep(Duration::from_millis(10));
        }
        reached
    });
    assert!(live, "the subscription never went live");
    let big = "x".repeat(64 << 10);
    let dropped = (0..2000).any(|_| publish(&mut publisher, &big) == r#"{"subscribers":0}"#);
    assert!(dropped, "the stalled subscriber was never dropped");
    // The publisher's slot goes to a new client at once…
    drop(publisher);
    let try_publish = || {
        let mut c = RawHttp::connect(s.addr);
        let _ = c.send(b"POST /publish/other HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
        match c.read() {
            Reply::Response(r) if r.status_line == "HTTP/1.1 200 OK" => Some(c),
            _ => {
                std::thread::sleep(Duration::from_millis(10));
                None
            }
        }
    };
    let holder = (0..200).find_map(|_| try_publish());
    assert!(holder.is_some(), "the publisher's slot was never freed");
    // …and the stalled client's slot to another.
    let served = (0..200).find_map(|_| try_publish());
    assert!(
        served.is_some(),
        "the stalled client's connection was never closed"
    );
    // And the stalled client, reading at last, finds its connection closed.
    let (_, sent) = stalled.closed_after();
    assert!(sent.starts_with(b"HTTP/1.1 200 OK"));
}

/// The SDK's allocator starts in the initial page's free tail instead of growing the
/// memory on the first allocation (std's), so small plugins never need a second page:
/// 64 KiB saved per instance, which is what lets two plugins share a microcontroller.
fn small_plugins_serve_from_their_first_page(rt: Runtime) {
    let s = one_page(rt);
    let mut c = RawHttp::connect(s.addr);
    for _ in 0..20 {
        let r = c.get("/hello");
        assert_eq!(status(&r), "HTTP/1.1 200 OK");
        assert_eq!(r.body, br#"{"message":"Hello, World!"}"#);
    }
    let page = c.get("/chat");
    assert_eq!(status(&page), "HTTP/1.1 200 OK");
    assert!(
        String::from_utf8_lossy(&page.body).contains("WebSocket"),
        "the chat page"
    );
}
