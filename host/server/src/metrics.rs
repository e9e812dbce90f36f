//! Prometheus metrics (`[admin] listen`, see [`crate::admin`]): one registry per server.
//!
//! Recording stays off the allocator: per-plugin series (call durations by entry point,
//! traps, timeouts, out-of-memory, instances created) are resolved once, when a pool is
//! attached ([`Metrics::plugin`]), and then only touched with atomic adds. The request
//! counter's labels (plugin, route *pattern*, method, status class) are all `&'static
//! str` or strings the snapshot already holds, so a request costs one hash of those
//! labels and a read lock in the `prometheus` crate — no formatting, no allocation once a
//! series exists. Labels are bounded: route patterns as registered (never raw paths),
//! methods from Berth's fixed set, five status classes, and fixed kinds elsewhere.
//! Gauges of things other modules own (pooled instances, open WebSockets, SSE
//! subscribers and topics) are read when a scrape comes, not kept in step.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The entry points a plugin is called through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A route handler.
    Handle = 0,
    /// A `before` middleware.
    Before = 1,
    /// An `after` middleware.
    After = 2,
    /// A hook or WebSocket event.
    Event = 3,
    /// A timer.
    Timer = 4,
    /// One chunk of a streamed body.
    Chunk = 5,
}

const ENTRIES: [&str; 6] = ["handle", "before", "after", "event", "timer", "chunk"];

impl Entry {
    /// The entry point's label (metrics, spans).
    pub(crate) fn label(self) -> &'static str {
        ENTRIES[self as usize]
    }
}

/// Which listener a connection came in on, as a label.
pub(crate) fn listener_label(port: crate::Port) -> &'static str {
    match port {
        crate::Port::Http => "http",
        crate::Port::WebSocket => "ws",
    }
}

/// A status code's class label.
pub(crate) fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Every series of one server.
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: Histogram,
    call_seconds: HistogramVec,
    call_failures: IntCounterVec,
    instantiated: IntCounterVec,
    pooled: IntGaugeVec,
    connections: IntGaugeVec,
    refused: IntCounterVec,
    limit_hits: IntCounterVec,
    pub(crate) ws_open: IntGauge,
    ws_messages: IntCounterVec,
    ws_bytes: IntCounterVec,
    sse_subscribers: IntGauge,
    sse_topics: IntGauge,
    pub(crate) hot_swaps: IntCounter,
    state_ops: IntCounterVec,
    state_bytes: IntCounterVec,
    compressed: IntCounterVec,
}

/// One plugin's series, resolved once.
pub(crate) struct PluginMetrics {
    call_seconds: [Histogram; 6],
    traps: IntCounter,
    timeouts: IntCounter,
    out_of_memory: IntCounter,
    pub(crate) instantiated: IntCounter,
}

impl PluginMetrics {
    /// Records one call: its duration, and its failure kind when it failed.
    pub(crate) fn call(
        &self,
        entry: Entry,
        took: std::time::Duration,
        error: Option<&berth_core::engine::CallError>,
    ) {
        self.call_seconds[entry as usize].observe(took.as_secs_f64());
        use berth_core::engine::CallError;
        match error {
            Some(CallError::Deadline) => self.timeouts.inc(),
            Some(CallError::OutOfMemory) => self.out_of_memory.inc(),
            Some(CallError::Trap(_) | CallError::Malformed(_)) => self.traps.inc(),
            Some(CallError::Instantiate(_)) | None => {}
        }
    }
}

/// One connection's listener series, resolved at accept.
#[derive(Clone)]
pub(crate) struct ConnMetrics {
    pub(crate) open: IntGauge,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("registered once");
    vec
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let vec = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("registered once");
    vec
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("registered once");
    gauge
}

/// Latency buckets: 100 µs to 10 s.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

impl Metrics {
    /// A fresh registry with every series Berth exports.
    pub(crate) fn new() -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let request_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "berth_request_duration_seconds",
                "Time from a request's head to its response head.",
            )
            .buckets(BUCKETS.to_vec()),
        )
        .expect("valid metric");
        r.register(Box::new(request_seconds.clone()))
            .expect("registered once");
        let call_seconds = HistogramVec::new(
            HistogramOpts::new(
                "berth_plugin_call_duration_seconds",
                "Duration of one plugin call, by plugin and entry point.",
            )
            .buckets(BUCKETS.to_vec()),
            &["plugin", "entry"],
        )
        .expect("valid metric");
        r.register(Box::new(call_seconds.clone()))
            .expect("registered once");
        Metrics {
            requests: counter_vec(
                r,
                "berth_requests_total",
                "HTTP requests answered, by plugin, route pattern, method and status class.",
                &["plugin", "route", "method", "status"],
            ),
            request_seconds,
            call_seconds,
            call_failures: counter_vec(
                r,
                "berth_plugin_failures_total",
                "Plugin calls that failed, by plugin and kind (trap, timeout, out_of_memory).",
                &["plugin", "kind"],
            ),
            instantiated: counter_vec(
                r,
                "berth_instances_created_total",
                "Plugin instances instantiated (and set up), by plugin.",
                &["plugin"],
            ),
            pooled: gauge_vec(
                r,
                "berth_instances_pooled",
                "Idle plugin instances waiting in the pool, by plugin.",
                &["plugin"],
            ),
            connections: gauge_vec(
                r,
                "berth_connections_open",
                "TCP connections open, by listener.",
                &["listener"],
            ),
            refused: counter_vec(
                r,
                "berth_connections_refused_total",
                "Connections answered 503 and closed at max_connections, by listener.",
                &["listener"],
            ),
            limit_hits: counter_vec(
                r,
                "berth_limit_hits_total",
                "Requests and WebSockets stopped by a limit, by the status or close code sent.",
                &["kind"],
            ),
            ws_open: gauge(r, "berth_websockets_open", "WebSocket connections open."),
            ws_messages: counter_vec(
                r,
                "berth_websocket_messages_total",
                "WebSocket messages, by direction (in, out).",
                &["direction"],
            ),
            ws_bytes: counter_vec(
                r,
                "berth_websocket_bytes_total",
                "WebSocket message payload bytes, by direction (in, out).",
                &["direction"],
            ),
            sse_subscribers: gauge(r, "berth_sse_subscribers", "SSE clients subscribed."),
            sse_topics: gauge(r, "berth_sse_topics", "SSE topics kept."),
            hot_swaps: {
                let c = IntCounter::new("berth_hot_swaps_total", "Plugins swapped while serving.")
                    .expect("valid metric");
                r.register(Box::new(c.clone())).expect("registered once");
                c
            },
            state_ops: counter_vec(
                r,
                "berth_state_operations_total",
                "State calls, by operation (get, set, delete, incr, keys) and outcome \
                 (ok, refused, unavailable).",
                &["op", "outcome"],
            ),
            state_bytes: counter_vec(
                r,
                "berth_state_bytes_total",
                "State value bytes, by direction (read, written).",
                &["direction"],
            ),
            compressed: counter_vec(
                r,
                "berth_responses_compressed_total",
                "Responses sent with a Content-Encoding, by encoding (br, gzip) and how \
                 (on_the_fly, precompressed).",
                &["encoding", "how"],
            ),
            registry,
        }
    }

    /// The state store's series (see [`crate::state_metrics`]).
    pub(crate) fn state(&self) -> crate::state_metrics::StateSeries {
        use crate::state_metrics::{OPS, OUTCOMES};
        crate::state_metrics::StateSeries {
            ops: OPS.map(|op| OUTCOMES.map(|o| self.state_ops.with_label_values(&[op, o]))),
            read_bytes: self.state_bytes.with_label_values(&["read"]),
            written_bytes: self.state_bytes.with_label_values(&["written"]),
        }
    }

    /// A response sent compressed: on the fly, or a precompressed sibling file.
    pub(crate) fn compressed(&self, coding: berth_core::compression::Coding, precompressed: bool) {
        let how = if precompressed {
            "precompressed"
        } else {
            "on_the_fly"
        };
        self.compressed
            .with_label_values(&[coding.token(), how])
            .inc();
    }

    /// `plugin`'s series (see [`PluginMetrics`]).
    pub(crate) fn plugin(&self, plugin: &str) -> PluginMetrics {
        let fail = |kind| self.call_failures.with_label_values(&[plugin, kind]);
        PluginMetrics {
            call_seconds: ENTRIES.map(|e| self.call_seconds.with_label_values(&[plugin, e])),
            traps: fail("trap"),
            timeouts: fail("timeout"),
            out_of_memory: fail("out_of_memory"),
            instantiated: self.instantiated.with_label_values(&[plugin]),
        }
    }

    /// `port`'s connection series.
    pub(crate) fn listener(&self, port: crate::Port) -> ConnMetrics {
        ConnMetrics {
            open: self.connections.with_label_values(&[listener_label(port)]),
        }
    }

    /// A connection refused at `max_connections`.
    pub(crate) fn refused(&self, port: crate::Port) {
        self.refused
            .with_label_values(&[listener_label(port)])
            .inc();
    }

    /// One answered request. `route` is the matched pattern, `""` when none matched.
    pub(crate) fn request(
        &self,
        plugin: &str,
        route: &str,
        method: &str,
        status: u16,
        took: std::time::Duration,
    ) {
        self.requests
            .with_label_values(&[plugin, route, method, status_class(status)])
            .inc();
        self.request_seconds.observe(took.as_secs_f64());
    }

    /// A limit stopped something; `kind` is the status or close code sent ("413", "1009").
    pub(crate) fn limit_hit(&self, kind: &'static str) {
        self.limit_hits.with_label_values(&[kind]).inc();
    }

    /// One WebSocket message of `bytes`, `inbound` or out.
    pub(crate) fn ws_message(&self, inbound: bool, bytes: usize) {
        let direction = if inbound { "in" } else { "out" };
        self.ws_messages.with_label_values(&[direction]).inc();
        self.ws_bytes
            .with_label_values(&[direction])
            .inc_by(bytes as u64);
    }

    /// The exposition text, after reading the gauges other modules own.
    pub(crate) fn render(&self, shared: &crate::Shared) -> Vec<u8> {
        let snap = shared.live.load();
        self.pooled.reset();
        for pool in &snap.pools {
            self.pooled
                .with_label_values(&[pool.name()])
                .set(i64::try_from(pool.idle()).unwrap_or(i64::MAX));
        }
        self.ws_open
            .set(i64::try_from(shared.ws.len()).unwrap_or(i64::MAX));
        self.sse_subscribers
            .set(i64::try_from(shared.sse.subscriber_count()).unwrap_or(i64::MAX));
        self.sse_topics
            .set(i64::try_from(shared.sse.topics()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        out
    }
}
