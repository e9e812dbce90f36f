//! The cluster's failure cases (part of `cluster.rs`): a node killed with SIGKILL, Redis
//! stopped and restarted under traffic, and a cluster-wide timer moving off a dead node.

use std::io::BufReader;
use std::time::{Duration, Instant};

use berth_tests::clients::SseReader;
use berth_tests::cluster::{within, Node};
use berth_tests::http_client::client;
use serde_json::json;

use super::ws_support::{self, block_on, connect, recv_json, send_json};
use super::{ask, get, setup_with, text_of, two_nodes, two_nodes_in};

/// A node killed with SIGKILL leaves every room and member list within 10 s.
#[test]
fn a_killed_node_leaves_every_room() {
    let (_redis, a, mut b) = two_nodes("kill", "wasmtime", "");
    block_on(async {
        let mut on_a = connect(&a.ws_url("/probe")).await;
        let mut on_b = connect(&b.ws_url("/probe")).await;
        let id_a = ask(&mut on_a, json!({"op": "whoami"})).await["id"]
            .as_u64()
            .expect("id");
        for ws in [&mut on_a, &mut on_b] {
            assert_eq!(
                ask(ws, json!({"op": "join", "room": "k"})).await["joined"],
                true
            );
        }
        assert_eq!(
            get(&a.url("/members/k")).1["members"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        // Traffic from A while B dies: replies keep coming.
        b.kill();
        for _ in 0..5 {
            let reply = ask(&mut on_a, json!({"op": "whoami"})).await;
            assert_eq!(reply["id"].as_u64(), Some(id_a));
        }
        let took = within(Duration::from_secs(10), "dead node's members gone", || {
            get(&a.url("/members/k")).1["members"] == json!([id_a])
        });
        eprintln!("members cleared {took:?} after SIGKILL");
        // Broadcasts count only the living (the sender is a member: it hears it first).
        send_json(&mut on_a, json!({"op": "bcast", "room": "k", "text": "x"})).await;
        assert_eq!(ws_support::recv_text(&mut on_a).await, "x");
        assert_eq!(recv_json(&mut on_a).await["reached"], 1);
    });
}

/// Redis stopped mid-traffic: state calls fail fast with 503 and local WebSocket traffic
/// goes on; when Redis returns the node recovers by itself, and what was acknowledged
/// before (AOF, `appendfsync always`) is still there.
#[test]
fn redis_outage_fails_cleanly_and_recovers() {
    let admin = "[admin]\nlisten = \"127.0.0.1:0\"\n";
    let (mut redis, a, b) = two_nodes_in(setup_with("outage", true), "wasmtime", admin);
    let ready = || {
        let addr = a.admin_addr.expect("an admin listener");
        berth_tests::clients::raw_get(addr, "/readyz", &[]).status
    };
    assert_eq!(ready(), 200);
    for _ in 0..10 {
        assert_eq!(get(&a.url("/incr/kept")).0, 200);
    }
    let put = |body: &str| {
        client()
            .put(a.url("/state/note"))
            .body(body.to_string())
            .send()
            .expect("PUT")
            .status()
            .as_u16()
    };
    assert_eq!(put("written before the outage"), 200);
    assert_eq!(
        get(&a.url("/interop/visits")).0,
        200,
        "the Python plugin serves"
    );
    // Traffic throughout: increments from node B, each answered 200 or 503, none slow.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (stop, url) = (stop.clone(), b.url("/incr/traffic"));
        std::thread::spawn(move || {
            let (mut ok, mut slowest) = (0i64, Duration::ZERO);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let (status, body) = get(&url);
                slowest = slowest.max(started.elapsed());
                match status {
                    200 => ok += 1,
                    503 => {}
                    other => panic!("incr answered {other} {body}"),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (ok, slowest)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    block_on(async {
        let mut on_a = connect(&a.ws_url("/probe")).await;
        assert_eq!(
            ask(&mut on_a, json!({"op": "join", "room": "o"})).await["joined"],
            true
        );
        redis.stop();
        within(Duration::from_secs(5), "/readyz to see Redis gone", || {
            ready() == 503
        });
        // Every state call answers 503 within a bounded time.
        for _ in 0..5 {
            let started = Instant::now();
            assert_unavailable(&a.url("/incr/kept"));
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "took {:?}",
                started.elapsed()
            );
        }
        // Writes fail too (503, nothing stored), and so do reads, deletes and
        // listings through the `try_` calls; the old `state-get` answers "missing".
        let url = a.url("/state/note");
        let refused = tokio::task::spawn_blocking(move || {
            let r = client().put(url).body("during").send().expect("PUT");
            r.status().as_u16()
        })
        .await
        .expect("PUT task");
        assert_eq!(refused, 503);
        for path in ["/state/note", "/keys/n"] {
            assert_unavailable(&a.url(path));
        }
        let url = a.url("/state/note");
        let deleted = tokio::task::spawn_blocking(move || {
            client()
                .delete(url)
                .send()
                .expect("DELETE")
                .status()
                .as_u16()
        })
        .await
        .expect("DELETE task");
        assert_eq!(deleted, 503);
        assert_eq!(get(&a.url("/shared/note")).0, 404);
        // A Python plugin's `app.state` and `incr` answer 503 too.
        for path in ["/interop/visits", "/interop/state/interop_visits"] {
            assert_unavailable(&a.url(path));
        }
        // Local WebSocket traffic goes on.
        let reply = ask(&mut on_a, json!({"op": "whoami"})).await;
        assert!(reply["id"].is_u64());
        send_json(
            &mut on_a,
            json!({"op": "bcast", "room": "o", "text": "local"}),
        )
        .await;
        assert_eq!(ws_support::recv_text(&mut on_a).await, "local");
        assert_eq!(recv_json(&mut on_a).await["reached"], 1);
        // It leaves while Redis is away: its clean-up waits for Redis.
        ws_support::close_normally(&mut on_a).await;
        let _ = ws_support::expect_close(&mut on_a).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    redis.restart();
    within(
        Duration::from_secs(10),
        "recovery after redis returns",
        || get(&a.url("/incr/probe")).0 == 200,
    );
    within(Duration::from_secs(10), "/readyz after recovery", || {
        ready() == 200
    });
    assert_eq!(
        get(&a.url("/incr/kept")).1["n"],
        11,
        "acknowledged increments survive"
    );
    assert_eq!(
        text_of(&a.url("/state/note")),
        (200, "written before the outage".into()),
        "an acknowledged write survives, and the refused one was not stored"
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, slowest) = traffic.join().expect("traffic thread");
    assert!(
        slowest < Duration::from_millis(2500),
        "a request took {slowest:?}"
    );
    let (_, n) = get(&a.url("/incr/traffic"));
    let counted = n["n"].as_i64().expect("count") - 1;
    assert!(
        counted >= ok,
        "{ok} acknowledged increments, {counted} kept"
    );
    // The connection that closed during the outage left room "o" once Redis was back.
    within(Duration::from_secs(5), "clean-up after the outage", || {
        get(&b.url("/members/o")).1["members"] == json!([])
    });
}

/// A cluster-wide timer fires on one node only, and moves when that node dies.
#[test]
fn a_cluster_timer_fires_once_and_moves() {
    let extra = "timers = { cluster-probe = \"cluster\", sse-sensor = \"cluster\" }\n";
    let (_redis, a, b) = two_nodes("timer", "wasmtime", extra);
    // Seed 002's SSE sensor (every 0.5 s) publishes once per interval with two nodes:
    // six events take at least 2.5 s, and their ids go up by one.
    let r = client().get(b.url("/events")).send().expect("subscribe");
    let mut sensor = SseReader::new(BufReader::new(r));
    let first: u64 = sensor
        .next_event()
        .id
        .expect("id")
        .parse()
        .expect("numeric id");
    let started = Instant::now();
    for n in 1..=5 {
        let id: u64 = sensor
            .next_event()
            .id
            .expect("id")
            .parse()
            .expect("numeric id");
        assert_eq!(id, first + n, "one publisher, consecutive ids");
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2000),
        "5 intervals took {took:?}: two publishers?"
    );
    drop(sensor);
    let mut nodes = [Some(a), Some(b)];
    let observer = |nodes: &[Option<Node>; 2]| -> String {
        nodes.iter().flatten().next().expect("a node").url("")
    };
    let ticks = |base: &str, name: &str| -> i64 {
        text_of(&format!("{base}/shared/ticks:{name}"))
            .1
            .parse()
            .unwrap_or(0)
    };
    within(Duration::from_secs(10), "the timer fires", || {
        let base = observer(&nodes);
        ticks(&base, "a") + ticks(&base, "b") > 3
    });
    let base = observer(&nodes);
    let (a0, b0) = (ticks(&base, "a"), ticks(&base, "b"));
    std::thread::sleep(Duration::from_secs(2));
    let (a1, b1) = (ticks(&base, "a"), ticks(&base, "b"));
    let (holder, other) = match (a1 > a0, b1 > b0) {
        (true, false) => (0, "b"),
        (false, true) => (1, "a"),
        both => panic!("expected exactly one node firing, got {both:?} ({a0}->{a1}, {b0}->{b1})"),
    };
    // Two seconds at 0.2 s: about ten ticks from the one holder, not twenty.
    assert!((a1 - a0) + (b1 - b0) <= 13, "{a0}->{a1}, {b0}->{b1}");
    if let Some(mut n) = nodes[holder].take() {
        n.kill();
    }
    let base = observer(&nodes);
    let before = ticks(&base, other);
    let took = within(Duration::from_secs(10), "the timer moves", || {
        ticks(&base, other) > before + 2
    });
    eprintln!("timer moved {took:?} after SIGKILL");
}

/// `url` answers 503 with an error naming the store unavailable.
fn assert_unavailable(url: &str) {
    let (status, body) = get(url);
    assert_eq!(status, 503, "{url}: {body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unavailable"),
        "{body}"
    );
}
