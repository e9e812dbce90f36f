//! `cargo test`: the plugin against the SDK's in-memory host.
use std::time::Duration;

use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Vending;

#[test]
fn sales_stock_and_low_stock_events() {
    let app = TestApp::with_config::<Vending>(&[("simulate", "false"), ("low_stock", "7")])
        .expect("setup");
    app.start();
    for _ in 0..2 {
        let r = app
            .post("/api/sell")
            .json(&json!({"product": "Chips", "price": 4.5}))
            .send();
        assert_eq!(r.text(), r#"{"success":true,"message":"Chips sold!"}"#);
    }
    let stats = app.get("/api/stats").send().json::<Value>();
    assert_eq!(stats["sales_today"], 2);
    assert_eq!(stats["total_revenue"], 9.0);
    assert_eq!(stats["stock"]["Chips"], 6);
    assert_eq!(stats["last_sale"]["product"], "Chips");
    let low: Vec<_> = app
        .published()
        .into_iter()
        .filter(|e| e.event.as_deref() == Some("low-stock"))
        .collect();
    assert_eq!(low.len(), 1, "only the sale that left 6 < 7");
    assert_eq!(low[0].data, r#"{"product":"Chips","stock":6}"#);

    let r = app
        .post("/api/sell")
        .json(&json!({"product": "Caviar"}))
        .send();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text(),
        r#"{"success":false,"message":"Caviar out of stock"}"#
    );
    assert_eq!(app.get("/api/events").send().sse_topic(), Some("vending"));
}

#[test]
fn sells_out_and_simulates() {
    let app =
        TestApp::with_config::<Vending>(&[("first_sale", "1"), ("min_gap", "1"), ("max_gap", "1")])
            .expect("setup");
    app.start();
    for _ in 0..8 {
        app.post("/api/sell")
            .json(&json!({"product": "Chips", "price": 1}))
            .send();
    }
    let r = app
        .post("/api/sell")
        .json(&json!({"product": "Chips", "price": 1}))
        .send();
    assert_eq!(r.status(), 400);
    let before = app.get("/api/stats").send().json::<Value>()["sales_today"].clone();
    app.advance(Duration::from_millis(3_100));
    let after = app.get("/api/stats").send().json::<Value>();
    let sold = after["sales_today"].as_i64().unwrap_or(0) - before.as_i64().unwrap_or(0);
    // Three simulated sales were due (1 s, 2 s, 3 s after start); each sold unless it
    // picked the sold-out Chips, and each one sold is logged.
    let simulated = app
        .logs()
        .iter()
        .filter(|(_, line)| line.starts_with("simulated sale"))
        .count() as i64;
    assert_eq!(sold, simulated, "{after}");
    assert_eq!(
        state::get_i64("next_sale_ms"),
        state::get_i64("started_ms") + 4000
    );
    assert!(app
        .published()
        .iter()
        .any(|e| e.event.is_none() && e.data.contains("uptime")));
}
