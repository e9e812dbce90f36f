//! Seed 000's WebSocket examples as one plugin: per-connection names, `ping` → `pong`,
//! and the chat room (`join`, `message` to the others in the room, `sent` ack), plus a
//! small chat page at `GET /chat` that works in a browser.
//!
//! Messages it does not understand get no answer from it, so on the dedicated
//! WebSocket port they are echoed (seed 000's default). The page connects to the
//! dedicated port when the server has one, else to `/chat/ws` on the HTTP port.
use berth_sdk::prelude::*;

struct Chat;

/// Plugin-state key holding the dedicated WebSocket port, learnt at `server:start`.
const WS_PORT: &str = "ws_port";

const PAGE: &str = include_str!("chat.html");

fn username(ws: Conn) -> String {
    ws.data().get("username").unwrap_or_else(|| "anon".into())
}

fn on_message(ws: Conn, msg: &WsMessage) -> Outcome {
    let data = msg.data();
    match (data["type"].as_str(), data["action"].as_str()) {
        (Some("ping"), _) => Outcome::reply_json(&json!({"type": "pong"})).and_stop(),
        (Some("set_name"), _) => {
            let name = data["name"].as_str().unwrap_or("anonymous");
            ws.data().set("username", name).ok();
            Outcome::reply_json(&json!({"type": "name_set", "name": name})).and_stop()
        }
        (_, Some("join")) => {
            let room = data["room"].as_str().unwrap_or("general");
            // One room at a time: joining another leaves the previous one.
            if let Some(previous) = ws.data().get("room") {
                ws.leave(&previous).ok();
            }
            ws.data().set("room", room).ok();
            ws.join(room).ok();
            Outcome::reply_json(&json!({"action": "joined", "room": room})).and_stop()
        }
        (_, Some("message")) => {
            if let Some(room) = ws.data().get("room") {
                let message = json!({
                    "action": "message",
                    "from": username(ws),
                    "text": data["text"],
                });
                ws::broadcast_json(Some(&room), &message, Some(ws));
            }
            Outcome::reply_json(&json!({"action": "sent"})).and_stop()
        }
        _ => Outcome::none(),
    }
}

impl Plugin for Chat {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.on_start(|info| {
            let port = info.ws_addr.as_deref().and_then(|a| a.rsplit(':').next());
            match port {
                Some(port) => state::set(WS_PORT, port.as_bytes()),
                None => {
                    state::delete(WS_PORT);
                }
            }
        });
        app.on_ws_connect(|ws, _| ws.data().set("username", "anonymous"));
        app.on_ws_message(on_message);
        app.on_ws_disconnect(|ws, _| {
            if let Some(room) = ws.data().get("room") {
                ws.leave(&room).ok();
            }
            info!("client {} disconnected", username(ws));
        });
        // The page's fallback endpoint: the hooks above do the work on it too.
        app.websocket("/chat/ws");
        app.get("/chat", |_req| {
            let port = state::get_string(WS_PORT).unwrap_or_default();
            Response::html(PAGE.replace("{{WS_PORT}}", &port))
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Chat);

#[cfg(test)]
mod tests;
