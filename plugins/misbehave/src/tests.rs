//! `cargo test`: the plugin against the SDK's in-memory host (the probes that do not
//! need a real host to misbehave against).
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Misbehave;

#[test]
fn state_probes_and_fill_report_refusals() {
    let app = TestApp::new::<Misbehave>();
    app.limit_state_keys(3);
    let r = app.post("/fill?n=5&size=2&prefix=k").send().json::<Value>();
    assert_eq!(r["stored"], 3);
    assert!(r["error"].as_str().unwrap_or("").contains("3 keys"), "{r}");
    app.put("/state/shared?key=a").body("v").send();
    assert_eq!(
        app.get("/state/shared?key=a").send().json::<Value>(),
        json!({"value": "v"})
    );
    assert_eq!(app.get("/state/other?key=a").send().status(), 400);
}

#[test]
fn websocket_refuses_and_closes() {
    let app = TestApp::new::<Misbehave>();
    let refused = app.ws("/ws/misbehave?refuse").err().expect("refused");
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (403, "Refused by plugin")
    );
    let ws = app
        .ws_with_headers("/ws/misbehave?origin", &[("Origin", "https://o.example")])
        .expect("open");
    assert_eq!(ws.recv_text().as_deref(), Some("origin: https://o.example"));
    ws.send("hi");
    assert_eq!(ws.recv_text().as_deref(), Some("ok: hi"));
    ws.send("flood 3 0");
    assert_eq!(ws.drain().len(), 4);
    ws.send("close 4000 2");
    assert_eq!(ws.closed(), Some((4000, "éé".to_string())));
}

#[test]
fn config_is_passed_through() {
    let app =
        TestApp::with_config::<Misbehave>(&[("extra_timers", "0"), ("k", "v")]).expect("setup");
    assert_eq!(
        app.get("/config").send().json::<Value>(),
        json!({"config": {"extra_timers": "0", "k": "v"}})
    );
}
