//! permessage-deflate (RFC 7692), from outside: a raw-socket client that sees each
//! frame's RSV1 bit and Python's `websockets` (`tests/py/ws_deflate.py`), and headless
//! Chromium (`tests/py/browser_deflate.py`). The server runtime negotiates it (on by
//! default), compresses echoes and broadcasts, and closes a zip bomb with 1009 by its
//! inflated size; `permessage_deflate = false` and the embedded runtime (no deflate)
//! leave the extension out of the `101`.

use berth_tests::{config, per_runtime, python, Runtime, TestServer};

per_runtime!(
    compression_is_negotiated_and_bounded_by_the_inflated_size,
    chromium_round_trips_compressed_messages,
    off_by_config_the_extension_is_never_agreed: embedded_skip("the embedded runtime has no [server.websocket]: it never negotiates (see the first case)"),
);

/// ws-echo with the default limits (64 KiB messages and frames).
fn echo(rt: Runtime, extra: &str) -> TestServer {
    rt.start(config(
        &format!("[plugins]\nload = [\"ws-echo\"]\n{extra}"),
        rt,
    ))
    .expect("server")
}

const LIMIT: usize = 64 << 10;

fn base(server: &TestServer) -> String {
    server.ws_url("")
}

fn compression_is_negotiated_and_bounded_by_the_inflated_size(rt: Runtime) {
    let server = echo(rt, "");
    let limit = LIMIT.to_string();
    if rt.is_embedded() {
        let out = python("ws_deflate.py", &["declined", &base(&server), &limit]);
        assert_eq!(out.lines().collect::<Vec<_>>(), declined(), "{out}");
        return;
    }
    // The server runs in this process: its peak memory must not grow by the ~60 MiB
    // the first bomb would inflate to (other cases here hold far less).
    let peak_before = peak_rss();
    let out = python("ws_deflate.py", &["on", &base(&server), &limit]);
    let grew = peak_rss().saturating_sub(peak_before);
    println!("peak memory grew by {} KiB during the bombs", grew >> 10);
    assert!(grew < 40 << 20, "peak memory grew by {grew} bytes:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    let bomb = lines
        .iter()
        .position(|l| l.starts_with("bomb: "))
        .expect("bomb line");
    assert!(lines[bomb].starts_with("bomb: True"), "{out}");
    let mut rest = lines.clone();
    rest.remove(bomb);
    assert_eq!(
        rest,
        [
            "raw 101: permessage-deflate; client_max_window_bits=15",
            "raw echo 0: opcode 1, compressed True, same True",
            "raw echo 1: opcode 1, compressed True, same True",
            "raw echo 2: opcode 1, compressed True, same True",
            "raw plain: opcode 2, same True",
            "chat 101: permessage-deflate | permessage-deflate; server_no_context_takeover",
            "broadcast to one: compressed True, same True",
            "broadcast to two: compressed True, same True",
            "bomb close: 1009",
            "fragmented bomb close: 1009",
            "at the limit: compressed True, same True",
            "websockets 101: permessage-deflate; client_max_window_bits=15",
            "websockets echo: True",
            "websockets bomb close: 1009",
        ],
        "{out}"
    );
}

/// This process's peak resident memory (Linux's `VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        << 10
}

/// What a client sees where compression is not negotiated.
fn declined() -> Vec<&'static str> {
    vec![
        "raw 101: none",
        "raw echo: compressed False, same True",
        "rsv1 close: 1002",
        "websockets 101: None",
        "websockets echo: True",
    ]
}

fn off_by_config_the_extension_is_never_agreed(rt: Runtime) {
    let server = echo(rt, "[server.websocket]\npermessage_deflate = false\n");
    let out = python(
        "ws_deflate.py",
        &["off", &base(&server), &LIMIT.to_string()],
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), declined(), "{out}");
}

fn chromium_round_trips_compressed_messages(rt: Runtime) {
    let server = echo(
        rt,
        "[limits]\nws_max_message = 1048576\nws_max_frame = 1048576\n",
    );
    let out = python(
        "browser_deflate.py",
        &[&server.url("/"), &server.ws_url("/ws/raw")],
    );
    let extensions = if rt.is_embedded() {
        "extensions: "
    } else {
        "extensions: permessage-deflate; client_max_window_bits=15"
    };
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            extensions,
            "echoes: [True, True, True, True]",
            "close: 1000"
        ],
        "{out}"
    );
}
