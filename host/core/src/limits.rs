//! Limits as plain data, checked by the servers before they allocate.
//! Names and defaults are those of `[limits]` in `berth.toml`.

/// Every limit the servers enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, bytes (→ 413).
    pub max_body_size: usize,
    /// Longest request line, bytes (→ 414).
    pub max_request_line: usize,
    /// Most request headers (→ 431).
    pub max_headers: usize,
    /// Largest single header line, bytes (→ 431).
    pub max_header_size: usize,
    /// Time allowed to receive the request head, ms (slowloris → 408).
    pub header_timeout_ms: u64,
    /// Time allowed to receive the body, ms (→ 408).
    pub body_timeout_ms: u64,
    /// Idle time before a keep-alive connection is closed, ms.
    pub keep_alive_timeout_ms: u64,
    /// Requests served on one connection before it is closed.
    pub max_keep_alive_requests: u32,
    /// Simultaneous connections (→ 503; a warning at 80 %).
    pub max_connections: usize,
    /// Largest WebSocket frame, bytes (→ close 1009).
    pub ws_max_frame: usize,
    /// Largest WebSocket message once its fragments are joined, bytes (→ close 1009).
    pub ws_max_message: usize,
    /// Simultaneous WebSocket connections (→ 503 on the upgrade).
    pub ws_max_connections: usize,
    /// Bytes queued for one WebSocket client that is not reading; past it the client is
    /// disconnected with 1008 rather than allowed to grow the server's memory.
    pub ws_send_queue: usize,
    /// Bytes of per-connection data (`ws-data-set` keys and values) and room names a
    /// plugin may hold on one WebSocket, each entry costed 64 bytes more; past it the
    /// call fails and the connection is closed with 1008.
    pub ws_max_data: usize,
    /// Rooms one WebSocket may be in (`ws-join`); past it as for `ws_max_data`.
    pub ws_max_rooms: usize,
    /// How often an idle WebSocket is pinged, ms.
    pub ws_ping_interval_ms: u64,
    /// Silence after which a WebSocket is closed with 1011, ms.
    pub ws_pong_timeout_ms: u64,
    /// Wall-clock budget of one plugin call, ms (→ 504).
    pub plugin_timeout_ms: u64,
    /// Wall-clock budget of all plugin calls of one request together (its middleware,
    /// route and after-middleware), ms (→ 504). Bounds a chain of calls each under
    /// `plugin_timeout_ms` that would together hold the connection far longer.
    pub request_timeout_ms: u64,
    /// Linear memory cap per plugin instance, bytes.
    pub plugin_memory: usize,
    /// Linear memory cap per instance of a plugin that imports WASI (Python), bytes.
    pub wasi_plugin_memory: usize,
    /// Live keys one state namespace (a plugin's own, or the shared one) may hold;
    /// `state-set` of a new key past it fails.
    pub state_max_keys: usize,
    /// Bytes (keys plus values) one state namespace may hold.
    pub state_max_bytes: usize,
    /// Largest single state value, bytes.
    pub state_max_value: usize,
    /// SSE topics kept at once. A topic with no subscriber and no replay left is dropped;
    /// past the cap, an event for a new topic reaches no one and is not kept.
    pub sse_max_topics: usize,
    /// Bytes of events one topic keeps for `Last-Event-ID` replay (oldest go first).
    pub sse_replay_bytes: usize,
    /// Timers (`app.every`) all plugins together may register; the rest are refused.
    pub max_timers: usize,
    /// Shortest timer interval, ms; a shorter one is refused at start-up.
    pub timer_min_interval_ms: u64,
    /// Most headers a plugin's response may carry (→ 500 and a warning). The `http`
    /// crate's header map panics past 32 768; a device has room for far fewer.
    pub max_response_headers: usize,
    /// Wall-clock budget of one streamed body from its first pull, ms (0: none). A
    /// stream still running past it is aborted and its guest instance released.
    pub stream_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        let quota = crate::state::Quota::default();
        Limits {
            max_body_size: 1 << 20,
            max_request_line: 8 << 10,
            max_headers: 50,
            max_header_size: 8 << 10,
            header_timeout_ms: 30_000,
            body_timeout_ms: 30_000,
            keep_alive_timeout_ms: 5_000,
            max_keep_alive_requests: 100,
            max_connections: 1024,
            ws_max_frame: 64 << 10,
            ws_max_message: 64 << 10,
            ws_max_connections: 10_000,
            ws_send_queue: 1 << 20,
            ws_max_data: 64 << 10,
            ws_max_rooms: 64,
            ws_ping_interval_ms: 30_000,
            ws_pong_timeout_ms: 60_000,
            plugin_timeout_ms: 1_000,
            request_timeout_ms: 5_000,
            plugin_memory: 16 << 20,
            wasi_plugin_memory: 128 << 20,
            state_max_keys: quota.max_keys,
            state_max_bytes: quota.max_bytes,
            state_max_value: quota.max_value,
            sse_max_topics: 256,
            sse_replay_bytes: 64 << 10,
            max_timers: 64,
            timer_min_interval_ms: 10,
            max_response_headers: 100,
            stream_timeout_ms: 600_000,
        }
    }
}

impl Limits {
    /// Live connections at which a server warns that it nears `max_connections`: 80 %,
    /// rounded up, and at least one. Logged once per upward crossing.
    pub fn connection_warning_at(&self) -> usize {
        connection_warning_at(self.max_connections)
    }

    /// The part of the limits that the engines enforce.
    pub fn engine(&self) -> crate::engine::EngineLimits {
        crate::engine::EngineLimits {
            call_timeout_ms: self.plugin_timeout_ms,
            memory_bytes: self.plugin_memory,
            wasi_memory_bytes: self.wasi_plugin_memory,
        }
    }
}

impl Limits {
    /// The part of the limits that the state store enforces.
    pub fn state(&self) -> crate::state::Quota {
        crate::state::Quota {
            max_keys: self.state_max_keys,
            max_bytes: self.state_max_bytes,
            max_value: self.state_max_value,
        }
    }
}

/// The open connections at which both runtimes warn: 80 % of `max`, rounded up, and at
/// least one.
pub fn connection_warning_at(max: usize) -> usize {
    max.saturating_mul(4).div_ceil(5).max(1)
}
