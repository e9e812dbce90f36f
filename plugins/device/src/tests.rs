//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Device;

#[test]
fn led_on_a_granted_pin() {
    let app = TestApp::with_config::<Device>(&[("led_pin", "5")]).expect("setup");
    app.grant_gpio(5);
    assert_eq!(
        app.get("/led").send().json::<Value>(),
        json!({"led": "off"})
    );
    for (state, led, level) in [
        (json!(1), "on", true),
        (json!("on"), "on", true),
        (json!(true), "on", true),
        (json!(0), "off", false),
        (json!("yes"), "off", false),
        (json!(1.0), "on", true),
    ] {
        let r = app.post("/led").json(&json!({ "state": state })).send();
        assert_eq!(r.json::<Value>(), json!({ "led": led }), "{state}");
        assert_eq!(app.gpio(5), Some(level), "{state}");
    }
    for body in ["{}", "[]", "nope", r#"{"state":null}"#] {
        let r = app.post("/led").body(body).send();
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(r.text(), r#"{"error":"Missing 'state' field","code":400}"#);
    }
}

#[test]
fn an_ungranted_pin_is_503_and_memory_comes_from_the_host() {
    let app = TestApp::new::<Device>();
    let r = app.post("/led").json(&json!({"state": 1})).send();
    assert_eq!(r.status(), 503);
    assert!(r.text().contains("not granted"), "{}", r.text());
    assert_eq!(app.get("/led").send().status(), 503);
    assert!(app.logged("LED on pin 2"));
    let status = app.get("/").send().json::<Value>();
    assert_eq!(status["status"], "online");
    assert!(status["memory_free"].as_u64().is_some_and(|f| f > 0));
    let gc = app.get("/gc").send().json::<Value>();
    assert_eq!(gc["freed"], 0);
    assert_eq!(app.memory_collects(), 1);
}
