//! Request ids (`x-request-id`), by berth-core's rule on every runtime: a client's id is
//! kept, a missing or unacceptable one is replaced by one the host makes, and the
//! response carries it. On the server runtime the access event and the log lines
//! plugins write while handling the request carry it too (captured in-process as the
//! JSON log format writes them).

use berth_tests::{config, per_engine, per_runtime, EngineKind, Runtime, TestServer};
use serde_json::Value;

fn field<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["fields"][name].as_str()
}

/// The access events and the logger plugin's lines that carry `id`.
fn lines_with(logs: &berth_tests::logs::Logs, id: &str) -> (usize, usize) {
    let events = logs.events();
    let with = |target: &str| {
        events
            .iter()
            .filter(|e| e["target"] == target && field(e, "request_id") == Some(id))
            .count()
    };
    (with("access"), with("plugin"))
}

/// Ids the host made: 16 hex digits each, no two alike.
fn assert_made(made: &[String]) {
    for id in made {
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    }
    let mut unique = made.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), made.len(), "{made:?}");
}

fn ids_are_kept_made_and_logged(engine: EngineKind) {
    let logs = berth_tests::logs::capture();
    let server = TestServer::start(config(
        "[plugins]\nload = [\"logger\", \"hello\"]\n",
        engine,
    ))
    .expect("starts");
    let client = reqwest::blocking::Client::new();
    let get = |id: Option<&str>| {
        let mut request = client.get(server.url("/hello"));
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().expect("GET");
        assert_eq!(response.status(), 200);
        response.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_string()
    };
    // Kept as sent.
    let given = format!("trace-{engine:?}-7f3a");
    assert_eq!(get(Some(&given)), given);
    // Made when absent or unacceptable: 16 hex digits, a new one each time.
    let made: Vec<String> = [None, None, Some("x".repeat(200).as_str()), Some("a b")]
        .into_iter()
        .map(get)
        .collect();
    assert_made(&made);
    // One access event and the logger's two lines (`[LOG] GET /hello`, then its access
    // line after the response) per request, each with the request's id.
    for id in std::iter::once(&given).chain(&made) {
        assert_eq!(lines_with(&logs, id), (1, 2), "{id}: {}", logs.text());
    }
    // Responses the host makes on its own carry one too.
    let missing = client.get(server.url("/nope")).send().expect("GET");
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
    server.shutdown();
}

/// The response's id on every runtime: kept when acceptable, else 16 new hex digits.
fn ids_round_trip(rt: Runtime) {
    let server = rt
        .start(config("[plugins]\nload = [\"hello\"]\n", rt.engine()))
        .expect("starts");
    let get = |id: Option<&str>| {
        let headers: Vec<(&str, &str)> = id.map(|id| ("x-request-id", id)).into_iter().collect();
        let r = berth_tests::clients::raw_get(server.addr, "/hello", &headers);
        assert_eq!(r.status, 200);
        r.header("x-request-id")
            .expect("an x-request-id")
            .to_string()
    };
    let kept = "edge-4f2b:17";
    assert_eq!(get(Some(kept)), kept);
    let made: Vec<String> = [
        None,
        None,
        Some("x".repeat(129).as_str()),
        Some("tab\there"),
    ]
    .into_iter()
    .map(get)
    .collect();
    assert_made(&made);
    server.shutdown();
}

per_engine!(ids_are_kept_made_and_logged);
per_runtime!(ids_round_trip);
