//! Seed 000's rate limiter: at most `max` requests per `window` seconds per client,
//! keyed by `X-Forwarded-For` (or `unknown`). Over the limit: `429` with
//! `{"error":"Too many requests"}` and `Retry-After`.
//!
//! Config: `window` (seconds, default `60`), `max` (default `1`).
use berth_sdk::prelude::*;

struct RateLimit;

impl Plugin for RateLimit {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let window: u64 = config.parse_or("window", 60)?;
        let max: i64 = config.parse_or("max", 1)?;
        if window == 0 {
            return Err("config key `window` must be at least 1 second".into());
        }

        app.before(move |req| {
            let ip = req.header("X-Forwarded-For").unwrap_or("unknown");
            let key = format!("hits:{ip}");
            let count = match state::incr(&key, 1) {
                Ok(n) => n,
                Err(e) => {
                    warn!("rate-limit: {e}; resetting {key}");
                    state::delete(&key);
                    state::incr(&key, 1).unwrap_or(1)
                }
            };
            if count == 1 {
                // First hit in this window: start the window.
                state::set_ttl(&key, "1", Duration::from_secs(window));
            }
            if count > max {
                let body = json!({"error": "Too many requests"});
                return Some(
                    Response::json_status(&body, 429).header("Retry-After", &window.to_string()),
                );
            }
            None
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(RateLimit);
