//! Prometheus metrics and health checks on the admin listener (`[admin] listen`),
//! scraped over HTTP after known traffic: every counter moves by exactly what was sent,
//! and the exposition passes `promtool check metrics` (Debian's `prometheus` package,
//! installed by `scripts/test-deps.sh`). Server runtime only: the embedded runtime has
//! no admin listener.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use berth_tests::{config, per_engine, EngineKind, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const ADMIN: &str = "[admin]\nlisten = \"127.0.0.1:0\"\n";

/// One sample of the exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition's samples (comments skipped).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("label pair");
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
                None => (series.to_string(), BTreeMap::new()),
            };
            Sample {
                name,
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the series `name` whose labels include `labels` (0 when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().map_or(0.0, |s| s.value)
}

fn scrape(server: &TestServer) -> (String, Vec<Sample>) {
    let admin = server.admin_addr.expect("an admin listener");
    let response = reqwest::blocking::get(format!("http://{admin}/metrics")).expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().expect("body");
    let samples = parse(&text);
    (text, samples)
}

/// `promtool check metrics` on the exposition.
fn promtool_accepts(text: &str) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}); scripts/test-deps.sh installs Debian's prometheus")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the exposition");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool refused the exposition:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn raw_request(server: &TestServer, request: &str) -> String {
    let mut tcp = TcpStream::connect(server.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = tcp.read_to_string(&mut out);
    out
}

/// Known traffic, then one scrape: requests by plugin, route pattern, method and class;
/// the latency histogram; call durations by entry point; traps and timeouts; limit
/// hits; WebSocket messages and bytes; connections open.
fn counters_move_by_what_was_sent(engine: EngineKind) {
    let toml = format!(
        "{ADMIN}[plugins]\nload = [\"hello\", \"ws-echo\", \"misbehave\"]\n\
         [limits]\nmax_body_size = 100\nmax_header_size = 200\nplugin_timeout = 0.3\n\
         ws_max_message = 1000\n"
    );
    let server = TestServer::start(config(&toml, engine)).expect("starts");
    let client = reqwest::blocking::Client::new();
    for _ in 0..7 {
        assert_eq!(
            client
                .get(server.url("/hello"))
                .send()
                .expect("GET")
                .status(),
            200
        );
    }
    for path in ["/state/shared?key=a", "/state/other?key=b"] {
        client.get(server.url(path)).send().expect("GET");
    }
    for _ in 0..3 {
        assert_eq!(
            client
                .get(server.url("/nope"))
                .send()
                .expect("GET")
                .status(),
            404
        );
    }
    for _ in 0..2 {
        let r = client
            .post(server.url("/hello"))
            .body(vec![b'x'; 101])
            .send()
            .expect("POST");
        assert_eq!(r.status(), 413);
    }
    let big = client
        .get(server.url("/hello"))
        .header("x-big", "v".repeat(250))
        .send();
    assert_eq!(big.expect("GET").status(), 431);
    let long = raw_request(
        &server,
        &format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "a".repeat(9000)
        ),
    );
    assert!(long.starts_with("HTTP/1.1 414"), "{long}");
    assert_eq!(
        client
            .get(server.url("/panic"))
            .send()
            .expect("GET")
            .status(),
        500
    );
    assert_eq!(
        client
            .get(server.url("/loop"))
            .send()
            .expect("GET")
            .status(),
        504
    );

    let ws_traffic = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url("/ws/echo"))
                .await
                .expect("ws");
            let greeting = ws.next().await.expect("open").expect("greeting");
            assert_eq!(greeting.to_text().expect("text"), "Welcome!");
            let sent = ["a", "bc", "def"];
            for m in sent {
                ws.send(Message::text(m)).await.expect("send");
                let echo = ws.next().await.expect("open").expect("echo");
                assert_eq!(echo.to_text().expect("text"), format!("Echo: {m}"));
            }
            // Over ws_max_message: closed with 1009.
            ws.send(Message::text("x".repeat(1500)))
                .await
                .expect("send");
            let mut code = None;
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Close(Some(frame)) = m {
                    code = Some(u16::from(frame.code));
                }
            }
            assert_eq!(code, Some(1009));
            sent
        });
    drop(client);

    let (text, samples) = scrape(&server);
    promtool_accepts(&text);
    let requests = |plugin, route, method, status| {
        value(
            &samples,
            "berth_requests_total",
            &[
                ("plugin", plugin),
                ("route", route),
                ("method", method),
                ("status", status),
            ],
        )
    };
    assert_eq!(requests("hello", "/hello", "GET", "2xx"), 7.0);
    assert_eq!(
        requests("misbehave", "/state/<scope>", "GET", "2xx")
            + requests("misbehave", "/state/<scope>", "GET", "4xx"),
        2.0
    );
    assert_eq!(
        requests("", "", "GET", "4xx"),
        3.0 + 1.0 + 1.0,
        "404s, 431, 414"
    );
    assert_eq!(requests("", "", "POST", "4xx"), 2.0, "413s");
    assert_eq!(requests("misbehave", "/panic", "GET", "5xx"), 1.0);
    assert_eq!(requests("misbehave", "/loop", "GET", "5xx"), 1.0);
    assert_eq!(requests("", "", "GET", "1xx"), 1.0, "the WebSocket upgrade");
    let total = 7.0 + 2.0 + 3.0 + 2.0 + 1.0 + 1.0 + 2.0 + 1.0;
    assert_eq!(
        value(&samples, "berth_request_duration_seconds_count", &[]),
        total
    );
    let calls = |plugin, entry| {
        value(
            &samples,
            "berth_plugin_call_duration_seconds_count",
            &[("plugin", plugin), ("entry", entry)],
        )
    };
    assert_eq!(calls("hello", "handle"), 7.0);
    assert_eq!(calls("misbehave", "handle"), 2.0 + 2.0);
    // ws-echo hears connect, 3 messages, then the disconnect (or not yet: it follows the
    // close), all as events.
    assert!(
        (4.0..=5.0).contains(&calls("ws-echo", "event")),
        "{}",
        calls("ws-echo", "event")
    );
    let failures = |kind| {
        value(
            &samples,
            "berth_plugin_failures_total",
            &[("plugin", "misbehave"), ("kind", kind)],
        )
    };
    assert_eq!(
        (
            failures("trap"),
            failures("timeout"),
            failures("out_of_memory")
        ),
        (1.0, 1.0, 0.0)
    );
    let hits = |kind| value(&samples, "berth_limit_hits_total", &[("kind", kind)]);
    assert_eq!(
        (hits("413"), hits("414"), hits("431"), hits("1009")),
        (2.0, 1.0, 1.0, 1.0)
    );
    // The message over ws_max_message is refused before it is read whole: not counted.
    let in_bytes: usize = ws_traffic.iter().map(|m| m.len()).sum::<usize>();
    let out_bytes: usize = "Welcome!".len() + ws_traffic.iter().map(|m| 6 + m.len()).sum::<usize>();
    let ws = |name, direction| value(&samples, name, &[("direction", direction)]);
    assert_eq!(ws("berth_websocket_messages_total", "in"), 3.0);
    assert_eq!(ws("berth_websocket_bytes_total", "in"), in_bytes as f64);
    assert_eq!(ws("berth_websocket_messages_total", "out"), 4.0);
    assert_eq!(ws("berth_websocket_bytes_total", "out"), out_bytes as f64);
    // misbehave's trap and timeout replaced instances: more were created than plugins.
    let created = |plugin| {
        value(
            &samples,
            "berth_instances_created_total",
            &[("plugin", plugin)],
        )
    };
    assert!(created("misbehave") >= 2.0, "{}", created("misbehave"));
    assert!(created("hello") >= 1.0);
    assert!(value(&samples, "berth_instances_pooled", &[("plugin", "hello")]) >= 1.0);

    // Connections open: exactly the ones held now (earlier clients have gone).
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, samples) = scrape(&server);
        let open = value(&samples, "berth_connections_open", &[("listener", "http")]);
        if open == 3.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connections open: {open}, 3 held"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(held);
    server.shutdown();
}

/// Over `max_connections`: 503s counted by listener; SSE subscribers and topics.
fn refusals_and_sse_gauges(engine: EngineKind) {
    let toml =
        format!("{ADMIN}[plugins]\nload = [\"sse-sensor\"]\n[limits]\nmax_connections = 2\n");
    let server = TestServer::start(config(&toml, engine)).expect("starts");
    let subscribe = || {
        let mut tcp = TcpStream::connect(server.addr).expect("connect");
        tcp.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).expect("response head");
        (tcp, head)
    };
    let (a, head) = subscribe();
    assert_eq!(&head, b"HTTP/1.1 200");
    let (b, _) = subscribe();
    for _ in 0..3 {
        let refused = raw_request(
            &server,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    }
    let (text, samples) = scrape(&server);
    promtool_accepts(&text);
    assert_eq!(
        value(
            &samples,
            "berth_connections_refused_total",
            &[("listener", "http")]
        ),
        3.0
    );
    assert_eq!(value(&samples, "berth_sse_subscribers", &[]), 2.0);
    assert_eq!(value(&samples, "berth_sse_topics", &[]), 1.0);
    drop((a, b));
    server.shutdown();
}

/// /healthz while alive; /readyz 200 while serving and 503 from the start of shutdown;
/// nothing of it on the public port; no admin listener unless configured.
fn health_checks(engine: EngineKind) {
    let toml = format!(
        "{ADMIN}[server]\nshutdown_timeout = 5.0\n[plugins]\nload = [\"hello\", \"misbehave\"]\n\
         [limits]\nplugin_timeout = 2.0\nrequest_timeout = 3.0\n"
    );
    let server = TestServer::start(config(&toml, engine)).expect("starts");
    let admin = server.admin_addr.expect("admin");
    let get = |path: &str| {
        reqwest::blocking::get(format!("http://{admin}{path}"))
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    };
    assert_eq!(get("/healthz").expect("healthz"), (200, "ok\n".into()));
    assert_eq!(get("/readyz").expect("readyz"), (200, "ready\n".into()));
    assert_eq!(get("/other").expect("404").0, 404);
    for path in ["/metrics", "/healthz", "/readyz"] {
        let public = reqwest::blocking::get(server.url(path)).expect("public");
        assert_eq!(public.status(), 404, "{path} on the public port");
    }
    // A request in flight keeps the drain going for a while: readyz says 503 meanwhile.
    let url = server.url("/loop");
    let slow = std::thread::spawn(move || reqwest::blocking::get(url).map(|r| r.status().as_u16()));
    // Shut down only once the request is in (its connection open), or a loaded machine
    // may begin the drain before it arrives, with nothing left to wait for.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, samples) = scrape(&server);
        if value(&samples, "berth_connections_open", &[("listener", "http")]) >= 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the slow request never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    server.shutdown();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let (status, _) = get("/readyz").expect("readyz while draining");
        if status == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "readyz never went 503");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get("/healthz").expect("healthz while draining").0, 200);
    assert_eq!(slow.join().expect("thread").expect("answered"), 504);
    assert!(server.wait_stopped(Duration::from_secs(10)));

    let plain =
        TestServer::start(config("[plugins]\nload = [\"hello\"]\n", engine)).expect("starts");
    assert!(
        plain.admin_addr.is_none(),
        "the admin listener is off by default"
    );
    plain.shutdown();
}

/// State calls by operation and outcome, and the value bytes read and written.
fn state_calls_are_counted(engine: EngineKind) {
    let toml = format!("{ADMIN}[plugins]\nload = [\"misbehave\"]\n[limits]\nstate_max_value = 8\n");
    let server = TestServer::start(config(&toml, engine)).expect("starts");
    let client = reqwest::blocking::Client::new();
    let put = |key: &str, body: &str| {
        let url = server.url(&format!("/state/plugin?key={key}"));
        let r = client.put(url).body(body.to_string()).send().expect("PUT");
        assert_eq!(r.status(), 200);
    };
    let get = |key: &str| {
        let url = server.url(&format!("/state/plugin?key={key}"));
        client.get(url).send().expect("GET").text().expect("body")
    };
    put("a", "hello");
    put("b", "abc");
    put("big", "nine byte");
    for _ in 0..3 {
        assert_eq!(get("a"), r#"{"value":"hello"}"#);
    }
    assert_eq!(
        get("big"),
        r#"{"value":null}"#,
        "the refused write stored nothing"
    );
    let (text, samples) = scrape(&server);
    promtool_accepts(&text);
    let ops = |op: &str, outcome: &str| {
        value(
            &samples,
            "berth_state_operations_total",
            &[("op", op), ("outcome", outcome)],
        )
    };
    assert_eq!(ops("set", "ok"), 2.0);
    assert_eq!(ops("set", "refused"), 1.0);
    assert_eq!(ops("get", "ok"), 4.0);
    assert_eq!(ops("get", "unavailable"), 0.0);
    let bytes = |direction: &str| {
        value(
            &samples,
            "berth_state_bytes_total",
            &[("direction", direction)],
        )
    };
    assert_eq!(bytes("written"), 8.0, "hello + abc");
    assert_eq!(bytes("read"), 15.0, "hello three times");
    server.shutdown();
}

per_engine!(
    counters_move_by_what_was_sent,
    refusals_and_sse_gauges,
    health_checks,
    state_calls_are_counted
);
