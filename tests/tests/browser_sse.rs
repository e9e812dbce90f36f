//! Seed 002's SSE pages in a real browser (headless Chromium through Playwright), on every
//! runtime: the sensor monitor and the vending-machine dashboard show values that change
//! as events arrive. Screenshots land in `target/test-artefacts/`.

use berth_tests::{artefacts_dir, example, per_runtime, python, Runtime, TestServer};
use serde_json::Value;

fn run(which: &str, server: &TestServer, rt: Runtime) -> Value {
    let shot = artefacts_dir().join(format!("seed002-{which}-{rt:?}.png").to_lowercase());
    let _ = std::fs::remove_file(&shot);
    let base = server.url("");
    let shot_arg = shot.display().to_string();
    let out = python("sse_pages.py", &[which, &base, &shot_arg]);
    let line = out.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {out}"));
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "no screenshot at {}", shot.display());
    println!("{which} on {rt:?}: {v} ({})", shot.display());
    v
}

fn sensor_page_updates(rt: Runtime) {
    let mut c = example("seed002-sse-sensor", rt);
    c.plugin_config
        .insert("sse-sensor".into(), vec![("interval".into(), "0.3".into())]);
    let server = rt.start(c).expect("server");
    let v = run("sensor", &server, rt);
    assert_ne!(v["first"], v["later"], "{v}");
    for pair in [&v["first"], &v["later"]] {
        let t: u32 = pair[0]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("temperature");
        let h: u32 = pair[1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("humidity");
        assert!((20..=30).contains(&t) && (50..=80).contains(&h), "{v}");
    }
}

fn dashboard_updates(rt: Runtime) {
    let mut c = example("seed002-sse-dashboard", rt);
    let fast = [
        ("tick", "0.3"),
        ("first_sale", "0.5"),
        ("min_gap", "0.3"),
        ("max_gap", "0.6"),
        ("low_stock", "9"),
    ];
    c.plugin_config.insert(
        "vending".into(),
        fast.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let server = rt.start(c).expect("server");
    let v = run("dashboard", &server, rt);
    let (first, now) = (v["first_sales"].as_i64(), v["sales"].as_i64());
    assert!(now >= first.map(|f| f + 2), "{v}");
    assert!(
        v["revenue"]
            .as_str()
            .is_some_and(|r| r.starts_with('$') && r != "$0.00"),
        "{v}"
    );
    assert!(
        v["last_sale"].as_str().is_some_and(|s| s.contains('$')),
        "{v}"
    );
    assert!(
        v["alert"].as_str().is_some_and(|a| a.contains("left")),
        "{v}"
    );
    assert!(v["low"].as_i64().is_some_and(|n| n >= 1), "{v}");
}

per_runtime!(sensor_page_updates, dashboard_updates);
