// The `live` plugin, shared by its versions (each crate sets `VERSION` and `TRAP`
// and includes this file). Every answer names the version, so a test sees which one
// served it:
//
// - `GET /live` → `{"version": N}`; `GET /live/tick` → `{"tick": "vN" | null}`, what
//   the timer (every 20 ms) last wrote to state;
// - WebSocket `/live/ws`: every text message `m` is answered `vN: m`; the message
//   `count` answers how many messages this connection sent before (kept in the
//   host's per-connection data, so it survives a swap);
// - `server:start` and `server:stop` hooks log `live vN started` / `live vN stopped`;
// - with `TRAP`, `setup` panics: the plugin never loads.
use berth_sdk::prelude::*;

struct Live;

impl Plugin for Live {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        if TRAP {
            panic!("live v{VERSION}: setup traps on purpose");
        }
        app.get("/live", |_req| Response::json(&json!({"version": VERSION})));
        app.get("/live/tick", |_req| {
            Response::json(&json!({"tick": state::get_string("tick")}))
        });
        app.websocket("/live/ws").on_message(|ws, m| {
            let seen: u64 = ws
                .data()
                .get("seen")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            ws.data().set("seen", (seen + 1).to_string()).ok();
            match m.text() {
                Some("count") => Outcome::reply(format!("v{VERSION}: {seen}")),
                Some(text) => Outcome::reply(format!("v{VERSION}: {text}")),
                None => Outcome::none(),
            }
        });
        app.on_start(|_| {
            berth_sdk::info!("live v{VERSION} started");
        });
        app.on_stop(|| {
            berth_sdk::info!("live v{VERSION} stopped");
        });
        app.every(Duration::from_millis(20), |_| {
            state::set("tick", format!("v{VERSION}"));
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Live);
