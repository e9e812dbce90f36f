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

fn echo(_ws: Conn, m: &WsMessage) -> Outcome {
    match &m.payload {
        Payload::Text(text) => Outcome::reply(format!("Echo: {text}")),
        Payload::Binary(bytes) => Outcome::reply(bytes.clone()),
    }
}

impl Plugin for WsEcho {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.websocket("/ws")
            .on_connect(|ws, _| ws.send("Connected!"))
            .on_message(|ws, m| match m.text() {
                Some("bye") => ws.close(1000, "Normal closure").into(),
                _ => echo(ws, m),
            });

        app.websocket("/ws/echo")
            .on_connect(|ws, _| ws.send("Welcome!"))
            .on_message(echo);

        app.websocket("/ws/binary")
            .on_message(|_, m| match m.binary() {
                Some(bytes) => Outcome::reply(bytes.iter().map(|b| b ^ 0xFF).collect::<Vec<u8>>()),
                None => Outcome::none(),
            });

        app.websocket("/ws/chat")
            .on_connect(|ws, _| ws.join(CHAT_ROOM))
            .on_message(|_, m| {
                ws::broadcast(Some(CHAT_ROOM), m.payload.clone(), None);
            });
        app.websocket("/ws/raw")
            .on_message(|_, m| Outcome::reply(m.payload.clone()));
        Ok(())
    }
}

berth_sdk::export_plugin!(WsEcho);

#[cfg(test)]
mod tests;
