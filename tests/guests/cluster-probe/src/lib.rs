//! The cluster tests' probe (`tests/tests/cluster.rs`): every host import that a cluster
//! shares, reachable over HTTP and one WebSocket route, so a test can act on one node
//! and look from another.
//!
//! - `GET /incr/<key>` → `{"n":N}` (shared state; 503 when the store is unreachable);
//! - `GET /shared/<key>` (shared state as text; 404 when missing);
//! - `PUT /state/<key>?ttl=<ms>` (body: the value), `GET /state/<key>` (404 when
//!   missing), `DELETE /state/<key>`, `GET /keys/<prefix>` — plugin state;
//! - `GET /members/<room>`, `POST /send/<conn>` (body: text), `POST /close/<conn>`,
//!   `GET /data/<conn>/<key>`, `POST /broadcast/<room>` (`all` for everyone);
//! - `GET /sse/<topic>`, `POST /publish/<topic>?id=<id>` (body: data);
//! - `/probe` (WebSocket): JSON commands, answered with JSON: `{"op":"whoami"}`, `join`/`leave`
//!   (`room`), `bcast` (`room` or none, `text`, `except_me`), `send` (`to`, `text`),
//!   `set` (`key`, `value`), `get` (`conn`, `key`), `members` (`room`);
//! - a timer every `tick` seconds (config, default 0.2) that counts
//!   `ticks:<node>` in shared state, `node` being this node's config value.
use std::time::Duration;

use berth_sdk::prelude::*;

struct Probe;

fn on_command(ws: Conn, m: &WsMessage) -> Outcome {
    let cmd: Value = m.json().unwrap_or(Value::Null);
    let s = |k: &str| cmd[k].as_str().unwrap_or_default().to_string();
    let reply = match cmd["op"].as_str().unwrap_or_default() {
        "whoami" => json!({"id": ws.id()}),
        "join" => json!({"joined": ws.join(&s("room")).is_ok()}),
        "leave" => json!({"left": ws.leave(&s("room")).is_ok()}),
        "bcast" => {
            let room = cmd["room"].as_str();
            let except = cmd["except_me"].as_bool().unwrap_or(false).then_some(ws);
            json!({"reached": ws::broadcast(room, s("text"), except)})
        }
        "send" => {
            let to = Conn::from_id(cmd["to"].as_u64().unwrap_or(0));
            json!({"sent": to.send(s("text")).is_ok()})
        }
        "set" => json!({"set": ws.data().set(&s("key"), s("value")).is_ok()}),
        "get" => {
            let conn = Conn::from_id(cmd["conn"].as_u64().unwrap_or(ws.id()));
            json!({"value": conn.data().get(&s("key"))})
        }
        "members" => {
            let ids: Vec<u64> = ws::room_members(&s("room"))
                .iter()
                .map(|c| c.id())
                .collect();
            json!({"members": ids})
        }
        other => json!({"error": format!("unknown op {other:?}")}),
    };
    Outcome::reply_json(&reply)
}

impl Plugin for Probe {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let node = config.get_or("node", "single").to_string();
        let tick: f64 = config.parse_or("tick", 0.2)?;
        app.get("/incr/<key>", |req| -> Result<Value, Error> {
            let key = req.param("key").unwrap_or_default();
            Ok(json!({ "n": state::shared::incr(key, 1)? }))
        });
        app.get("/shared/<key>", |req| {
            match state::shared::get(req.param("key").unwrap_or_default()) {
                Some(v) => Response::text(String::from_utf8_lossy(&v).into_owned()),
                None => Response::error("missing", 404),
            }
        });
        app.route(
            "/state/<key>",
            &[Method::Put],
            |req| -> Result<Value, Error> {
                let key = req.param("key").unwrap_or_default();
                match req.query_param("ttl").and_then(|t| t.parse::<u64>().ok()) {
                    Some(ms) => state::try_set_ttl(key, req.body(), Duration::from_millis(ms))?,
                    None => state::try_set(key, req.body())?,
                }
                Ok(json!({"stored": key}))
            },
        );
        // The `try_` reads: an unreachable Redis answers 503 (`?`), not "missing".
        app.get("/state/<key>", |req| -> Result<Response, Error> {
            Ok(match state::try_get(req.param("key").unwrap_or_default())? {
                Some(v) => Response::text(String::from_utf8_lossy(&v).into_owned()),
                None => Response::error("missing", 404),
            })
        });
        app.delete("/state/<key>", |req| -> Result<Value, Error> {
            Ok(json!({"deleted": state::try_delete(req.param("key").unwrap_or_default())?}))
        });
        app.get("/keys/<prefix>", |req| -> Result<Value, Error> {
            Ok(json!({"keys": state::try_keys(req.param("prefix").unwrap_or_default())?}))
        });
        app.get("/members/<room>", |req| {
            let room = req.param("room").unwrap_or_default();
            let ids: Vec<u64> = ws::room_members(room).iter().map(|c| c.id()).collect();
            Response::json(&json!({"members": ids}))
        });
        let conn = |req: &Request| {
            Conn::from_id(req.param("conn").and_then(|c| c.parse().ok()).unwrap_or(0))
        };
        app.post("/send/<conn>", move |req| {
            Response::json(&json!({"sent": conn(req).send(req.text().into_owned()).is_ok()}))
        });
        app.post("/close/<conn>", move |req| {
            Response::json(&json!({"closed": conn(req).close(4001, "closed by probe").is_ok()}))
        });
        app.get("/data/<conn>/<key>", move |req| {
            let key = req.param("key").unwrap_or_default();
            Response::json(&json!({"value": conn(req).data().get(key)}))
        });
        app.post("/broadcast/<room>", |req| {
            let room = req.param("room").filter(|r| *r != "all");
            Response::json(&json!({"reached": ws::broadcast(room, req.text().into_owned(), None)}))
        });
        app.get("/sse/<topic>", |req| {
            Response::sse(req.param("topic").unwrap_or_default())
        });
        app.post("/publish/<topic>", |req| {
            let topic = req.param("topic").unwrap_or_default();
            let n = berth_sdk::publish(topic, &req.text(), None, req.query_param("id"));
            Response::json(&json!({"subscribers": n}))
        });
        app.websocket("/probe").on_message(on_command);
        let counter = format!("ticks:{node}");
        app.every(Duration::from_secs_f64(tick), move |_now| {
            state::shared::incr(&counter, 1).ok();
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Probe);
