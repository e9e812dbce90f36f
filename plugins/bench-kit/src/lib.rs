//! Routes for the benchmark scenarios that `hello` does not cover:
//!
//! - `POST /echo-json` with a JSON body → the same JSON, parsed and re-serialized
//!   (invalid JSON → 400 `{"error":"Invalid JSON body","code":400}`);
//! - `GET /incr` → `{"hits":N}`, N counting up in plugin state (the host's atomic
//!   increment).
use berth_sdk::prelude::*;

struct BenchKit;

impl Plugin for BenchKit {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.post("/echo-json", |req| {
            req.json::<Value>()
                .map_err(|_| Error::bad_request("Invalid JSON body"))
        });
        app.get("/incr", |_req| -> Result<Value, Error> {
            Ok(json!({ "hits": state::incr("hits", 1)? }))
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(BenchKit);

#[cfg(test)]
mod tests;
