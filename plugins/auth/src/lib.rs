//! Seed 000's AuthPlugin: requests under `prefix` must carry `header: secret`.
//!
//! Config: `header` (default `Authorization`), `secret` (default `default-secret`),
//! `prefix` (default `/api`), `message` (default `Unauthorized`).
use berth_sdk::prelude::*;

struct Auth;

impl Plugin for Auth {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let header = config.get_or("header", "Authorization").to_string();
        let secret = config.get_or("secret", "default-secret").to_string();
        let prefix = config.get_or("prefix", "/api").to_string();
        let message = config.get_or("message", "Unauthorized").to_string();

        app.before(move |req| {
            if req.path().starts_with(&prefix) && req.header(&header) != Some(secret.as_str()) {
                return Some(Response::json_status(&json!({ "error": message }), 401));
            }
            None
        });
        app.get("/auth/check", |_req| {
            Response::json(&json!({"valid": true}))
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Auth);

#[cfg(test)]
mod tests;
