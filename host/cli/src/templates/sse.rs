//! __NAME__: a Berth plugin publishing Server-Sent Events.
//!
//! `berth build .` makes `__NAME__.wasm`; `cargo test` runs the tests below against the
//! SDK's in-memory host, without a server.
use berth_sdk::prelude::*;

struct __TYPE__;

const TOPIC: &str = "__NAME__";

impl Plugin for __TYPE__ {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let every: u64 = config.parse_or("interval_ms", 1000)?;
        // Subscribers: the host keeps the stream open and sends every event published.
        app.get("/__NAME__/events", |_| Response::sse(TOPIC));
        // Anyone may publish (guard it with middleware before exposing it).
        app.post("/__NAME__/publish", |req| {
            let reached = berth_sdk::publish(TOPIC, &req.text(), Some("message"), None);
            json!({ "subscribers": reached })
        });
        // A timer publishes a tick, with an id, so a reconnecting client resumes.
        app.every(Duration::from_millis(every), |now| {
            let n = state::incr("ticks", 1).unwrap_or(0);
            let data = json!({ "tick": n, "time": now }).to_string();
            berth_sdk::publish(TOPIC, &data, Some("tick"), Some(&n.to_string()));
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(__TYPE__);

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sdk::testing::TestApp;

    #[test]
    fn ticks_and_publishes() {
        let app = TestApp::new::<__TYPE__>();
        assert_eq!(app.get("/__NAME__/events").send().sse_topic(), Some(TOPIC));
        app.advance(Duration::from_millis(2500));
        let ticks: Vec<_> = app.published().into_iter().map(|e| e.id).collect();
        assert_eq!(ticks, [Some("1".to_string()), Some("2".to_string())]);
        let r = app.post("/__NAME__/publish").body("hi").send();
        assert_eq!(r.json::<Value>(), json!({ "subscribers": 1 }));
    }
}
