//! Seed 002's "SSE Sensor Monitor": `GET /` is the dashboard page, `GET /events` streams
//! the `sensors` topic, and a timer publishes a reading every `interval_ms` (2000).
//!
//! Each event is `data: {"temperature":T,"humidity":H,"timestamp":S}` with
//! T in 20..=30, H in 50..=80 (from the host's random source) and S in Unix seconds.
//! `POST /publish` (any body) publishes that body at once as event `manual`, and answers
//! `{"subscribers":N}` — handy for tests and demos.
use berth_sdk::prelude::*;

struct SseSensor;

const PAGE: &str = r#"<!DOCTYPE html>
<html>
<head><title>Sensor Monitor</title></head>
<body>
    <h1>Sensor Monitor (SSE)</h1>
    <p>Temperature: <strong id="temp">--</strong>°C</p>
    <p>Humidity: <strong id="hum">--</strong>%</p>
    <script>
        const es = new EventSource('/events');
        es.onmessage = (e) => {
            const d = JSON.parse(e.data);
            document.getElementById('temp').textContent = d.temperature;
            document.getElementById('hum').textContent = d.humidity;
        };
    </script>
</body>
</html>
"#;

fn reading(now_ms: u64) -> String {
    let r = berth_sdk::random_u64();
    json!({
        "temperature": 20 + r % 11,
        "humidity": 50 + (r >> 8) % 31,
        "timestamp": now_ms / 1000,
    })
    .to_string()
}

impl Plugin for SseSensor {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let interval: u64 = config.parse_or("interval_ms", 2000)?;
        app.get("/", |_req| Response::html(PAGE));
        app.get("/events", |_req| Response::sse("sensors"));
        app.post("/publish", |req| {
            let n = berth_sdk::publish("sensors", &req.text(), Some("manual"), None);
            Response::json(&json!({"subscribers": n}))
        });
        app.every(Duration::from_millis(interval), |now| {
            berth_sdk::publish("sensors", &reading(now), None, None);
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(SseSensor);
