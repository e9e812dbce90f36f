//! Seed 002's Full Example hardware routes, with the LED simulated in plugin state
//! (on a board, the embedded host's GPIO import drives the pin instead).
//!
//! - `POST /led` `{"state": …}` → `{"led":"on"}` when `state` is `1`, `true` or `"on"`,
//!   else `{"led":"off"}`; a missing `state` (or a body that is not a JSON object) →
//!   400 `{"error":"Missing 'state' field","code":400}`;
//! - `GET /led` → the LED's current state, `{"led":"off"}` before the first `POST`.
use berth_sdk::prelude::*;

struct Device;

const LED: &str = "led";

fn led_json(on: bool) -> Response {
    Response::json(&json!({"led": if on { "on" } else { "off" }}))
}

impl Plugin for Device {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.post("/led", |req| {
            // Seed 002: `data = req.json or {}`; `state = data.get("state")`.
            let data = req.json::<Value>().unwrap_or(Value::Null);
            let state = match data.get("state") {
                None | Some(Value::Null) => {
                    return Response::error("Missing 'state' field", 400);
                }
                Some(state) => state,
            };
            // Python's `state in (1, True, "on")`: 1 == True == 1.0.
            let on = state.as_f64() == Some(1.0) || *state == json!(true) || *state == json!("on");
            state::set(LED, if on { "on" } else { "off" });
            led_json(on)
        });
        app.get("/led", |_req| {
            led_json(state::get_string(LED).as_deref() == Some("on"))
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Device);
