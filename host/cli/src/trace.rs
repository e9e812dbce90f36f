//! `[trace]`: the server's spans (target `berth::otel`, see `berth_server`'s `spans`)
//! exported to an OpenTelemetry collector over OTLP/HTTP (protobuf).
//!
//! Wiring: an SDK tracer provider with a batch processor (its own thread, exporting
//! every `batch_delay`) and a parent-based ratio sampler (`sample`; a `traceparent`'s
//! decision wins), a `tracing-opentelemetry` layer that sees only the `berth::otel`
//! spans, and the W3C trace-context propagator installed globally so the server can
//! take a request's parent from its `traceparent` header. The provider is shut down
//! (flushing what is queued) when the returned guard drops.

use anyhow::Context;
use berth_config::TraceConfig;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{Layer, Registry};

/// The target every span meant for export uses.
pub const TARGET: &str = "berth::otel";

/// Flushes and stops the exporter when dropped.
pub struct TraceGuard(SdkTracerProvider);

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if let Err(e) = self.0.shutdown() {
            eprintln!("berth: exporting the last spans failed: {e}");
        }
    }
}

/// The exporting layer (filtered to [`TARGET`]) and its guard.
pub fn layer(
    config: &TraceConfig,
) -> anyhow::Result<(Box<dyn Layer<Registry> + Send + Sync>, TraceGuard)> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(&config.otlp)
        .with_timeout(std::time::Duration::from_secs(5))
        .build()
        .with_context(|| format!("[trace] otlp = {:?}", config.otlp))?;
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(config.batch_delay)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service.clone())
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer("berth");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target(TARGET, LevelFilter::INFO));
    Ok((Box::new(layer), TraceGuard(provider)))
}
