//! Seed 002's Full Example hardware routes, through the host's device API: the LED is a
//! real GPIO pin (`gpio-write`/`gpio-read`; simulated in memory on the desktop server and
//! under QEMU), and the memory figures come from the host (`memory`, `memory-collect`).
//!
//! Config: `led_pin` (default 2, seed 002's `LED_PIN`). The operator must grant that pin:
//! `[grants.device] gpio = [2]`.
//!
//! - `GET /` → `{"status":"online","memory_free":<bytes>}`;
//! - `GET /gc` → `{"freed":<bytes, may be negative>,"free":<bytes>}`, around the host's
//!   `memory-collect`;
//! - `POST /led` `{"state": …}` → drives the pin high when `state` is `1`, `true` or
//!   `"on"`, else low, and answers `{"led":"on"}` / `{"led":"off"}`; a missing `state`
//!   (or a body that is not a JSON object) → 400 `{"error":"Missing 'state' field","code":400}`;
//! - `GET /led` → the pin's level read back, `{"led":"on"}` or `{"led":"off"}`.
//!
//! When the pin cannot be used, both `/led` routes answer with a JSON error: 503 when the
//! pin is not granted or the host has no GPIO (the server is fine, the feature is not
//! available here), 500 when the board has no such pin (`led_pin` is wrong).
use berth_sdk::device::{self, DeviceError};
use berth_sdk::prelude::*;

struct Device;

fn led_json(on: bool) -> Response {
    Response::json(&json!({"led": if on { "on" } else { "off" }}))
}

/// The JSON error for a pin that cannot be used.
fn pin_error(pin: u8, e: DeviceError) -> Response {
    let (message, status) = match e {
        DeviceError::NotGranted => (
            format!("GPIO pin {pin} is not granted to this plugin ([grants.device] gpio)"),
            503,
        ),
        DeviceError::Unsupported => ("This host has no GPIO".to_string(), 503),
        DeviceError::NoSuchPin => (format!("No GPIO pin {pin} on this board"), 500),
    };
    warn!("LED on pin {pin}: {}", device::error_message(e));
    Response::error(&message, status)
}

impl Plugin for Device {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let pin: u8 = config.parse_or("led_pin", 2)?;

        app.get("/", |_req| {
            Response::json(&json!({"status": "online", "memory_free": device::memory().free}))
        });
        app.get("/gc", |_req| {
            let before = device::memory().free;
            device::collect();
            let after = device::memory().free;
            let freed = i128::from(after) - i128::from(before);
            Response::json(&json!({"freed": freed as i64, "free": after}))
        });
        app.post("/led", move |req| {
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
            match device::gpio_write(pin, on) {
                Ok(()) => led_json(on),
                Err(e) => pin_error(pin, e),
            }
        });
        app.get("/led", move |_req| match device::gpio_read(pin) {
            Ok(on) => led_json(on),
            Err(e) => pin_error(pin, e),
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Device);

#[cfg(test)]
mod tests;
