//! The `device` plugin's checks (seed 002's Full Example: `/`, `/gc`, `/led`), used by
//! the per-runtime suite (`tests/device.rs`). Each takes a running server and panics on
//! a wrong answer.

use serde_json::Value;

use crate::raw::{RawHttp, RawResponse};
use crate::TestServer;

/// `method path` with `body`, on a fresh connection.
pub fn request(s: &TestServer, method: &str, path: &str, body: &str) -> RawResponse {
    let mut c = RawHttp::connect(s.addr);
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: berth.test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.send(request.as_bytes()).expect("send");
    c.response()
}

/// The status code and the body as JSON.
pub fn json(r: &RawResponse) -> (u16, Value) {
    let status = r
        .status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {:?}", r.status_line));
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&r.body)));
    (status, body)
}

fn call(s: &TestServer, method: &str, path: &str, body: &str) -> (u16, Value) {
    json(&request(s, method, path, body))
}

/// `POST /led` drives the granted pin and `GET /led` reads it back from the host's pin
/// bank (the plugin keeps nothing: each call may land on another instance).
pub fn led_round_trip(s: &TestServer) {
    let on = serde_json::json!({"led": "on"});
    let off = serde_json::json!({"led": "off"});
    assert_eq!(
        call(s, "POST", "/led", r#"{"state":"on"}"#),
        (200, on.clone())
    );
    for _ in 0..3 {
        assert_eq!(call(s, "GET", "/led", ""), (200, on.clone()));
    }
    assert_eq!(
        call(s, "POST", "/led", r#"{"state":0}"#),
        (200, off.clone())
    );
    assert_eq!(call(s, "GET", "/led", ""), (200, off.clone()));
    assert_eq!(
        call(s, "POST", "/led", r#"{"state":true}"#),
        (200, on.clone())
    );
    assert_eq!(call(s, "GET", "/led", ""), (200, on));
    let missing = call(s, "POST", "/led", "{}");
    assert_eq!(
        missing,
        (
            400,
            serde_json::json!({"error": "Missing 'state' field", "code": 400})
        )
    );
    // The 400 wrote nothing: the pin is still high.
    assert_eq!(call(s, "GET", "/led", "").1["led"], "on");
}

/// Without a grant for its pin, both LED routes answer 503 with a JSON error naming the
/// pin, and the server (this plugin's other routes included) carries on.
pub fn ungranted_led_is_503(s: &TestServer, pin: u8) {
    let expected = serde_json::json!({
        "error": format!("GPIO pin {pin} is not granted to this plugin ([grants.device] gpio)"),
        "code": 503,
    });
    for _ in 0..2 {
        assert_eq!(
            call(s, "POST", "/led", r#"{"state":"on"}"#),
            (503, expected.clone())
        );
        assert_eq!(call(s, "GET", "/led", ""), (503, expected.clone()));
    }
    let (status, index) = call(s, "GET", "/", "");
    assert_eq!((status, &index["status"]), (200, &Value::from("online")));
}

/// `GET /` and `GET /gc` report the host's memory: numbers, and free memory above 0.
pub fn memory_figures(s: &TestServer) {
    let (status, index) = call(s, "GET", "/", "");
    assert_eq!(status, 200, "{index}");
    assert_eq!(index["status"], "online");
    let free = index["memory_free"]
        .as_u64()
        .expect("memory_free is a number");
    assert!(free > 0, "{index}");
    let (status, gc) = call(s, "GET", "/gc", "");
    assert_eq!(status, 200, "{gc}");
    assert!(gc["freed"].is_i64(), "freed is an integer: {gc}");
    assert!(gc["free"].as_u64().expect("free is a number") > 0, "{gc}");
    assert_eq!(gc.as_object().map(|o| o.len()), Some(2), "{gc}");
}
