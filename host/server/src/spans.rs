//! Spans for OpenTelemetry (`[trace]`): one per request, with a child per plugin call.
//!
//! The server only *emits* spans, with `tracing`, under the target `berth::otel`; the
//! binary decides whether anything records them (`berth serve` adds an OTLP exporter
//! layer when `[trace]` names a collector, and keeps these spans out of its log lines).
//! With no such layer the spans are disabled at their callsite, so a request pays one
//! cached interest check per span and nothing else: no fields are formatted and no
//! `traceparent` is parsed.
//!
//! The request span follows the HTTP semantic conventions (`http.request.method`,
//! `url.path`, `http.route`, `http.response.status_code`, server kind, error status for
//! 5xx) and carries the request id; a `traceparent` header makes it a child of the
//! caller's span (the propagator is the one the binary installs globally). Each plugin
//! call is a child span named `<plugin> <entry>` (entry: `handle`, `before`, `after`,
//! `event`), so a trace shows which layer of the middleware onion took the time.

use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderExtractor;
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A request's span; the route and status are recorded by [`finish`].
pub(crate) fn request(
    method: &str,
    path: &str,
    request_id: &str,
    headers: &hyper::HeaderMap,
) -> Span {
    let span = tracing::info_span!(
        target: "berth::otel",
        "request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        url.path = path,
        http.route = Empty,
        http.response.status_code = Empty,
        request.id = request_id,
    );
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(headers))
        });
        // A context without a remote span (no or a bad `traceparent`) starts a trace.
        let _ = span.set_parent(parent);
    }
    span
}

/// Records what the request came to: its route pattern (`""` when none matched) and
/// status. The span ends when the last clone of it is dropped.
pub(crate) fn finish(span: &Span, method: &str, route: &str, status: u16) {
    if span.is_disabled() {
        return;
    }
    if !route.is_empty() {
        span.record("http.route", route);
        // The exporter's span has started by now, so its name is updated on it directly
        // (a recorded `otel.name` only counts before that).
        span.context()
            .span()
            .update_name(format!("{method} {route}"));
    }
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}

/// A plugin call's span, a child of the current (request) span.
pub(crate) fn call(plugin: &str, entry: &'static str) -> Span {
    let span = tracing::info_span!(
        target: "berth::otel",
        "plugin call",
        otel.name = tracing::field::display(format_args!("{plugin} {entry}")),
        plugin,
        entry,
        otel.status_code = Empty,
        error.message = Empty,
    );
    span
}

/// Marks a plugin call's span failed (a trap, a timeout, out of memory).
pub(crate) fn failed(span: &Span, error: &berth_core::engine::CallError) {
    if !span.is_disabled() {
        span.record("otel.status_code", "ERROR");
        span.record("error.message", tracing::field::display(error));
    }
}
