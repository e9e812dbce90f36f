//! Seed 002's WebSocket examples, on the HTTP port:
//!
//! - `/ws`: "Connected!" on connect; `bye` closes with 1000 "Normal closure"; anything
//!   else comes back as `Echo: <msg>` (binary comes back unchanged);
//! - `/ws/echo` (the Full Example): "Welcome!" on connect, then `Echo: <msg>`;
//! - `/ws/binary`: every binary message comes back with each byte inverted (`b ^ 0xFF`);
//!   text is ignored;
//! - `/ws/chat`: every message goes to every client of `/ws/chat`, the sender included;
//! - `/ws/raw`: every message comes back exactly as it came (text as text, binary as
//!   binary), no greeting: the plain echo the Autobahn TestSuite drives
//!   (`tests/tests/autobahn.rs`).
use berth_sdk::prelude::*;

struct WsEcho;

/// The room that groups the clients of `/ws/chat`.
const CHAT_ROOM: &str = "ws-echo:chat";

fn echo(m: &WsMessage) -> Outcome {
    match &m.payload {
        Payload::Text(text) => Outcome::reply(format!("Echo: {text}")),
        Payload::Binary(bytes) => Outcome::reply(bytes.clone()),
    }
}

impl Plugin for WsEcho {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.websocket("/ws", |ev| match ev {
            Event::WsConnect(c) => {
                ws::send(c.conn, "Connected!").ok();
                Outcome::none()
            }
            Event::WsMessage(m) if m.text() == Some("bye") => {
                ws::close(m.conn, 1000, "Normal closure").ok();
                Outcome::none()
            }
            Event::WsMessage(m) => echo(m),
            _ => Outcome::none(),
        });

        app.websocket("/ws/echo", |ev| match ev {
            Event::WsConnect(c) => {
                ws::send(c.conn, "Welcome!").ok();
                Outcome::none()
            }
            Event::WsMessage(m) => echo(m),
            _ => Outcome::none(),
        });

        app.websocket("/ws/binary", |ev| match ev {
            Event::WsMessage(m) => match m.binary() {
                Some(bytes) => Outcome::reply(bytes.iter().map(|b| b ^ 0xFF).collect::<Vec<u8>>()),
                None => Outcome::none(),
            },
            _ => Outcome::none(),
        });

        app.websocket("/ws/chat", |ev| {
            match ev {
                Event::WsConnect(c) => {
                    ws::join(c.conn, CHAT_ROOM).ok();
                }
                Event::WsMessage(m) => {
                    ws::broadcast(Some(CHAT_ROOM), m.payload.clone(), None);
                }
                _ => {}
            }
            Outcome::none()
        });
        app.websocket("/ws/raw", |ev| match ev {
            Event::WsMessage(m) => Outcome::reply(m.payload.clone()),
            _ => Outcome::none(),
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(WsEcho);
