//! Every WebSocket limit, provoked from a client and observed as its close code or
//! status; shutdown; and a crowd of clients at once (1,000 on the server).

mod ws_support;

use std::time::{Duration, Instant};

use berth_tests::{config, Runtime, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;
use ws_support::*;

/// ws-echo with a fast keepalive and a small send queue, plus metrics to see counts.
fn tight(rt: Runtime) -> &'static TestServer {
    rt.shared("tight", || {
        config(
            r#"
            [plugins]
            load = ["metrics", "ws-echo"]
            [limits]
            ws_ping_interval = 0.1
            ws_pong_timeout = 0.4
            ws_send_queue = 65536
            "#,
            rt,
        )
    })
}

berth_tests::per_runtime!(
    a_message_over_the_limit_closes_1009,
    a_frame_over_the_limit_closes_1009,
    protocol_violations_close_1002,
    invalid_utf8_closes_1007,
    a_silent_client_is_closed_1011_and_a_live_one_kept,
    a_client_that_does_not_read_is_closed_1008,
    data_and_rooms_a_plugin_holds_are_bounded,
    the_connection_cap_answers_503,
    shutdown_closes_every_socket_with_1001,
    a_crowd_of_clients_each_get_every_echo,
);

fn a_message_over_the_limit_closes_1009(rt: Runtime) {
    let server = tight(rt);
    block_on(async {
        // A whole message just under the limit (64 KiB by default) is fine.
        let mut ws = connect(&server.ws_url("/ws/echo")).await;
        assert_eq!(recv_text(&mut ws).await, "Welcome!");
        let fits = "y".repeat((64 << 10) - 6);
        send(&mut ws, &fits).await;
        assert_eq!(recv_text(&mut ws).await.len(), fits.len() + "Echo: ".len());
        // Fragments that add up to more are not.
        let fragment = "x".repeat(40 << 10);
        let mut raw = Raw::connect(server.addr, "/ws/echo", None).await;
        raw.read_frame().await.expect("greeting");
        raw.frame(false, false, 0x1, fragment.as_bytes()).await;
        raw.frame(true, false, 0x0, fragment.as_bytes()).await;
        assert_eq!(raw.expect_close().await, 1009);
    });
}

fn a_frame_over_the_limit_closes_1009(rt: Runtime) {
    let server = tight(rt);
    block_on(async {
        let mut ws = connect(&server.ws_url("/ws/echo")).await;
        assert_eq!(recv_text(&mut ws).await, "Welcome!");
        send(&mut ws, &"z".repeat(70 << 10)).await;
        assert_eq!(expect_close(&mut ws).await.0, 1009);
    });
}

fn protocol_violations_close_1002(rt: Runtime) {
    let server = tight(rt);
    block_on(async {
        // RSV1 without a negotiated extension.
        let mut raw = Raw::connect(server.addr, "/ws/echo", None).await;
        raw.read_frame().await.expect("greeting");
        raw.frame(true, true, 0x1, b"compressed?").await;
        assert_eq!(raw.expect_close().await, 1002);
        // A reserved opcode.
        let mut raw = Raw::connect(server.addr, "/ws/echo", None).await;
        raw.read_frame().await.expect("greeting");
        raw.frame(true, false, 0x3, b"?").await;
        assert_eq!(raw.expect_close().await, 1002);
        // A client frame without a mask (RFC 6455 §5.1: the server must fail it).
        let mut raw = Raw::connect(server.addr, "/ws/echo", None).await;
        raw.read_frame().await.expect("greeting");
        raw.write_frame(true, false, 0x1, b"bare", None).await;
        assert_eq!(raw.expect_close().await, 1002);
        // A continuation with nothing to continue.
        let mut raw = Raw::connect(server.addr, "/ws/echo", None).await;
        raw.read_frame().await.expect("greeting");
        raw.frame(true, false, 0x0, b"orphan").await;
        assert_eq!(raw.expect_close().await, 1002);
    });
}

fn invalid_utf8_closes_1007(rt: Runtime) {
    let server = tight(rt);
    block_on(async {
        let mut raw = Raw::connect(server.addr, "/ws/echo", None).await;
        raw.read_frame().await.expect("greeting");
        raw.frame(true, false, 0x1, &[b'o', b'k', 0xFF, 0xFE]).await;
        assert_eq!(raw.expect_close().await, 1007);
    });
}

fn a_silent_client_is_closed_1011_and_a_live_one_kept(rt: Runtime) {
    let server = tight(rt);
    block_on(async {
        // The raw client reads the server's pings but never answers them. The clock
        // starts before the handshake: the server's cannot start any earlier.
        let started = Instant::now();
        let mut silent = Raw::connect(server.addr, "/ws/echo", None).await;
        assert_eq!(silent.expect_close().await, 1011);
        assert!(started.elapsed() >= Duration::from_millis(400));

        // tungstenite answers pings while it reads: the connection outlives the timeout.
        let mut live = connect(&server.ws_url("/ws/echo")).await;
        assert_eq!(recv_text(&mut live).await, "Welcome!");
        let keepalive = Duration::from_millis(1200);
        let pings = tokio::time::timeout(keepalive, async {
            let mut pings = 0;
            while let Some(Ok(message)) = live.next().await {
                if message.is_ping() {
                    pings += 1;
                }
            }
            pings
        })
        .await;
        assert!(pings.is_err(), "the live connection ended early: {pings:?}");
        send(&mut live, "still here").await;
        assert_eq!(recv_text(&mut live).await, "Echo: still here");
    });
}

fn data_and_rooms_a_plugin_holds_are_bounded(rt: Runtime) {
    // Each `hoard data` entry costs its key (2 bytes), its value (100) and 64 bytes of
    // bookkeeping: 166 bytes, so 6 fit in 1,000 and the 7th does not.
    let server = rt.shared("hoard", || {
        config(
            "[plugins]\nload = [\"misbehave\"]\n[limits]\nws_max_data = 1000\nws_max_rooms = 3\n",
            rt,
        )
    });
    let url = server.ws_url("/ws/misbehave");
    block_on(async {
        for (within, over) in [
            ("hoard data 6 100", "hoard data 7 100"),
            ("hoard rooms 3", "hoard rooms 4"),
        ] {
            let mut ws = connect(&url).await;
            send(&mut ws, within).await;
            let n = within.split(' ').nth(2).unwrap_or_default();
            assert_eq!(
                recv_text(&mut ws).await,
                format!("accepted {n}"),
                "{within}"
            );
            // Writing the same again holds nothing more.
            send(&mut ws, within).await;
            assert_eq!(
                recv_text(&mut ws).await,
                format!("accepted {n}"),
                "{within} again"
            );
            send(&mut ws, over).await;
            assert_eq!(
                expect_close(&mut ws).await,
                (1008, "Connection data over limit".to_string()),
                "{over}"
            );
        }
        // The limit is per connection: a new one starts empty.
        let mut ws = connect(&url).await;
        send(&mut ws, "hoard data 6 100").await;
        assert_eq!(recv_text(&mut ws).await, "accepted 6");
    });
}

fn a_client_that_does_not_read_is_closed_1008(rt: Runtime) {
    let server = tight(rt);
    block_on(async {
        // The laggard reads slowly through a small socket buffer; the talker floods the
        // room. The laggard's queue (64 KiB) overflows and it is cut off with 1008.
        let mut laggard = Raw::connect(server.addr, "/ws/chat", Some(4096)).await;
        let talker = connect(&server.ws_url("/ws/chat")).await;
        let (mut tx, mut rx) = talker.split();
        let drain = tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
        let flood = tokio::spawn(async move {
            let chunk = "f".repeat(16 << 10);
            for _ in 0..400 {
                if tx.send(Message::text(chunk.clone())).await.is_err() {
                    break;
                }
            }
            tx
        });
        let code = tokio::time::timeout(WAIT, async {
            let mut buf = vec![0u8; 1024];
            let mut seen = Vec::new();
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let n = laggard.stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "connection ended without a close frame");
                seen.extend_from_slice(&buf[..n]);
                if let Some(code) = close_code_in(&mut seen) {
                    return code;
                }
            }
        })
        .await
        .expect("the laggard was never closed");
        assert_eq!(code, 1008);
        let _ = flood.await;
        drain.abort();
    });
}

/// Consumes whole frames from the front of `buf`; the close code once a close frame is
/// complete.
fn close_code_in(buf: &mut Vec<u8>) -> Option<u16> {
    loop {
        if buf.len() < 2 {
            return None;
        }
        let (opcode, short) = (buf[0] & 0x0F, (buf[1] & 0x7F) as usize);
        let (header, len) = match short {
            126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
            127 if buf.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[2..10]);
                (10, u64::from_be_bytes(b) as usize)
            }
            126 | 127 => return None,
            n => (2, n),
        };
        if buf.len() < header + len {
            return None;
        }
        if opcode == 0x8 {
            return Some(u16::from_be_bytes([buf[header], buf[header + 1]]));
        }
        buf.drain(..header + len);
    }
}

fn the_connection_cap_answers_503(rt: Runtime) {
    let server = rt
        .start(config(
            "[plugins]\nload = [\"ws-echo\"]\n[limits]\nws_max_connections = 2\n",
            rt,
        ))
        .expect("server");
    block_on(async {
        let mut first = connect(&server.ws_url("/ws/echo")).await;
        let _second = connect(&server.ws_url("/ws/echo")).await;
        assert_eq!(refused_status(&server.ws_url("/ws/echo")).await, 503);
        close_normally(&mut first).await;
        assert_eq!(expect_close(&mut first).await.0, 1000);
        // The slot frees once the server has finished with the first connection.
        let deadline = Instant::now() + WAIT;
        loop {
            match tokio_tungstenite::connect_async(server.ws_url("/ws/echo")).await {
                Ok(_) => break,
                Err(_) if Instant::now() < deadline => tokio::task::yield_now().await,
                Err(e) => panic!("the slot never freed: {e}"),
            }
        }
    });
}

fn shutdown_closes_every_socket_with_1001(rt: Runtime) {
    // The embedded runtime has no ws_port (`config` drops it): its routed socket only.
    let server = rt
        .start(config(
            "[server]\nws_port = 0\n[plugins]\nload = [\"chat\", \"ws-echo\"]\n",
            rt,
        ))
        .expect("server");
    block_on(async {
        let mut routed = connect(&server.ws_url("/ws/echo")).await;
        assert_eq!(recv_text(&mut routed).await, "Welcome!");
        let mut dedicated = match server.ws_addr {
            Some(_) => Some(connect(&server.ws_port_url("/")).await),
            None => None,
        };
        if let Some(dedicated) = &mut dedicated {
            send(dedicated, "hi").await;
            assert_eq!(recv_text(dedicated).await, "hi");
        }

        server.shutdown();
        let expected = (1001, "Server shutting down".to_string());
        assert_eq!(expect_close(&mut routed).await, expected);
        if let Some(dedicated) = &mut dedicated {
            assert_eq!(expect_close(dedicated).await, expected);
        }
    });
    assert!(
        server.wait_stopped(Duration::from_secs(15)),
        "run() did not return"
    );
}

fn a_crowd_of_clients_each_get_every_echo(rt: Runtime) {
    // A thousand on the server; the embedded runtime polls at most 64 connection slots
    // (`DesktopConfig::options`), so 60 there, with room for the metrics requests.
    let crowd = if rt.is_embedded() { 60 } else { 1000 };
    const MESSAGES: usize = 5;
    let server = rt
        .start(config("[plugins]\nload = [\"metrics\", \"ws-echo\"]\n", rt))
        .expect("server");
    let url = server.ws_url("/ws/echo");
    let received = block_on(async {
        let clients = (0..crowd).map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let mut ws = connect(&url).await;
                assert_eq!(recv_text(&mut ws).await, "Welcome!");
                let mut got = 0;
                for m in 0..MESSAGES {
                    let text = format!("client {i} message {m}");
                    send(&mut ws, &text).await;
                    assert_eq!(recv_text(&mut ws).await, format!("Echo: {text}"));
                    got += 1;
                }
                close_normally(&mut ws).await;
                assert_eq!(expect_close(&mut ws).await.0, 1000);
                got
            })
        });
        let mut received = 0;
        for client in futures_util::future::join_all(clients).await {
            received += client.expect("client task");
        }
        received
    });
    assert_eq!(received, crowd * MESSAGES);

    // Every connection is gone from the server once its close handshake is over.
    let metrics = |server: &TestServer| -> Value {
        reqwest::blocking::get(server.url("/metrics"))
            .expect("GET /metrics")
            .json()
            .expect("JSON")
    };
    let deadline = Instant::now() + WAIT;
    let mut last = metrics(&server);
    while last["ws_connections"] != 0 && Instant::now() < deadline {
        std::thread::yield_now();
        last = metrics(&server);
    }
    assert_eq!(last["ws_connections"], 0, "connections left open: {last}");
    assert_eq!(last["ws_messages"], crowd * MESSAGES);
}
