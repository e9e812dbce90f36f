//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Users;

#[test]
fn creates_lists_and_broadcasts_users() {
    let app = TestApp::new::<Users>();
    let watcher = app.ws_dedicated("/").expect("open");
    assert!(watcher.data("connected_at").is_some());
    let r = app.post("/api/users").json(&json!({"name": "Ada"})).send();
    assert_eq!(r.status(), 201);
    assert_eq!(r.text(), r#"{"id":"1","name":"Ada"}"#);
    let r = app
        .post("/api/users")
        .json(&json!({"id": "x", "n": 2}))
        .send();
    assert_eq!(r.text(), r#"{"id":"x","n":2}"#);
    assert_eq!(
        app.get("/api/users").send().json::<Value>(),
        json!({"users": [{"id": "1", "name": "Ada"}, {"id": "x", "n": 2}]})
    );
    assert_eq!(
        watcher.recv_json(),
        Some(json!({"event": "user_created", "user": {"id": "1", "name": "Ada"}}))
    );
    for (body, message) in [
        ("{", "Invalid JSON body"),
        ("[1]", "JSON object body required"),
        ("", "Invalid JSON body"),
    ] {
        let r = app.post("/api/users").body(body).send();
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(r.json::<Value>(), json!({"error": message, "code": 400}));
    }
}

#[test]
fn a_refused_write_is_not_a_201() {
    let app = TestApp::new::<Users>();
    // Room for the id counter and one user.
    app.limit_state_keys(2);
    assert_eq!(app.post("/api/users").json(&json!({})).send().status(), 201);
    let r = app.post("/api/users").json(&json!({"name": "Bob"})).send();
    assert_eq!(r.status(), 507, "{}", r.text());
    assert!(r.text().contains("refused"), "{}", r.text());
    assert_eq!(
        app.get("/api/users").send().json::<Value>()["users"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn ping_pong_stops() {
    let app = TestApp::new::<Users>();
    let ws = app.ws_dedicated("/").expect("open");
    ws.send(r#"{"type":"ping"}"#);
    let pong = ws.recv_json().expect("pong");
    assert_eq!(pong["type"], "pong");
    assert!(pong["time"].as_f64().is_some_and(|t| t > 1.7e9), "{pong}");
    ws.send("other");
    assert_eq!(ws.recv_text().as_deref(), Some("other")); // echoed on the dedicated port
}
