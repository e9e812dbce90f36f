//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Auth;

#[test]
fn guards_the_prefix_with_the_configured_header() {
    let app = TestApp::with_config::<Auth>(&[
        ("header", "X-API-Key"),
        ("secret", "s3cret"),
        ("message", "Invalid API key"),
    ])
    .expect("setup");
    for (target, key, status) in [
        ("/api/users", None, 401),
        ("/api/users", Some("wrong"), 401),
        ("/api", Some("s3cret"), 404), // let through: no route here
        ("/auth/check", None, 200),
        ("/other", None, 404),
    ] {
        let mut req = app.get(target);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        let r = req.send();
        assert_eq!(r.status(), status, "{target} {key:?}");
        if status == 401 {
            assert_eq!(r.text(), r#"{"error":"Invalid API key"}"#);
        }
    }
    assert_eq!(app.get("/auth/check").send().text(), r#"{"valid":true}"#);
}

#[test]
fn defaults() {
    let app = TestApp::new::<Auth>();
    let r = app
        .get("/api/x")
        .header("Authorization", "default-secret")
        .send();
    assert_eq!(r.status(), 404);
    let r = app.get("/api/x").send();
    assert_eq!(r.json::<Value>(), json!({"error": "Unauthorized"}));
}
