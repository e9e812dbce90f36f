//! Seed 000's MetricsPlugin: counts requests, open WebSocket connections and
//! WebSocket messages in the shared state; `GET /metrics` reports them.
//!
//! Shared-state keys: `metrics:requests`, `metrics:ws_connections`, `metrics:ws_messages`.
use berth_sdk::prelude::*;
use berth_sdk::state::shared;

struct Metrics;

const REQUESTS: &str = "metrics:requests";
const CONNECTIONS: &str = "metrics:ws_connections";
const MESSAGES: &str = "metrics:ws_messages";

fn bump(key: &str, delta: i64) {
    if let Err(e) = shared::incr(key, delta) {
        warn!("metrics: cannot count {key}: {e}");
    }
}

impl Plugin for Metrics {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.before(|_req| bump(REQUESTS, 1));
        app.on_ws_connect(|_, _| bump(CONNECTIONS, 1));
        app.on_ws_disconnect(|_, _| bump(CONNECTIONS, -1));
        app.on_ws_message(|_, _| bump(MESSAGES, 1));
        app.get("/metrics", |_req| {
            json!({
                "requests": shared::get_i64(REQUESTS),
                "ws_connections": shared::get_i64(CONNECTIONS),
                "ws_messages": shared::get_i64(MESSAGES),
            })
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Metrics);

#[cfg(test)]
mod tests;
