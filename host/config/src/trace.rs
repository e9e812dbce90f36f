//! `[trace]`: OpenTelemetry export of a span per request, with a child per plugin call.
//!
//! ```toml
//! [trace]
//! otlp = "http://127.0.0.1:4318/v1/traces"  # OTLP over HTTP (protobuf); default: off
//! service = "berth"                          # the spans' service.name
//! sample = 1.0                               # share of new traces kept (0 to 1)
//! batch_delay = 1.0                          # seconds between exports
//! ```
//!
//! A request that carries a W3C `traceparent` joins that trace, and the caller's
//! sampling decision holds. Only the server runtime exports spans.

use std::time::Duration;

use serde::Deserialize;

/// `[trace]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TraceSection {
    otlp: Option<String>,
    service: Option<String>,
    sample: Option<f64>,
    batch_delay: Option<f64>,
}

/// `[trace]`, resolved: present only when it names an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    /// Where spans are sent: an OTLP/HTTP traces endpoint (`http://host:4318/v1/traces`).
    pub otlp: String,
    /// The `service.name` resource attribute.
    pub service: String,
    /// The share of new traces sampled, 0 to 1 (a `traceparent`'s decision wins).
    pub sample: f64,
    /// How long finished spans wait to be exported together.
    pub batch_delay: Duration,
}

impl TraceSection {
    /// `None` without `otlp`; an error for a value out of range or a URL that is not
    /// `http://` (this build's exporter speaks plain HTTP: a collector beside the host).
    pub(crate) fn resolve(self) -> Result<Option<TraceConfig>, String> {
        let Some(otlp) = self.otlp else {
            if self.service.is_some() || self.sample.is_some() || self.batch_delay.is_some() {
                return Err("[trace] needs otlp = \"http://…/v1/traces\" to export".into());
            }
            return Ok(None);
        };
        if !otlp.starts_with("http://") {
            return Err(format!(
                "[trace] otlp = {otlp:?}: expected an http:// URL (an OTLP/HTTP collector)"
            ));
        }
        let sample = self.sample.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&sample) {
            return Err(format!("[trace] sample = {sample}: expected 0 to 1"));
        }
        let delay = self.batch_delay.unwrap_or(1.0);
        if !(delay > 0.0 && delay <= 60.0) {
            return Err(format!(
                "[trace] batch_delay = {delay}: expected more than 0 and at most 60 seconds"
            ));
        }
        Ok(Some(TraceConfig {
            otlp,
            service: self.service.unwrap_or_else(|| "berth".into()),
            sample,
            batch_delay: Duration::from_secs_f64(delay),
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;

    #[test]
    fn trace_is_off_by_default_and_checked() {
        assert!(Config::parse("", Path::new("."))
            .expect("empty")
            .trace
            .is_none());
        let text = "[trace]\notlp = \"http://127.0.0.1:4318/v1/traces\"\nsample = 0.5\n";
        let t = Config::parse(text, Path::new(".")).expect("valid").trace;
        let t = t.expect("on");
        assert_eq!((t.service.as_str(), t.sample), ("berth", 0.5));
        assert_eq!(t.batch_delay, std::time::Duration::from_secs(1));
        for (bad, says) in [
            ("[trace]\nservice = \"x\"\n", "needs otlp"),
            ("[trace]\notlp = \"grpc://x\"\n", "http://"),
            ("[trace]\notlp = \"http://x\"\nsample = 2\n", "sample"),
            (
                "[trace]\notlp = \"http://x\"\nbatch_delay = 0\n",
                "batch_delay",
            ),
        ] {
            let err = Config::parse(bad, Path::new(".")).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
