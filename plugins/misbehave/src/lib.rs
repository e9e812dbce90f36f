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
//! Probes for the host's bounds (`[limits]`):
//! - `POST /fill?n=<N>&size=<S>&prefix=<P>` stores N keys `<P><i>` of S bytes with
//!   `state::try_set` → `{"stored": k, "error": "<first refusal>" | null}`;
//! - `POST /incr?n=<N>&prefix=<P>` increments N new counters → the same shape;
//! - `POST /publish?topic=<T>&n=<N>&size=<S>&id=<I>` publishes N events of S bytes to
//!   topic T (with `{i}` in T replaced by the event's index, so one call can spray
//!   random topics), each with id `<I><i>` → `{"reached": total}`;
//! - with `extra_timers` = N (and `extra_timer_ms`, default 20), N more timers each
//!   count their ticks in state key `timer-<i>`; `GET /timers` → `{"ticking": k}`, how
//!   many of them ever ticked;
//! - `GET /headers?n=<N>` answers with N empty-named headers: lifting them makes the
//!   host allocate far more than the guest's bytes.
//!
//! WebSocket `/ws/misbehave`: `?refuse` refuses the upgrade with 403 "Refused by plugin",
//! `?panic` panics in `ws-connect`; then the message `panic` panics, `loop` never returns,
//! `close <code> <n>` closes the connection with `code` and a reason of n `é`s,
//! `flood <n> <big>` queues a message of `big` bytes and then n empty messages to this
//! connection (then replies how many were accepted), and anything else is answered `ok: <message>`.
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
        let extra: u32 = config.parse_or("extra_timers", 0)?;
        let extra_ms: u64 = config.parse_or("extra_timer_ms", 20)?;
        for i in 0..extra {
            app.every(Duration::from_millis(extra_ms), move |_| {
                let _ = state::incr(&format!("timer-{i}"), 1);
            });
        }
        app.get("/timers", |_| {
            Response::json(&json!({ "ticking": state::keys("timer-").len() }))
        });
        app.post("/fill", |req| {
            let n: usize = query(req, "n");
            let size: usize = query(req, "size");
            let prefix = req.query_param("prefix").unwrap_or("k");
            let value = vec![b'v'; size];
            let mut stored = 0;
            let mut error = None;
            for i in 0..n {
                match state::try_set(&format!("{prefix}{i}"), &value) {
                    Ok(()) => stored += 1,
                    Err(e) => {
                        error.get_or_insert(e);
                    }
                }
            }
            Response::json(&json!({ "stored": stored, "error": error }))
        });
        app.post("/incr", |req| {
            let n: usize = query(req, "n");
            let prefix = req.query_param("prefix").unwrap_or("c");
            let mut stored = 0;
            let mut error = None;
            for i in 0..n {
                match state::incr(&format!("{prefix}{i}"), 1) {
                    Ok(_) => stored += 1,
                    Err(e) => {
                        error.get_or_insert(e);
                    }
                }
            }
            Response::json(&json!({ "stored": stored, "error": error }))
        });
        app.post("/publish", |req| {
            let n: usize = query(req, "n");
            let data = "x".repeat(query(req, "size"));
            let topic = req.query_param("topic").unwrap_or("t");
            let id = req.query_param("id");
            let mut reached = 0;
            for i in 0..n {
                let topic = topic.replace("{i}", &i.to_string());
                let id = id.map(|p| format!("{p}{i}"));
                reached += berth_sdk::publish(&topic, &data, None, id.as_deref());
            }
            Response::json(&json!({ "reached": reached }))
        });
        app.get("/headers", |req| {
            let n: usize = query(req, "n");
            let mut response = Response::text("many headers");
            // Exactly n slots: the guest holds 48 bytes a header (plus 16 lowered).
            response.headers.reserve_exact(n);
            response
                .headers
                .extend(std::iter::repeat_with(|| (String::new(), String::new())).take(n));
            response
        });
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
            // What `ws-connect` was told: the test of `[server] allowed_origins`.
            Event::WsConnect(c) if c.query_param("origin").is_some() => {
                let origin = c.header("origin").unwrap_or("<none>");
                ws::send(c.conn, format!("origin: {origin}")).ok();
                Outcome::none()
            }
            Event::WsConnect(c) if c.query_param("panic").is_some() => {
                panic!("misbehave: panic in ws-connect")
            }
            Event::WsMessage(m) => match m.text() {
                Some("panic") => panic!("misbehave: panic in ws-message"),
                Some(t) if t.starts_with("close ") => {
                    let mut args = t.split(' ').skip(1).map(|a| a.parse::<u32>().unwrap_or(0));
                    let code = args.next().unwrap_or(1000) as u16;
                    let reason = "é".repeat(args.next().unwrap_or(0) as usize);
                    let _ = ws::close(m.conn, code, &reason);
                    Outcome::stop()
                }
                Some(t) if t.starts_with("flood ") => {
                    let mut args = t
                        .split(' ')
                        .skip(1)
                        .map(|a| a.parse::<usize>().unwrap_or(0));
                    let (n, big) = (args.next().unwrap_or(0), args.next().unwrap_or(0));
                    // A big message first keeps the writer busy on a client that does
                    // not read, so what follows stays queued in the host.
                    if big > 0 {
                        let _ = ws::send(m.conn, "x".repeat(big));
                    }
                    let accepted = (0..n).take_while(|_| ws::send(m.conn, "").is_ok()).count();
                    Outcome::reply(format!("accepted {accepted}"))
                }
                // What the host must bound per connection: `hoard data N SIZE` stores N
                // values of SIZE bytes (keys k0…), `hoard rooms N` joins rooms r0…; the
                // reply counts what the host took.
                Some(t) if t.starts_with("hoard ") => {
                    let args: Vec<&str> = t.split(' ').skip(1).collect();
                    let number = |i: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0);
                    let (n, size): (usize, usize) = (number(1), number(2));
                    let value = "x".repeat(size);
                    let accepted = match args.first() {
                        Some(&"data") => (0..n)
                            .take_while(|i| {
                                ws::data_set(m.conn, &format!("k{i}"), Some(&value)).is_ok()
                            })
                            .count(),
                        Some(&"rooms") => (0..n)
                            .take_while(|i| ws::join(m.conn, &format!("r{i}")).is_ok())
                            .count(),
                        _ => 0,
                    };
                    Outcome::reply(format!("accepted {accepted}"))
                }
                Some("loop") => Outcome::reply(format!("unreachable {}", spin())),
                other => Outcome::reply(format!("ok: {}", other.unwrap_or("<binary>"))),
            },
            _ => Outcome::none(),
        });
        Ok(())
    }
}

/// A numeric query parameter (0 when absent or not a number).
fn query<T: std::str::FromStr + Default>(req: &Request, name: &str) -> T {
    req.query_param(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
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
