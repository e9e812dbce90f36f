//! Server-Sent Events and timers, driven by real clients on every runtime: the `pubsub`
//! plugin (subscribe and publish over HTTP), seed 002's sensor monitor, and `misbehave`'s
//! failing timer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use berth_tests::clients::{SseEvent, SseItem, SseReader};
use berth_tests::http_client::client;
use berth_tests::{config, example, per_runtime, Runtime, TestServer};
use reqwest::blocking::Response;
use serde_json::Value;

fn pubsub(rt: Runtime) -> &'static TestServer {
    rt.shared("pubsub", || {
        config(
            "[plugins]\nload = [\"pubsub\"]\n[sse]\nreplay = 8\nqueue = 4\nheartbeat = 0.3\n",
            rt,
        )
    })
}

fn subscribe(s: &TestServer, topic: &str, last_id: Option<&str>) -> Response {
    let mut req = client().get(s.url(&format!("/sse/{topic}")));
    if let Some(id) = last_id {
        req = req.header("Last-Event-ID", id);
    }
    let r = req.send().expect("subscribe");
    assert_eq!(r.status(), 200);
    r
}

fn publish(s: &TestServer, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u64 {
    let mut query = Vec::new();
    if let Some(e) = event {
        query.push(("event", e));
    }
    if let Some(i) = id {
        query.push(("id", i));
    }
    let r = client()
        .post(s.url(&format!("/publish/{topic}")))
        .query(&query)
        .body(data.to_string())
        .send()
        .expect("publish");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().expect("json");
    v["subscribers"].as_u64().expect("subscribers")
}

fn event(id: &str, name: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
        id: Some(id.into()),
        event: name.map(Into::into),
        data: data.into(),
    }
}

/// Waits until `topic` has `n` subscribers (a subscription is registered when the
/// response head is sent, which `subscribe` already waited for; this double-checks).
fn publish_until_reached(s: &TestServer, topic: &str, data: &str, id: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while publish(s, topic, data, None, Some(id)) < n {
        assert!(
            Instant::now() < deadline,
            "{topic} never had {n} subscribers"
        );
    }
}

fn events_with_ids_names_and_replay(rt: Runtime) {
    let s = pubsub(rt);
    let topic = format!("news-{rt:?}");
    let r = subscribe(s, &topic, None);
    let h = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    assert_eq!(h("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(h("cache-control").as_deref(), Some("no-cache"));
    assert_eq!(h("x-accel-buffering").as_deref(), Some("no"));
    let mut live = SseReader::new(r);

    assert_eq!(publish(s, &topic, "first", None, Some("1")), 1);
    assert_eq!(
        publish(s, &topic, "25.5", Some("temperature"), Some("2")),
        1
    );
    assert_eq!(
        publish(s, &topic, "line one\nline two", Some("note"), Some("3")),
        1
    );
    assert_eq!(live.next_event(), event("1", None, "first"));
    assert_eq!(live.next_event(), event("2", Some("temperature"), "25.5"));
    assert_eq!(
        live.next_event(),
        event("3", Some("note"), "line one\nline two")
    );

    // A client that saw id 1 reconnects: 2 and 3 are replayed, then it is live again.
    let mut resumed = SseReader::new(subscribe(s, &topic, Some("1")));
    assert_eq!(
        resumed.next_event(),
        event("2", Some("temperature"), "25.5")
    );
    assert_eq!(
        resumed.next_event(),
        event("3", Some("note"), "line one\nline two")
    );
    assert_eq!(
        publish(s, &topic, "fourth", None, Some("4")),
        2,
        "both subscribers"
    );
    assert_eq!(resumed.next_event(), event("4", None, "fourth"));
    assert_eq!(live.next_event(), event("4", None, "fourth"));
}

fn many_subscribers_and_latency(rt: Runtime) {
    let s = pubsub(rt);
    let topic = format!("fanout-{rt:?}");
    let mut readers: Vec<_> = (0..5)
        .map(|_| SseReader::new(subscribe(s, &topic, None)))
        .collect();
    assert_eq!(publish(s, &topic, "hello", None, Some("0")), 5);
    for r in &mut readers {
        assert_eq!(r.next_event(), event("0", None, "hello"));
    }
    // Publish-to-receipt time, through a real HTTP publish and a real subscriber.
    let mut worst = Duration::ZERO;
    for i in 1..=20 {
        let sent = Instant::now();
        publish(s, &topic, &format!("n{i}"), None, Some(&i.to_string()));
        for r in &mut readers {
            assert_eq!(r.next_event().data, format!("n{i}"));
        }
        worst = worst.max(sent.elapsed());
    }
    println!("SSE publish→receive (5 subscribers), worst of 20: {worst:?}");
    assert!(
        worst < Duration::from_millis(500),
        "events are flushed at once: {worst:?}"
    );
}

fn heartbeat_keeps_idle_clients(rt: Runtime) {
    // [sse] heartbeat = 0.3 s on this server.
    let s = pubsub(rt);
    let mut r = SseReader::new(subscribe(s, &format!("quiet-{rt:?}"), None));
    let started = Instant::now();
    assert_eq!(r.next_item(), Some(SseItem::Comment("heartbeat".into())));
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

fn head_on_sse_route_subscribes_nobody(rt: Runtime) {
    let s = pubsub(rt);
    let r = client()
        .head(s.url(&format!("/sse/head-{rt:?}")))
        .send()
        .expect("HEAD");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    assert_eq!(publish(s, &format!("head-{rt:?}"), "x", None, None), 0);
}

fn slow_subscriber_is_dropped(rt: Runtime) {
    // queue = 4 events on this server. A client that never reads fills the socket,
    // then hyper's buffer, then its queue — and is dropped, not buffered for.
    let s = pubsub(rt);
    let topic = format!("slow-{rt:?}");
    let mut raw = TcpStream::connect(s.addr).expect("connect");
    write!(raw, "GET /sse/{topic} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let big = "x".repeat(64 << 10);
    publish_until_reached(s, &topic, "hello", "0", 1);
    let mut published = 0;
    while publish(s, &topic, &big, None, None) == 1 {
        published += 1;
        assert!(
            published < 2000,
            "a subscriber that does not read was never dropped"
        );
    }
    println!("non-reading subscriber dropped after {published} events of 64 KiB");
    // Once it reads again it gets what was already on its way, then the connection is
    // aborted: it never hangs.
    raw.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut sink = [0u8; 1 << 16];
    loop {
        match raw.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert_eq!(publish(s, &topic, "after", None, None), 0);
}

// ---- timers: seed 002's sensor monitor, and a timer that keeps failing -------------

fn sensor_publishes_every_interval(rt: Runtime) {
    let s = rt.shared("sse-sensor", || {
        let mut c = example("seed002-sse-sensor", rt);
        c.plugin_config
            .insert("sse-sensor".into(), vec![("interval".into(), "0.2".into())]);
        c
    });
    let page = client()
        .get(s.url("/"))
        .send()
        .expect("GET /")
        .text()
        .expect("html");
    assert!(page.contains("new EventSource('/events')"), "{page}");
    let mut r = SseReader::new(subscribe_path(s, "/events"));
    let first = r.next_event();
    let second = r.next_event();
    let id = |e: &SseEvent| {
        e.id.as_deref()
            .and_then(|i| i.parse::<u64>().ok())
            .expect("numeric id")
    };
    assert!(id(&second) > id(&first), "{first:?} then {second:?}");
    for e in [&first, &second] {
        assert_eq!(e.event, None, "the page listens to unnamed events");
        let v: Value = serde_json::from_str(&e.data).expect("json reading");
        let t = v["temperature"].as_u64().expect("temperature");
        let hum = v["humidity"].as_u64().expect("humidity");
        assert!((20..=30).contains(&t) && (50..=80).contains(&hum), "{v}");
        assert!(v["timestamp"].as_u64().is_some(), "{v}");
    }
    // Resuming from the first reading replays the second.
    let mut resumed = SseReader::new(
        client()
            .get(s.url("/events"))
            .header("Last-Event-ID", first.id.clone().unwrap_or_default())
            .send()
            .expect("resume"),
    );
    assert_eq!(resumed.next_event(), second);
}

fn subscribe_path(s: &TestServer, path: &str) -> Response {
    let r = client().get(s.url(path)).send().expect("subscribe");
    assert_eq!(r.status(), 200);
    r
}

fn failing_timer_keeps_running(rt: Runtime) {
    // misbehave panics on every even tick; the timer must carry on regardless.
    let s = rt.shared("ticks", || {
        config(
            "[plugins]\nload = [\"misbehave\"]\n[plugin.misbehave]\ntick_ms = 40\n",
            rt,
        )
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v: Value = client()
            .get(s.url("/ticks"))
            .send()
            .expect("GET")
            .json()
            .expect("json");
        if v["ticks"].as_i64().unwrap_or(0) >= 7 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timer stopped after a failure: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = client().get(s.url("/ok")).send().expect("GET");
    assert_eq!(r.status(), 200);
}

// ---- seed 002's vending dashboard: REST + SSE, simulator off -----------------------

fn vending_rest_and_events(rt: Runtime) {
    let s = rt.shared("vending", || {
        let mut c = example("seed002-sse-dashboard", rt);
        c.plugin_config.insert(
            "vending".into(),
            vec![
                ("simulate".into(), "false".into()),
                ("tick".into(), "60".into()),
            ],
        );
        c
    });
    let stats: Value = client()
        .get(s.url("/api/stats"))
        .send()
        .expect("GET")
        .json()
        .expect("json");
    assert_eq!(stats["stock"]["Chips"], 8, "{stats}");
    assert_eq!(stats["sales_today"], 0, "{stats}");
    assert_eq!(stats["last_sale"], Value::Null, "{stats}");

    let mut events = SseReader::new(subscribe_path(s, "/api/events"));
    let sell = |product: &str| {
        client()
            .post(s.url("/api/sell"))
            .json(&serde_json::json!({"product": product, "price": 4.5}))
            .send()
            .expect("POST")
    };
    // Chips: 8 → 0; the sales that leave fewer than 5 send `low-stock` alerts.
    for left in (0..8).rev() {
        let r = sell("Chips");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().expect("json");
        assert_eq!(
            v,
            serde_json::json!({"success": true, "message": "Chips sold!"})
        );
        if left < 5 {
            let alert = events.next_event();
            assert_eq!(alert.event.as_deref(), Some("low-stock"), "{alert:?}");
            let a: Value = serde_json::from_str(&alert.data).expect("json");
            assert_eq!(a, serde_json::json!({"product": "Chips", "stock": left}));
        }
        let update: Value = serde_json::from_str(&events.next_event().data).expect("json");
        assert_eq!(update["stock"]["Chips"], left, "{update}");
    }
    let r = sell("Chips");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().expect("json");
    assert_eq!(
        v,
        serde_json::json!({"success": false, "message": "Chips out of stock"})
    );
    assert_eq!(sell("Caviar").status(), 400);
    let stats: Value = client()
        .get(s.url("/api/stats"))
        .send()
        .expect("GET")
        .json()
        .expect("json");
    assert_eq!(stats["sales_today"], 8);
    assert_eq!(stats["total_revenue"], 36.0);
    assert_eq!(stats["last_sale"]["product"], "Chips");
}

per_runtime!(
    events_with_ids_names_and_replay,
    many_subscribers_and_latency,
    heartbeat_keeps_idle_clients,
    head_on_sse_route_subscribes_nobody,
    slow_subscriber_is_dropped,
    sensor_publishes_every_interval,
    failing_timer_keeps_running,
    vending_rest_and_events,
);
