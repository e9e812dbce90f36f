//! Graceful shutdown, once per runtime, each on a server of its own: the listener closes
//! at once, a request in flight finishes, and one that would outlast
//! `shutdown_timeout` is cut off, while idle keep-alive connections and event streams
//! end at once. (WebSockets closing with 1001 are in `ws_limits.rs`.)

use std::time::{Duration, Instant};

use berth_tests::raw::RawHttp;
use berth_tests::{config, per_runtime, Runtime, TestServer};

per_runtime!(
    an_open_request_finishes_and_new_ones_are_refused,
    shutdown_timeout_cuts_off_what_is_left,
    idle_connections_and_event_streams_end_at_once,
);

fn server(rt: Runtime, shutdown_timeout: f64) -> TestServer {
    let mut c = config("[plugins]\nload = [\"pubsub\"]\n", rt);
    c.shutdown_timeout = Duration::from_secs_f64(shutdown_timeout);
    rt.start(c).expect("start")
}

/// A `POST` whose body is still to come, proven to be in the server's hands: it asks
/// for `100 Continue`, which hyper sends only once the handler reads the body.
fn request_in_flight(server: &TestServer) -> RawHttp {
    let mut c = RawHttp::connect(server.addr);
    c.send(
        b"POST /publish/t HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .expect("send");
    let interim = c.response();
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    c
}

fn an_open_request_finishes_and_new_ones_are_refused(rt: Runtime) {
    let s = server(rt, 10.0);
    let mut open = request_in_flight(&s);
    s.shutdown();
    // The listener goes away at once.
    let started = Instant::now();
    while std::net::TcpStream::connect(s.addr).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepting after shutdown"
        );
        std::thread::yield_now();
    }
    // The request in flight still gets its answer, and then the server stops.
    open.send(b"hello").expect("rest of the body");
    let r = open.response();
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.body, br#"{"subscribers":0}"#);
    assert!(
        s.wait_stopped(Duration::from_secs(5)),
        "the server did not stop"
    );
}

fn shutdown_timeout_cuts_off_what_is_left(rt: Runtime) {
    let s = server(rt, 0.3);
    let mut stuck = request_in_flight(&s);
    let started = Instant::now();
    s.shutdown();
    assert!(
        s.wait_stopped(Duration::from_secs(5)),
        "the server did not stop"
    );
    let stopped = started.elapsed();
    assert!(
        stopped >= Duration::from_millis(250) && stopped < Duration::from_secs(3),
        "stopped after {stopped:?}"
    );
    // The client whose body never came is closed without an answer.
    let (_, sent) = stuck.closed_after();
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
}

fn idle_connections_and_event_streams_end_at_once(rt: Runtime) {
    // A grace far longer than the test: nothing here may wait for it.
    let s = server(rt, 30.0);
    let mut idle = RawHttp::connect(s.addr);
    // Any answer leaves the connection kept alive and idle.
    let r = idle.get("/nothing-here");
    assert_eq!(r.status_line, "HTTP/1.1 404 Not Found");
    let mut stream = RawHttp::connect(s.addr);
    stream
        .send(b"GET /sse/t HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    // The stream's head is out once the first bytes arrive.
    let mut first = [0u8; 12];
    std::io::Read::read_exact(stream.stream(), &mut first).expect("stream head");
    assert_eq!(&first, b"HTTP/1.1 200");
    let started = Instant::now();
    s.shutdown();
    let (_, sent) = idle.closed_after();
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    stream.closed_after();
    assert!(
        s.wait_stopped(Duration::from_secs(5)),
        "the server did not stop"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped after {:?}",
        started.elapsed()
    );
}
