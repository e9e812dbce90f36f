//! A plugin that misbehaves on purpose, for the host's isolation tests.
//!
//! `GET /loop` never returns, `GET /panic` panics (a trap), `GET /oom` allocates
//! without bound, `GET /ok` → `{"ok":true}`, `GET /stream-fail` streams two chunks and
//! then panics, `GET /send-file?path=<p>` answers `Response::file(p)` for any path a
//! client names (the host must confine it to the folders granted to this plugin).
//!
//! With `busy_layers = N` set, N before-middleware layers each stay busy (computing,
//! not sleeping) for the milliseconds a request's `x-busy-ms` header names, then let it
//! through: the host's per-request budget test (each call short, the chain long).
//!
//! With `tick_ms` set, a timer fires every `tick_ms` milliseconds: it counts in the
//! plugin state key `ticks` and panics on every even tick; `GET /ticks` →
//! `{"ticks":N}` shows the timer carrying on.
//!
//! Probes for the host's isolation tests: `GET /state/<scope>?key=<key>` →
//! `{"value": "<text>" | null}` and `PUT /state/<scope>?key=<key>` (the body becomes the
//! value) read and write a key in this plugin's own namespace (`scope` = `plugin`) or
//! the shared one (`shared`); `GET /config` → `{"config": {…}}`, every pair this
//! plugin's `setup` was given.
//!
//! WebSocket `/ws/misbehave`: `?refuse` refuses the upgrade with 403 "Refused by plugin",
//! `?panic` panics in `ws-connect`; then the message `panic` panics, `loop` never returns,
//! and anything else is answered `ok: <message>`.
use berth_sdk::prelude::*;
use std::hint::black_box;

struct Misbehave;

impl Plugin for Misbehave {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        if let Some(ms) = config.parse::<u64>("tick_ms")? {
            app.every(Duration::from_millis(ms), |_| {
                let n = state::incr("ticks", 1).unwrap_or(0);
                if n % 2 == 0 {
                    panic!("misbehave: tick {n} fails on purpose");
                }
            });
        }
        for _ in 0..config.parse::<u32>("busy_layers")?.unwrap_or(0) {
            app.before(|req| {
                let ms = req
                    .header("x-busy-ms")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                busy_for(ms);
            });
        }
        let own_config: berth_sdk::serde_json::Map<String, Value> = config
            .pairs()
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        app.get("/config", move |_| {
            Response::json(&json!({ "config": own_config }))
        });
        app.get("/state/<scope>", |req| {
            let key = req.query_param("key").unwrap_or_default();
            let value = match req.param("scope") {
                Some("plugin") => state::get_string(key),
                Some("shared") => state::shared::get_string(key),
                _ => return Response::error("scope is plugin or shared", 400),
            };
            Response::json(&json!({ "value": value }))
        });
        app.put("/state/<scope>", |req| {
            let key = req.query_param("key").unwrap_or_default();
            match req.param("scope") {
                Some("plugin") => state::set(key, req.body()),
                Some("shared") => state::shared::set(key, req.body()),
                _ => return Response::error("scope is plugin or shared", 400),
            }
            Response::json(&json!({ "ok": true }))
        });
        app.get("/ticks", |_| {
            Response::json(&json!({ "ticks": state::get_i64("ticks") }))
        });
        app.get("/send-file", |req| {
            Response::file(req.query_param("path").unwrap_or_default())
        });
        app.get("/stream-fail", |_| {
            Response::stream(
                "text/plain",
                (0..4).map(|i| {
                    if i == 2 {
                        panic!("misbehave: stream fails at chunk {i}");
                    }
                    format!("chunk {i}\n")
                }),
            )
        });
        app.get("/ok", |_| Response::json(&json!({"ok": true})));
        app.get("/loop", |_| {
            Response::json(&json!({ "unreachable": spin() }))
        });
        app.get("/panic", |req| -> Response {
            panic!("misbehave: panic requested by {}", req.path());
        });
        app.get("/oom", |_| {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // 1 MiB at a time, every page touched so it is really committed.
                let mut block = vec![0u8; 1 << 20];
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                hoard.push(black_box(block));
                if black_box(hoard.len()) == usize::MAX {
                    break;
                }
            }
            Response::json(&json!({ "blocks": hoard.len() }))
        });
        app.websocket("/ws/misbehave", |ev| match ev {
            Event::WsConnect(c) if c.query_param("refuse").is_some() => {
                Outcome::refuse(403, "Refused by plugin")
            }
            Event::WsConnect(c) if c.query_param("panic").is_some() => {
                panic!("misbehave: panic in ws-connect")
            }
            Event::WsMessage(m) => match m.text() {
                Some("panic") => panic!("misbehave: panic in ws-message"),
                Some("loop") => Outcome::reply(format!("unreachable {}", spin())),
                other => Outcome::reply(format!("ok: {}", other.unwrap_or("<binary>"))),
            },
            _ => Outcome::none(),
        });
        Ok(())
    }
}

/// Computes until `ms` milliseconds of wall-clock time have passed.
fn busy_for(ms: u64) {
    let until = berth_sdk::now_ms().saturating_add(ms);
    let mut n: u64 = 0;
    while berth_sdk::now_ms() < until {
        for _ in 0..1000 {
            n = black_box(n.wrapping_add(1));
        }
    }
}

/// Never returns (until the host's deadline stops it).
fn spin() -> u64 {
    let mut n: u64 = 0;
    loop {
        // black_box keeps the optimizer from proving the loop useless.
        n = black_box(n.wrapping_add(1));
        if black_box(n) == u64::MAX {
            return n;
        }
    }
}

berth_sdk::export_plugin!(Misbehave);
