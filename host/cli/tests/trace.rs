//! `[trace]` as an operator uses it: the `berth` binary exporting spans over OTLP/HTTP
//! to a collector (here a small one in the test that decodes the protobuf requests with
//! `opentelemetry-proto`), checked for what a trace viewer would show: a server span per
//! request named by its route, with the semantic-convention attributes and the request
//! id, a child span per plugin call, the caller's `traceparent` honoured (its trace, its
//! parent, its sampling decision), and errors marked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_tests::{free_port, plugins};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;

/// A span as received, with its resource's `service.name`.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

/// An OTLP/HTTP collector on a free port: every span it receives, in order.
struct Collector {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || serve_exports(stream, &kept));
            }
        });
        Collector { addr, spans }
    }

    /// The spans received so far.
    fn spans(&self) -> Vec<Received> {
        self.spans.lock().expect("lock").clone()
    }

    /// Waits until `check` holds for the spans received, for at most 20 s.
    fn wait_for(&self, what: &str, check: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans = self.spans();
            if check(&spans) {
                return spans;
            }
            assert!(Instant::now() < deadline, "{what}: received {spans:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Answers the POSTs on one connection (keep-alive), decoding each body.
fn serve_exports(stream: TcpStream, kept: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        assert!(line.starts_with("POST /v1/traces "), "{line}");
        loop {
            line.clear();
            reader.read_line(&mut line).expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("protobuf");
        for resource_spans in export.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(text)
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    kept.lock().expect("lock").push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn text(kv: &KeyValue) -> Option<String> {
    match kv.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(text)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `berth serve` with `[trace]` pointing at `collector`.
struct Served {
    child: Child,
    port: u16,
}

impl Served {
    fn start(dir: &Path, collector: &Collector, sample: f64) -> Served {
        let port = free_port();
        let config = format!(
            "[server]\nport = {port}\n[plugins]\ndir = {:?}\nload = [\"logger\", \"hello\", \"misbehave\"]\n\
             [trace]\notlp = \"http://{}/v1/traces\"\nservice = \"berth-test\"\nsample = {sample:?}\n\
             batch_delay = 0.2\n",
            plugins::DIR,
            collector.addr
        );
        let file = dir.join("berth.toml");
        std::fs::write(&file, config).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["serve", "--config"])
            .arg(&file)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth");
        let served = Served { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "berth never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> u16 {
        let mut request = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .timeout(Duration::from_secs(5));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().expect("GET").status().as_u16()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

fn request_span<'a>(spans: &'a [Received], route: &str) -> Option<&'a Received> {
    spans
        .iter()
        .find(|r| attribute(&r.span, "http.route").as_deref() == Some(route))
}

fn children<'a>(spans: &'a [Received], parent: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .map(|r| &r.span)
        .filter(|s| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
        .collect()
}

#[test]
fn a_span_per_request_and_a_child_per_plugin_call() {
    let dir = berth_tests::temp_dir("trace-spans");
    let collector = Collector::start();
    let served = Served::start(&dir, &collector, 1.0);
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let headers = [
        ("traceparent", traceparent.as_str()),
        ("x-request-id", "trace-test-1"),
    ];
    assert_eq!(served.get("/hello", &headers), 200);
    assert_eq!(served.get("/panic", &[]), 500);
    assert_eq!(served.get("/nowhere", &[]), 404);
    let spans = collector.wait_for("both requests and their calls", |s| {
        let done = |route| request_span(s, route).is_some_and(|r| !children(s, &r.span).is_empty());
        done("/hello") && done("/panic")
    });

    let hello = request_span(&spans, "/hello").expect("the /hello span");
    assert_eq!(hello.service, "berth-test");
    let span = &hello.span;
    assert_eq!(span.name, "GET /hello");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(hex(&span.trace_id), TRACE, "the caller's trace");
    assert_eq!(
        hex(&span.parent_span_id),
        PARENT,
        "the caller's span is the parent"
    );
    for (key, want) in [
        ("http.request.method", "GET"),
        ("url.path", "/hello"),
        ("http.response.status_code", "200"),
        ("request.id", "trace-test-1"),
    ] {
        assert_eq!(attribute(span, key).as_deref(), Some(want), "{key}");
    }
    let calls: Vec<&str> = children(&spans, span)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert!(calls.contains(&"hello handle"), "{calls:?}");
    assert!(
        calls.contains(&"logger before"),
        "the logger's GET hook: {calls:?}"
    );
    for call in children(&spans, span) {
        assert!(call.start_time_unix_nano >= span.start_time_unix_nano);
        assert!(call.end_time_unix_nano <= span.end_time_unix_nano);
    }

    let panic = request_span(&spans, "/panic").expect("the /panic span");
    assert_ne!(
        hex(&panic.span.trace_id),
        TRACE,
        "no traceparent: a trace of its own"
    );
    assert!(panic.span.parent_span_id.is_empty(), "a root span");
    let status = |s: &Span| s.status.as_ref().map_or(0, |st| st.code);
    assert_eq!(
        status(&panic.span),
        StatusCode::Error as i32,
        "5xx is an error"
    );
    let failed = children(&spans, &panic.span);
    let handle = failed
        .iter()
        .find(|s| s.name == "misbehave handle")
        .expect("the trapped call");
    assert_eq!(status(handle), StatusCode::Error as i32);
    assert!(attribute(handle, "error.message").is_some_and(|m| !m.is_empty()));

    // A request no route takes is still a span, named by its method only.
    let none = spans
        .iter()
        .find(|r| attribute(&r.span, "url.path").as_deref() == Some("/nowhere"))
        .expect("the 404's span");
    assert_eq!(none.span.name, "GET");
    assert_eq!(
        attribute(&none.span, "http.response.status_code").as_deref(),
        Some("404")
    );
}

#[test]
fn the_callers_sampling_decision_holds() {
    let dir = berth_tests::temp_dir("trace-sampling");
    let collector = Collector::start();
    let served = Served::start(&dir, &collector, 0.0);
    // Sampled by nobody: no span. Sampled by the caller (flags 01): exported.
    for _ in 0..5 {
        assert_eq!(served.get("/hello", &[]), 200);
    }
    let unsampled = format!("00-{TRACE}-{PARENT}-00");
    assert_eq!(
        served.get("/hello", &[("traceparent", unsampled.as_str())]),
        200
    );
    let sampled = format!("00-{TRACE}-{PARENT}-01");
    assert_eq!(
        served.get("/hello", &[("traceparent", sampled.as_str())]),
        200
    );
    let spans = collector.wait_for("the caller-sampled request", |s| {
        request_span(s, "/hello").is_some()
    });
    // One more batch interval: anything else would have arrived with it.
    std::thread::sleep(Duration::from_millis(600));
    let spans = if spans.len() < collector.spans().len() {
        collector.spans()
    } else {
        spans
    };
    assert!(
        spans.iter().all(|r| hex(&r.span.trace_id) == TRACE),
        "only the sampled trace: {spans:#?}"
    );
    let requests = spans
        .iter()
        .filter(|r| attribute(&r.span, "http.route").is_some())
        .count();
    assert_eq!(requests, 1, "one request span");
}
