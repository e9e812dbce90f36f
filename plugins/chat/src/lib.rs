//! Seed 000's WebSocket chat, on a WebSocket route (`/chat` by default, config `path`),
//! so it works on the HTTP port of any host, a microcontroller's included.
//!
//! JSON text messages:
//! - `{"type":"ping"}` → `{"type":"pong"}`;
//! - `{"type":"set_name","name":N}` → `{"type":"name_set","name":N}`;
//! - `{"action":"join","room":R}` → `{"action":"joined","room":R}`;
//! - `{"action":"message","text":T}` → every other member of the sender's room gets
//!   `{"action":"message","from":<name>,"text":T}`; the sender gets `{"action":"sent"}`.
//!
//! Anything else is echoed back unchanged (seed 000's default echo). Connections start as
//! `anonymous`; names and rooms are per-connection data in the host.
use berth_sdk::prelude::*;
use berth_sdk::ws;

struct Chat;

fn on_message(m: &WsMessage) -> Outcome {
    let data = m.data();
    let conn = m.conn;
    if data["type"] == "ping" {
        return Outcome::reply_json(&json!({"type": "pong"})).and_stop();
    }
    if data["type"] == "set_name" {
        let name = data["name"].as_str().unwrap_or("anonymous");
        ws::data_set(conn, "username", Some(name)).ok();
        return Outcome::reply_json(&json!({"type": "name_set", "name": name})).and_stop();
    }
    if data["action"] == "join" {
        let room = data["room"].as_str().unwrap_or("general");
        if let Some(old) = ws::data_get(conn, "room") {
            ws::leave(conn, &old).ok();
        }
        ws::join(conn, room).ok();
        ws::data_set(conn, "room", Some(room)).ok();
        return Outcome::reply_json(&json!({"action": "joined", "room": room})).and_stop();
    }
    if data["action"] == "message" {
        if let Some(room) = ws::data_get(conn, "room") {
            let from = ws::data_get(conn, "username").unwrap_or_else(|| "anon".into());
            let text = data["text"].clone();
            let msg = json!({"action": "message", "from": from, "text": text});
            ws::broadcast_json(Some(&room), &msg, Some(conn));
        }
        return Outcome::reply_json(&json!({"action": "sent"})).and_stop();
    }
    Outcome::reply(m.payload.clone())
}

impl Plugin for Chat {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let path = config.get_or("path", "/chat").to_string();
        app.websocket(&path, |ev| match ev {
            Event::WsConnect(c) => {
                ws::data_set(c.conn, "username", Some("anonymous")).ok();
                Outcome::none()
            }
            Event::WsMessage(m) => on_message(m),
            _ => Outcome::none(),
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Chat);
