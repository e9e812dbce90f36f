//! __NAME__: a Berth plugin with a WebSocket route.
//!
//! `berth build .` makes `__NAME__.wasm`; `cargo test` runs the tests below against the
//! SDK's in-memory host, without a server.
use berth_sdk::prelude::*;

struct __TYPE__;

/// Every client of the route is in this room.
const ROOM: &str = "__NAME__";

impl Plugin for __TYPE__ {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.websocket("/__NAME__/ws")
            .on_connect(|ws, _connect| {
                ws.join(ROOM)?;
                ws.data().set("messages", "0")?;
                ws.send("welcome")
            })
            .on_message(|ws, msg| {
                let text = msg.text().unwrap_or("");
                // `/all <text>` goes to everyone else; anything else is echoed back.
                if let Some(all) = text.strip_prefix("/all ") {
                    let n = ws::broadcast(Some(ROOM), all, Some(ws));
                    return Outcome::reply(format!("sent to {n}"));
                }
                let n: u64 = ws.data().get("messages").and_then(|n| n.parse().ok()).unwrap_or(0) + 1;
                ws.data().set("messages", n.to_string()).ok();
                Outcome::reply(format!("echo {n}: {text}"))
            })
            .on_disconnect(|ws, close| info!("{} left ({})", ws.id(), close.code));
        Ok(())
    }
}

berth_sdk::export_plugin!(__TYPE__);

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sdk::testing::TestApp;

    #[test]
    fn echoes_and_broadcasts() {
        let app = TestApp::new::<__TYPE__>();
        let a = app.ws("/__NAME__/ws").expect("accepted");
        let b = app.ws("/__NAME__/ws").expect("accepted");
        assert_eq!(a.recv_text().as_deref(), Some("welcome"));
        b.recv();
        a.send("hi");
        assert_eq!(a.recv_text().as_deref(), Some("echo 1: hi"));
        a.send("/all hello");
        assert_eq!(a.recv_text().as_deref(), Some("sent to 1"));
        assert_eq!(b.recv_text().as_deref(), Some("hello"));
    }
}
