//! `[limits]`: every key of berth-core's [`Limits`], sizes in bytes and times in
//! (fractional) seconds.

use berth_core::limits::Limits;
use serde::Deserialize;

/// `[limits]`: sizes in bytes, times in (fractional) seconds.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    max_body_size: Option<usize>,
    max_request_line: Option<usize>,
    max_headers: Option<usize>,
    max_header_size: Option<usize>,
    header_timeout: Option<f64>,
    body_timeout: Option<f64>,
    keep_alive_timeout: Option<f64>,
    max_keep_alive_requests: Option<u32>,
    max_connections: Option<usize>,
    ws_max_frame: Option<usize>,
    ws_max_message: Option<usize>,
    ws_max_connections: Option<usize>,
    ws_send_queue: Option<usize>,
    ws_max_data: Option<usize>,
    ws_max_rooms: Option<usize>,
    ws_ping_interval: Option<f64>,
    ws_pong_timeout: Option<f64>,
    plugin_timeout: Option<f64>,
    request_timeout: Option<f64>,
    plugin_memory: Option<usize>,
    wasi_plugin_memory: Option<usize>,
    state_max_keys: Option<usize>,
    state_max_bytes: Option<usize>,
    state_max_value: Option<usize>,
    sse_max_topics: Option<usize>,
    sse_replay_bytes: Option<usize>,
    max_timers: Option<usize>,
    timer_min_interval: Option<f64>,
    max_response_headers: Option<usize>,
    stream_timeout: Option<f64>,
}

/// Seconds as whole milliseconds; negative and NaN are 0, and huge values saturate
/// (`as` from a float saturates), so no value from a file can panic.
pub(crate) fn millis(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1000.0).round() as u64
}

impl LimitsSection {
    pub(crate) fn apply(self, l: &mut Limits) {
        let LimitsSection {
            max_body_size,
            max_request_line,
            max_headers,
            max_header_size,
            header_timeout,
            body_timeout,
            keep_alive_timeout,
            max_keep_alive_requests,
            max_connections,
            ws_max_frame,
            ws_max_message,
            ws_max_connections,
            ws_send_queue,
            ws_max_data,
            ws_max_rooms,
            ws_ping_interval,
            ws_pong_timeout,
            plugin_timeout,
            request_timeout,
            plugin_memory,
            wasi_plugin_memory,
            state_max_keys,
            state_max_bytes,
            state_max_value,
            sse_max_topics,
            sse_replay_bytes,
            max_timers,
            timer_min_interval,
            max_response_headers,
            stream_timeout,
        } = self;
        if let Some(v) = max_response_headers {
            l.max_response_headers = v;
        }
        if let Some(v) = stream_timeout {
            l.stream_timeout_ms = millis(v);
        }
        if let Some(v) = max_body_size {
            l.max_body_size = v;
        }
        if let Some(v) = max_request_line {
            l.max_request_line = v;
        }
        if let Some(v) = max_headers {
            l.max_headers = v;
        }
        if let Some(v) = max_header_size {
            l.max_header_size = v;
        }
        if let Some(v) = header_timeout {
            l.header_timeout_ms = millis(v);
        }
        if let Some(v) = body_timeout {
            l.body_timeout_ms = millis(v);
        }
        if let Some(v) = keep_alive_timeout {
            l.keep_alive_timeout_ms = millis(v);
        }
        if let Some(v) = max_keep_alive_requests {
            l.max_keep_alive_requests = v;
        }
        if let Some(v) = max_connections {
            l.max_connections = v;
        }
        if let Some(v) = ws_max_frame {
            l.ws_max_frame = v;
        }
        if let Some(v) = ws_max_message {
            l.ws_max_message = v;
        }
        if let Some(v) = ws_max_connections {
            l.ws_max_connections = v;
        }
        if let Some(v) = ws_send_queue {
            l.ws_send_queue = v;
        }
        if let Some(v) = ws_max_data {
            l.ws_max_data = v;
        }
        if let Some(v) = ws_max_rooms {
            l.ws_max_rooms = v;
        }
        if let Some(v) = ws_ping_interval {
            l.ws_ping_interval_ms = millis(v);
        }
        if let Some(v) = ws_pong_timeout {
            l.ws_pong_timeout_ms = millis(v);
        }
        if let Some(v) = plugin_timeout {
            l.plugin_timeout_ms = millis(v);
        }
        if let Some(v) = request_timeout {
            l.request_timeout_ms = millis(v);
        }
        if let Some(v) = plugin_memory {
            l.plugin_memory = v;
        }
        if let Some(v) = wasi_plugin_memory {
            l.wasi_plugin_memory = v;
        }
        if let Some(v) = state_max_keys {
            l.state_max_keys = v;
        }
        if let Some(v) = state_max_bytes {
            l.state_max_bytes = v;
        }
        if let Some(v) = state_max_value {
            l.state_max_value = v;
        }
        if let Some(v) = sse_max_topics {
            l.sse_max_topics = v;
        }
        if let Some(v) = sse_replay_bytes {
            l.sse_replay_bytes = v;
        }
        if let Some(v) = max_timers {
            l.max_timers = v;
        }
        if let Some(v) = timer_min_interval {
            l.timer_min_interval_ms = millis(v);
        }
    }
}
