//! Seed 002's "SSE Sensor Monitor": `GET /` is the monitor page, `GET /events` streams a
//! sensor reading every 2 seconds.
//!
//! In the seed each client's generator reads the sensor; here a timer reads it once per
//! interval and publishes the reading to every subscriber of the topic, with an id, so
//! a browser that reconnects resumes where it left off.
//!
//! Config: `interval` seconds (default `2`), `topic` (default `sensors`).
use berth_sdk::prelude::*;

struct SseSensor;

const PAGE: &str = include_str!("page.html");

/// The seed's `read_sensor()`: a simulated temperature (20–30 °C) and humidity (50–80 %).
fn read_sensor(now_ms: u64) -> Value {
    json!({
        "temperature": 20 + berth_sdk::random_u64() % 11,
        "humidity": 50 + berth_sdk::random_u64() % 31,
        "timestamp": now_ms / 1000,
    })
}

impl Plugin for SseSensor {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let interval: f64 = config.parse_or("interval", 2.0)?;
        if !(interval.is_finite() && interval > 0.0) {
            return Err(format!(
                "interval must be a positive number of seconds, not {interval}"
            ));
        }
        let topic = config.get_or("topic", "sensors").to_string();

        app.get("/", |_| Response::html(PAGE));
        let t = topic.clone();
        app.get("/events", move |_| Response::sse(&t));
        app.every(Duration::from_secs_f64(interval), move |now| {
            let id = state::incr("readings", 1).unwrap_or(0).to_string();
            berth_sdk::publish(&topic, &read_sensor(now).to_string(), None, Some(&id));
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(SseSensor);

#[cfg(test)]
mod tests;
