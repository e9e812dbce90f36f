//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::WsEcho;

#[test]
fn echo_routes() {
    let app = TestApp::new::<WsEcho>();
    let ws = app.ws("/ws").expect("open");
    assert_eq!(ws.recv_text().as_deref(), Some("Connected!"));
    ws.send("hi");
    assert_eq!(ws.recv_text().as_deref(), Some("Echo: hi"));
    ws.send(vec![1u8, 2]);
    assert_eq!(ws.recv(), Some(Payload::Binary(vec![1, 2])));
    ws.send("bye");
    assert_eq!(ws.closed(), Some((1000, "Normal closure".to_string())));

    let echo = app.ws("/ws/echo").expect("open");
    assert_eq!(echo.recv_text().as_deref(), Some("Welcome!"));
    echo.send("x");
    assert_eq!(echo.recv_text().as_deref(), Some("Echo: x"));

    let bin = app.ws("/ws/binary").expect("open");
    bin.send(vec![0x00u8, 0xF0]);
    bin.send("ignored");
    assert_eq!(bin.drain(), vec![Payload::Binary(vec![0xFF, 0x0F])]);

    let raw = app.ws("/ws/raw").expect("open");
    raw.send("as is");
    assert_eq!(raw.recv_text().as_deref(), Some("as is"));

    assert_eq!(app.ws("/ws/none").err().map(|r| r.status), Some(404));
}

#[test]
fn chat_reaches_everyone_including_the_sender() {
    let app = TestApp::new::<WsEcho>();
    let a = app.ws("/ws/chat").expect("open");
    let b = app.ws("/ws/chat").expect("open");
    let other = app.ws("/ws/echo").expect("open");
    other.recv();
    a.send("hello");
    assert_eq!(a.recv_text().as_deref(), Some("hello"));
    assert_eq!(b.recv_text().as_deref(), Some("hello"));
    assert_eq!(other.recv(), None);
}
