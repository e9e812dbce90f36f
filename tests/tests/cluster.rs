//! Scale-out through Redis (`[cluster]`), black-box: a real `redis-server` on a free
//! loopback port and two server nodes as processes of their own, driven by HTTP, SSE and
//! WebSocket clients. The cluster is server-runtime only; each case runs on wasmtime,
//! and the shared-state case on wasmi too.
//!
//! Every case has its own Redis, so cases run in parallel without seeing each other.

#[path = "ws_support/mod.rs"]
mod ws_support;

mod cluster_faults;

use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use berth_tests::clients::SseReader;
use berth_tests::cluster::{within, Node, Redis};
use berth_tests::http_client::{client, json_of};
use serde_json::{json, Value};
use ws_support::{block_on, connect, recv_json, send_json, Ws};

const BIN: &str = env!("CARGO_BIN_EXE_berth-node");

/// A folder with the probe plugin in it, and the config text of node `name`.
fn setup(case: &str) -> std::path::PathBuf {
    setup_with(case, false)
}

/// [`setup`], with the Python interop plugin too when `python` (built on first use).
fn setup_with(case: &str, python: bool) -> std::path::PathBuf {
    let dir = berth_tests::temp_dir(&format!("cluster-{case}"));
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::write(
        plugins.join("cluster-probe.wasm"),
        berth_tests::guests::CLUSTER_PROBE,
    )
    .expect("probe");
    for (name, bytes) in berth_tests::plugins::ALL {
        if ["chat", "ws-echo", "sse-sensor"].contains(name) {
            std::fs::write(plugins.join(format!("{name}.wasm")), bytes).expect("plugin");
        }
    }
    if python {
        let built = berth_tests::python::plugins_dir().join("interop.wasm");
        std::fs::copy(built, plugins.join("interop.wasm")).expect("python plugin");
    }
    dir
}

/// The plugins a node loads: those [`setup_with`] put into `dir`, in this order.
fn load_list(dir: &Path) -> String {
    let names = ["cluster-probe", "chat", "ws-echo", "sse-sensor", "interop"];
    let present: Vec<String> = names
        .iter()
        .filter(|n| dir.join("plugins").join(format!("{n}.wasm")).exists())
        .map(|n| format!("{n:?}"))
        .collect();
    present.join(", ")
}

fn node_toml(dir: &Path, redis: &Redis, name: &str, engine: &str, extra: &str) -> String {
    format!(
        "[server]\nhost = \"127.0.0.1\"\nport = 0\nws_port = 0\ncache_dir = \"\"\nengine = \"{engine}\"\n\
         shutdown_timeout = 1.0\n\
         [plugins]\ndir = {plugins:?}\nload = [{load}]\n\
         [reload]\nwatch = false\n\
         [limits]\nstate_max_keys = 50\n\
         [plugin.cluster-probe]\nnode = \"{name}\"\n[plugin.sse-sensor]\ninterval = 0.5\n\
         [cluster]\nredis = \"{url}\"\nnode = \"{name}\"\ntimeout = 1.0\npresence_ttl = 3.0\n{extra}",
        plugins = dir.join("plugins").display().to_string(),
        load = load_list(dir),
        url = redis.url(),
    )
}

fn two_nodes(case: &str, engine: &str, extra: &str) -> (Redis, Node, Node) {
    two_nodes_in(setup(case), engine, extra)
}

/// [`two_nodes`] on plugins [`setup_with`] prepared.
fn two_nodes_in(dir: std::path::PathBuf, engine: &str, extra: &str) -> (Redis, Node, Node) {
    let redis = Redis::start(&dir);
    let a = Node::start(BIN, &dir, "a", &node_toml(&dir, &redis, "a", engine, extra));
    let b = Node::start(BIN, &dir, "b", &node_toml(&dir, &redis, "b", engine, extra));
    (redis, a, b)
}

/// A raw `GET` (no client runtime, so it also works inside the async cases).
fn raw(url: &str) -> berth_tests::clients::RawResponse {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (addr, path) = rest.split_at(rest.find('/').expect("a path"));
    berth_tests::clients::raw_get(addr.parse().expect("address"), path, &[])
}

fn get(url: &str) -> (u16, Value) {
    let r = raw(url);
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

fn text_of(url: &str) -> (u16, String) {
    let r = raw(url);
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

fn post(url: &str, body: &str) -> Value {
    json_of(
        client()
            .post(url)
            .body(body.to_string())
            .send()
            .expect("POST"),
    )
}

/// [`post`] from async code (the blocking client must not run on the test's runtime).
async fn apost(url: String, body: &str) -> Value {
    let body = body.to_string();
    tokio::task::spawn_blocking(move || post(&url, &body))
        .await
        .expect("POST task")
}

async fn ask(ws: &mut Ws, cmd: Value) -> Value {
    send_json(ws, cmd).await;
    recv_json(ws).await
}

#[test]
fn state_is_shared_across_nodes_wasmtime() {
    state_is_shared_across_nodes("wasmtime");
}

#[test]
fn state_is_shared_across_nodes_wasmi() {
    state_is_shared_across_nodes("wasmi");
}

/// incr on A read on B; set with a TTL, delete and keys by prefix seen from the other
/// node; the namespace quota holds for both nodes together.
fn state_is_shared_across_nodes(engine: &str) {
    let (_redis, a, b) = two_nodes(&format!("state-{engine}"), engine, "");
    // Increments from both nodes, interleaved and concurrent, are all counted.
    let threads: Vec<_> = [a.url("/incr/hits"), b.url("/incr/hits")]
        .into_iter()
        .map(|url| {
            std::thread::spawn(move || {
                for _ in 0..25 {
                    assert_eq!(get(&url).0, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("incr thread");
    }
    assert_eq!(get(&b.url("/incr/hits")).1["n"], 51);
    assert_eq!(get(&a.url("/incr/hits")).1["n"], 52);

    // Plugin state: set on A, read, list and delete on B.
    let put = |node: &Node, key: &str, value: &str, ttl: Option<u64>| {
        let q = ttl.map_or_else(String::new, |t| format!("?ttl={t}"));
        client()
            .put(node.url(&format!("/state/{key}{q}")))
            .body(value.to_string())
            .send()
            .expect("PUT")
            .status()
            .as_u16()
    };
    assert_eq!(put(&a, "user:1", "ann", None), 200);
    assert_eq!(put(&a, "user:2", "bob", None), 200);
    assert_eq!(put(&a, "other", "x", None), 200);
    assert_eq!(text_of(&b.url("/state/user:1")), (200, "ann".into()));
    assert_eq!(
        get(&b.url("/keys/user:")).1["keys"],
        json!(["user:1", "user:2"])
    );
    // A prefix with glob characters matches only itself.
    assert_eq!(get(&b.url("/keys/user*")).1["keys"], json!([]));
    assert_eq!(get(&b.url("/state/user:2")).0, 200);
    assert_eq!(
        json_of(
            client()
                .delete(b.url("/state/user:2"))
                .send()
                .expect("DELETE")
        )["deleted"],
        true
    );
    assert_eq!(get(&a.url("/state/user:2")).0, 404);

    // A TTL set on one node expires on the other.
    assert_eq!(put(&b, "short", "soon gone", Some(300)), 200);
    assert_eq!(text_of(&a.url("/state/short")).0, 200);
    within(Duration::from_secs(5), "TTL expiry", || {
        text_of(&a.url("/state/short")).0 == 404
    });

    // The quota (50 keys per namespace) counts the keys both nodes wrote.
    let mut refused = None;
    for i in 0..60 {
        let node = if i % 2 == 0 { &a } else { &b };
        let status = put(node, &format!("fill:{i}"), "v", None);
        if status != 200 {
            refused = Some((i, status));
            break;
        }
    }
    // 3 keys were live (user:1, other, and the expired `short` until swept), 50 in all.
    let (at, status) = refused.expect("the quota never refused a write");
    assert_eq!(status, 507, "a quota refusal is 507");
    assert!((47..=48).contains(&at), "refused at key {at}");
}

/// `rediss://` with a password: two nodes share state over TLS, trusting the CA of
/// `[cluster] ca_file`; a node that does not trust it refuses to start.
#[test]
fn state_is_shared_over_tls_with_a_password() {
    let dir = setup("tls");
    let (redis, ca) = Redis::start_tls(&dir, "s3cret");
    let config = |name: &str, url: &str, ca: &Path| {
        let plain = node_toml(&dir, &redis, name, "wasmtime", "");
        let url_line = format!("redis = \"{}\"", redis.url());
        let tls_line = format!(
            "redis = \"{url}\"\nca_file = {:?}",
            ca.display().to_string()
        );
        plain.replace(&url_line, &tls_line)
    };
    let url = format!("rediss://:s3cret@127.0.0.1:{}", redis.port);
    let a = Node::start(BIN, &dir, "a", &config("a", &url, &ca));
    let b = Node::start(BIN, &dir, "b", &config("b", &url, &ca));
    assert_eq!(get(&a.url("/incr/tls")).1["n"], 1);
    assert_eq!(get(&b.url("/incr/tls")).1["n"], 2);
    // The wrong password, or a CA that did not sign Redis's certificate: no start.
    let bad = format!("rediss://:wrong@127.0.0.1:{}", redis.port);
    let refused = Node::try_start(BIN, &dir, "c", &config("c", &bad, &ca));
    assert!(refused.is_err(), "started with the wrong password");
    let other_ca = dir.join("certs").join("redis.pem");
    let refused = Node::try_start(BIN, &dir, "d", &config("d", &url, &other_ca));
    assert!(
        refused.is_err(),
        "started without trusting Redis's certificate"
    );
}

/// Connection ids are unique across nodes, and every `ws-*` import reaches connections
/// on the other node: rooms and members, broadcasts with `except`, send and close by id,
/// data by id.
#[test]
fn websockets_span_nodes() {
    let (_redis, a, b) = two_nodes("ws", "wasmtime", "");
    block_on(async {
        let mut on_a = connect(&a.ws_url("/probe")).await;
        let mut on_b = connect(&b.ws_url("/probe")).await;
        let id_a = ask(&mut on_a, json!({"op": "whoami"})).await["id"]
            .as_u64()
            .expect("id");
        let id_b = ask(&mut on_b, json!({"op": "whoami"})).await["id"]
            .as_u64()
            .expect("id");
        assert_ne!(id_a, id_b);
        assert!(
            id_a < 1 << 53 && id_b < 1 << 53,
            "ids must fit a JSON number"
        );

        // Rooms: members listed from either node.
        for (ws, room) in [(&mut on_a, "r"), (&mut on_b, "r")] {
            assert_eq!(
                ask(ws, json!({"op": "join", "room": room})).await["joined"],
                true
            );
        }
        let mut both = vec![id_a, id_b];
        both.sort_unstable();
        assert_eq!(get(&a.url("/members/r")).1["members"], json!(both));
        assert_eq!(get(&b.url("/members/r")).1["members"], json!(both));

        // A broadcast from A reaches B's member, and skips the sender with `except`.
        let reached = ask(
            &mut on_a,
            json!({"op": "bcast", "room": "r", "text": "hello room", "except_me": true}),
        )
        .await;
        assert_eq!(reached["reached"], 1);
        assert_eq!(ws_support::recv_text(&mut on_b).await, "hello room");
        // To everyone: both hear it.
        assert_eq!(apost(b.url("/broadcast/all"), "to all").await["reached"], 2);
        assert_eq!(ws_support::recv_text(&mut on_a).await, "to all");
        assert_eq!(ws_support::recv_text(&mut on_b).await, "to all");

        // ws-send by id, from the other node's HTTP route.
        assert_eq!(
            apost(b.url(&format!("/send/{id_a}")), "by id").await["sent"],
            true
        );
        assert_eq!(ws_support::recv_text(&mut on_a).await, "by id");
        // An id no node holds.
        assert_eq!(
            apost(b.url(&format!("/send/{}", 12345)), "x").await["sent"],
            false
        );

        // Data set on A's connection, read from B (HTTP) and from B's connection.
        assert_eq!(
            ask(
                &mut on_a,
                json!({"op": "set", "key": "name", "value": "ann"})
            )
            .await["set"],
            true
        );
        assert_eq!(get(&b.url(&format!("/data/{id_a}/name"))).1["value"], "ann");
        assert_eq!(
            ask(&mut on_b, json!({"op": "get", "conn": id_a, "key": "name"})).await["value"],
            "ann"
        );

        // Leaving is seen everywhere; closing by id from the other node closes it.
        assert_eq!(
            ask(&mut on_b, json!({"op": "leave", "room": "r"})).await["left"],
            true
        );
        assert_eq!(get(&a.url("/members/r")).1["members"], json!([id_a]));
        assert_eq!(
            apost(a.url(&format!("/close/{id_b}")), "").await["closed"],
            true
        );
        let (code, _) = ws_support::expect_close(&mut on_b).await;
        assert_eq!(code, 4001);
        // A closed connection leaves its rooms on every node.
        drop(on_a);
        within(
            Duration::from_secs(5),
            "closed connection leaves the room",
            || get(&b.url("/members/r")).1["members"] == json!([]),
        );
    });
}

/// Seed 000's chat room with one client per node: each hears the other's messages, in
/// the order they were sent.
#[test]
fn chat_room_with_one_client_per_node() {
    let (_redis, a, b) = two_nodes("chat", "wasmtime", "");
    block_on(async {
        let url = |n: &Node| format!("ws://{}/", n.ws_addr.expect("ws port"));
        let mut alice = connect(&url(&a)).await;
        let mut bob = connect(&url(&b)).await;
        for (ws, name) in [(&mut alice, "alice"), (&mut bob, "bob")] {
            let set = ask(ws, json!({"type": "set_name", "name": name})).await;
            assert_eq!(set["type"], "name_set");
            let joined = ask(ws, json!({"action": "join", "room": "lobby"})).await;
            assert_eq!(joined["action"], "joined");
        }
        for i in 0..30 {
            send_json(
                &mut alice,
                json!({"action": "message", "text": format!("a{i}")}),
            )
            .await;
        }
        for i in 0..30 {
            assert_eq!(recv_json(&mut alice).await["action"], "sent");
            let heard = recv_json(&mut bob).await;
            assert_eq!(heard["from"], "alice");
            assert_eq!(heard["text"], format!("a{i}"), "in order per sender");
        }
        send_json(&mut bob, json!({"action": "message", "text": "hi alice"})).await;
        assert_eq!(recv_json(&mut bob).await["action"], "sent");
        let heard = recv_json(&mut alice).await;
        assert_eq!(
            (heard["from"].clone(), heard["text"].clone()),
            (json!("bob"), json!("hi alice"))
        );
    });
}

/// Seed 002's broadcast pattern (`/ws/chat`: every message to every client, the sender
/// included) with clients split over two nodes: everyone hears everything, in order
/// per sender.
#[test]
fn seed002_broadcast_spans_nodes() {
    let (_redis, a, b) = two_nodes("bcast", "wasmtime", "");
    block_on(async {
        let mut clients = Vec::new();
        for i in 0..4 {
            let node = if i % 2 == 0 { &a } else { &b };
            clients.push(connect(&node.ws_url("/ws/chat")).await);
        }
        for round in 0..5 {
            for (i, ws) in clients.iter_mut().enumerate() {
                ws_support::send(ws, &format!("{i}:{round}")).await;
            }
        }
        // Every client hears 20 messages; from each sender, rounds 0..5 in order.
        for ws in clients.iter_mut() {
            let mut next = [0u32; 4];
            for _ in 0..20 {
                let text = ws_support::recv_text(ws).await;
                let (sender, round) = text.split_once(':').expect("sender:round");
                let sender: usize = sender.parse().expect("sender");
                assert_eq!(
                    round,
                    next[sender].to_string(),
                    "order from sender {sender}"
                );
                next[sender] += 1;
            }
            assert_eq!(next, [5; 4]);
        }
    });
}

/// An SSE client on B receives what A publishes, and `Last-Event-ID` replays on
/// whichever node the client reconnects to.
#[test]
fn sse_spans_nodes_with_replay() {
    let (_redis, a, b) = two_nodes("sse", "wasmtime", "");
    let stream = |node: &Node, last: Option<&str>| {
        let mut req = client().get(node.url("/sse/news"));
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id);
        }
        let r = req.send().expect("subscribe");
        assert_eq!(r.status(), 200);
        SseReader::new(BufReader::new(r))
    };
    let mut on_b = stream(&b, None);
    // `publish` counts the calling node's subscribers: B has the one.
    assert_eq!(
        post(&b.url("/publish/news?id=0"), "event 0")["subscribers"],
        1
    );
    assert_eq!(on_b.next_event().data, "event 0");
    for i in 1..=3 {
        post(
            &a.url(&format!("/publish/news?id={i}")),
            &format!("event {i}"),
        );
    }
    for i in 1..=3 {
        let e = on_b.next_event();
        assert_eq!(
            (e.id.as_deref(), e.data.as_str()),
            (Some(&*i.to_string()), &*format!("event {i}"))
        );
    }
    // Reconnecting to A after event 1 replays 2 and 3 there.
    let mut on_a = stream(&a, Some("1"));
    for i in 2..=3 {
        assert_eq!(on_a.next_event().data, format!("event {i}"));
    }
}
