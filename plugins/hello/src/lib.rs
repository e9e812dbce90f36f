//! `GET /hello` → `{"message":"Hello, World!"}` (seed 000's quick start).
use berth_sdk::prelude::*;

struct Hello;

impl Plugin for Hello {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.get("/hello", |_req| json!({"message": "Hello, World!"}));
        Ok(())
    }
}

berth_sdk::export_plugin!(Hello);

#[cfg(test)]
mod tests;
