//! Clock, randomness and Server-Sent Events publishing.

use crate::host;

/// Wall-clock time, in Unix milliseconds (from the host).
pub fn now_ms() -> u64 {
    host::now_ms()
}

/// 64 random bits from the host's cryptographically secure generator.
pub fn random_u64() -> u64 {
    host::random_u64()
}

/// Publishes a Server-Sent Event to every client subscribed to `topic` (see
/// [`Response::sse`](crate::Response::sse)); returns how many subscribers it reached.
///
/// ```no_run
/// berth_sdk::publish("sensors", r#"{"temperature":21}"#, None, None);
/// berth_sdk::publish("sensors", "25.5", Some("temperature"), Some("1"));
/// ```
pub fn publish(topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
    host::publish(topic, data, event, id)
}
