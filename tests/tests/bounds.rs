//! Everything a plugin can make the host hold is bounded, driven from outside through
//! the `misbehave` plugin on every runtime (server·wasmtime, server·wasmi, embedded·wasmi):
//! state quotas (keys, bytes, value size: the plugin sees the error), SSE topics and
//! replay (a plugin spraying random topics cannot grow the host; a subscriber leaves with
//! its connection), timers (count and minimum interval), WebSocket queues (empty messages
//! cost something; close codes and reasons are sendable) and, on wasmi, lifting a guest
//! value that would make the host allocate more than the guest's memory.

#[allow(dead_code)]
#[path = "support/ws_client.rs"]
mod ws_client;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use berth_tests::http_client::client;
use berth_tests::{config, per_runtime, Runtime, TestServer};
use serde_json::Value;
use ws_client::WsClient;

/// The server for `(runtime, key)` with `limits` in `[limits]` (misbehave and pubsub
/// loaded), started once per test binary.
fn server(rt: Runtime, key: &str, extra: &str) -> &'static TestServer {
    let toml = format!("[plugins]\nload = [\"misbehave\", \"pubsub\"]\n{extra}\n");
    rt.shared(key, || config(&toml, rt))
}

fn post(s: &TestServer, path: &str) -> Value {
    let r = client().post(s.url(path)).send().expect("request");
    assert_eq!(r.status(), 200, "{path}");
    r.json().expect("json")
}

fn get(s: &TestServer, path: &str) -> (u16, String) {
    let r = client().get(s.url(path)).send().expect("request");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

// --- state ---------------------------------------------------------------------------

const STATE: &str =
    "[limits]\nstate_max_keys = 100\nstate_max_bytes = 65536\nstate_max_value = 4096\n";

fn state_key_count_is_bounded(rt: Runtime) {
    let s = server(rt, "state-keys", STATE);
    let v = post(s, "/fill?n=1000&size=1&prefix=k");
    assert_eq!(v["stored"], 100, "{v}");
    let err = v["error"].as_str().expect("the plugin saw an error");
    assert!(err.contains("state_max_keys"), "{err}");
    // Counters are keys too.
    let v = post(s, "/incr?n=5&prefix=c");
    assert_eq!(v["stored"], 0, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("state_max_keys"),
        "{v}"
    );
    // What was stored is still there; overwriting an existing key is allowed.
    let v = post(s, "/fill?n=1&size=2&prefix=k");
    assert_eq!(v["stored"], 1, "{v}");
    let (status, body) = get(s, "/state/plugin?key=k0");
    assert_eq!((status, body.as_str()), (200, r#"{"value":"vv"}"#));
}

fn state_bytes_and_value_size_are_bounded(rt: Runtime) {
    let s = server(rt, "state-bytes", STATE);
    let v = post(s, "/fill?n=1&size=4097&prefix=big");
    assert_eq!(v["stored"], 0, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("state_max_value"),
        "{v}"
    );
    let v = post(s, "/fill?n=100&size=4000&prefix=b");
    let stored = v["stored"].as_u64().expect("stored");
    // 65536 bytes hold 16 entries of ~4050 bytes: never all 100.
    assert!((10..=16).contains(&stored), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("state_max_bytes"),
        "{v}"
    );
}

// --- SSE -----------------------------------------------------------------------------

const SSE: &str = "[limits]\nsse_max_topics = 8\nsse_replay_bytes = 2048\n";

/// Subscribes to `topic` with `Last-Event-ID`, publishes a marker to it, and returns the
/// ids of every event the client got up to the marker: what was replayed.
fn replayed(s: &TestServer, topic: &str) -> Vec<String> {
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /sse/{topic} HTTP/1.1\r\nHost: t\r\nLast-Event-ID: unknown\r\n\r\n"
    )
    .expect("request");
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    while line != "\r\n" {
        line.clear();
        lines.read_line(&mut line).expect("head");
    }
    // The head is out: the subscription exists.
    let v = post(s, &format!("/publish?topic={topic}&n=1&size=1&id=marker"));
    assert_eq!(v["reached"], 1, "{v}");
    let mut ids = Vec::new();
    loop {
        line.clear();
        lines.read_line(&mut line).expect("event");
        if let Some(id) = line.trim_end().strip_prefix("id: ") {
            if id == "marker0" {
                return ids;
            }
            ids.push(id.to_string());
        }
    }
}

fn sse_topics_are_capped(rt: Runtime) {
    let s = server(rt, "sse-topics", SSE);
    // No subscriber anywhere: 1000 topics, each with one event kept for replay.
    let v = post(s, "/publish?topic=spray-{i}&n=1000&size=10&id=e");
    assert_eq!(v["reached"], 0, "{v}");
    // The first 8 topics are kept (with their replay) …
    assert_eq!(replayed(s, "spray-0"), ["e0"]);
    // … and the rest were never held.
    assert!(replayed(s, "spray-999").is_empty());
}

fn sse_replay_bytes_are_capped(rt: Runtime) {
    let s = server(rt, "sse-replay", SSE);
    post(s, "/publish?topic=ring&n=100&size=100&id=r");
    let kept = replayed(s, "ring");
    // ~170 bytes an event (frame + overhead) in 2048 bytes: the newest dozen at most.
    assert!(!kept.is_empty() && kept.len() <= 12, "{kept:?}");
    assert_eq!(kept.last().map(String::as_str), Some("r99"));
}

fn sse_subscriber_leaves_with_its_connection(rt: Runtime) {
    // Room for two topics, each keeping a small event but never a 300-byte one.
    let s = server(
        rt,
        "sse-leave",
        "[limits]\nsse_max_topics = 2\nsse_replay_bytes = 200\n[sse]\nheartbeat = 0.1\n",
    );
    // Two subscribers hold both topics, then hang up; a large event reaches each
    // while it is there and is not kept.
    for topic in ["gone-a", "gone-b"] {
        let mut stream = TcpStream::connect(s.addr).expect("connect");
        write!(stream, "GET /sse/{topic} HTTP/1.1\r\nHost: t\r\n\r\n").expect("request");
        let mut lines = BufReader::new(stream);
        let mut line = String::new();
        while line != "\r\n" {
            line.clear();
            lines.read_line(&mut line).expect("head");
        }
        let v = post(s, &format!("/publish?topic={topic}&n=1&size=300"));
        assert_eq!(v["reached"], 1, "{v}");
    }
    std::thread::sleep(Duration::from_millis(500));
    // Their topics went with them: two new topics are kept, with their replay.
    post(s, "/publish?topic=kept-c&n=1&size=1&id=c");
    post(s, "/publish?topic=kept-d&n=1&size=1&id=d");
    assert_eq!(replayed(s, "kept-c"), ["c0"]);
    assert_eq!(replayed(s, "kept-d"), ["d0"]);
}

// --- timers --------------------------------------------------------------------------

fn timer_count_is_bounded(rt: Runtime) {
    let s = server(
        rt,
        "timers-count",
        "[limits]\nmax_timers = 2\n[plugin.misbehave]\nextra_timers = 5\nextra_timer_ms = 20\n",
    );
    std::thread::sleep(Duration::from_millis(600));
    let (status, body) = get(s, "/timers");
    assert_eq!((status, body.as_str()), (200, r#"{"ticking":2}"#));
}

fn timer_min_interval_is_enforced(rt: Runtime) {
    let s = server(
        rt,
        "timers-interval",
        "[limits]\ntimer_min_interval = 0.5\n[plugin.misbehave]\nextra_timers = 3\nextra_timer_ms = 20\n",
    );
    std::thread::sleep(Duration::from_millis(400));
    let (status, body) = get(s, "/timers");
    assert_eq!((status, body.as_str()), (200, r#"{"ticking":0}"#));
}

// --- WebSocket -----------------------------------------------------------------------

const WS: &str = "[limits]\nws_send_queue = 16384\n";

/// The next close frame's code and reason, skipping data frames; `None` for a bare close.
fn close_of(ws: &mut WsClient) -> (Option<u16>, String) {
    loop {
        let (op, payload) = ws.recv();
        if op == 8 {
            let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            let reason = String::from_utf8(payload.get(2..).unwrap_or_default().to_vec())
                .expect("a close reason is UTF-8");
            return (code, reason);
        }
    }
}

fn empty_messages_fill_the_queue(rt: Runtime) {
    let s = server(rt, "ws", WS);
    let mut ws = WsClient::connect(s.addr, "/ws/misbehave");
    // 100 000 empty messages queued inside one plugin call cost their overhead, so the
    // 16 KiB queue overflows and the client is closed with 1008. On the server, whose
    // writer drains the queue meanwhile, an 8 MiB message the client does not read
    // first keeps the writer busy (the client gets the close after it).
    let big = match rt {
        Runtime::ServerWasmtime | Runtime::ServerWasmi => 8 << 20,
        Runtime::EmbeddedWasmi => 0,
    };
    ws.send_text(&format!("flood 100000 {big}"));
    std::thread::sleep(Duration::from_millis(300));
    let (code, _) = close_of(&mut ws);
    assert_eq!(code, Some(1008));
}

fn close_codes_and_reasons_are_sendable(rt: Runtime) {
    let s = server(rt, "ws", WS);
    for (asked, sent) in [
        (4000, 4000),
        (1001, 1001),
        (1005, 1000),
        (1006, 1000),
        (1015, 1000),
        (999, 1000),
        (5000, 1000),
    ] {
        let mut ws = WsClient::connect(s.addr, "/ws/misbehave");
        // 200 two-byte characters: 400 bytes of reason, cut to ≤ 123 on a boundary.
        ws.send_text(&format!("close {asked} 200"));
        let (code, reason) = close_of(&mut ws);
        assert_eq!(code, Some(sent), "asked {asked}");
        assert!(
            reason.len() <= 123 && reason.len() >= 120,
            "{}",
            reason.len()
        );
        assert!(reason.chars().all(|c| c == 'é'));
    }
}

// --- wasmi lifting -------------------------------------------------------------------

fn lifting_is_charged_for_host_allocations(rt: Runtime) {
    // `max_response_headers` is raised so that what is measured here is the lifting.
    let s = server(rt, "lift", "[limits]\nmax_response_headers = 5000");
    // 200 000 empty headers: 64 bytes each in the guest (its vector, and the lowered
    // list), so ~13 MiB of its 16 MiB; but every one is three values on the host (the
    // list slot and a record of two), ~19 MiB, more than the guest holds. Refused: 500.
    let (status, _) = get(s, "/headers?n=200000");
    assert_eq!(status, 500);
    // The same response with a few thousand such headers lifts (what is wrong with them
    // is the host's business after lifting, not a refusal of the value).
    let (status, _) = get(s, "/headers?n=2000");
    assert_ne!(status, 500);
    // The plugin and the server carry on.
    let (status, body) = get(s, "/ok");
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
}

per_runtime!(
    state_key_count_is_bounded,
    state_bytes_and_value_size_are_bounded,
    sse_topics_are_capped,
    sse_replay_bytes_are_capped,
    sse_subscriber_leaves_with_its_connection,
    timer_count_is_bounded,
    timer_min_interval_is_enforced,
    empty_messages_fill_the_queue,
    close_codes_and_reasons_are_sendable,
);

/// wasmtime lifts through its own canonical ABI; the charge is the wasmi engine's, so
/// this case runs where wasmi does.
mod wasmi_lifting {
    #[test]
    fn server() {
        super::lifting_is_charged_for_host_allocations(berth_tests::Runtime::ServerWasmi);
    }
    #[test]
    fn embedded() {
        super::lifting_is_charged_for_host_allocations(berth_tests::Runtime::EmbeddedWasmi);
    }
}
