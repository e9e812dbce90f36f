//! `cargo test`: the plugin against the SDK's in-memory host.
use std::time::Duration;

use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::SseSensor;

#[test]
fn publishes_a_reading_every_interval() {
    let app =
        TestApp::with_config::<SseSensor>(&[("interval", "0.5"), ("topic", "t")]).expect("setup");
    assert_eq!(app.get("/events").send().sse_topic(), Some("t"));
    assert!(app.get("/").send().text().contains("EventSource"));
    app.advance(Duration::from_millis(1999));
    let events = app.published();
    assert_eq!(events.len(), 3);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            (e.topic.as_str(), e.id.clone()),
            ("t", Some((i + 1).to_string()))
        );
        let v: Value = berth_sdk::serde_json::from_str(&e.data).expect("json");
        let t = v["temperature"].as_u64().expect("temperature");
        let h = v["humidity"].as_u64().expect("humidity");
        assert!((20..=30).contains(&t) && (50..=80).contains(&h), "{v}");
    }
}

#[test]
fn refuses_a_bad_interval() {
    for bad in ["0", "-1", "nan", "soon"] {
        assert!(
            TestApp::with_config::<SseSensor>(&[("interval", bad)]).is_err(),
            "{bad}"
        );
    }
}
