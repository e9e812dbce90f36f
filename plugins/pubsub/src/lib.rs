//! Server-Sent Events over plain HTTP: subscribe to any topic, publish to any topic.
//! A demo and test front for the host's `publish`; put an auth plugin ahead of it
//! before exposing it.
//!
//! - `GET /sse/<topic>` → `text/event-stream` of every event published to `topic`
//!   (send `Last-Event-ID` to replay what was missed);
//! - `POST /publish/<topic>?event=<name>&id=<id>` with the data as the body →
//!   `{"subscribers":N}`, the number of clients it reached.
use berth_sdk::prelude::*;

struct PubSub;

impl Plugin for PubSub {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.get("/sse/<topic>", |req| {
            Response::sse(req.param("topic").unwrap_or_default())
        });
        app.post("/publish/<topic>", |req| {
            let topic = req.param("topic").unwrap_or_default();
            let n = berth_sdk::publish(
                topic,
                &req.text(),
                req.query_param("event"),
                req.query_param("id"),
            );
            Response::json(&json!({ "subscribers": n }))
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(PubSub);

#[cfg(test)]
mod tests;
