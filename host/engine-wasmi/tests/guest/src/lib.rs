//! A test plugin for berth-engine-wasmi: one route per behaviour the engine must handle.

wit_bindgen::generate!({ path: "../../../../wit", world: "plugin" });

use berth::plugin::host::{self, Level, Scope};
use berth::plugin::types::*;
use exports::berth::plugin::guest::Guest;

struct Plugin;

fn text(status: u16, body: impl Into<String>) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: Body::Bytes(body.into().into_bytes()),
    }
}

fn route(path: &str, handler: u32) -> Route {
    Route { methods: vec![Method::Get, Method::Post], path: path.into(), handler }
}

impl Guest for Plugin {
    fn setup(config: Pairs) -> Result<Registration, String> {
        if config.iter().any(|(k, _)| k == "fail") {
            return Err("asked to fail".into());
        }
        let name = config
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "test-guest".into());
        Ok(Registration {
            name,
            routes: vec![
                route("/hello", 1),
                route("/echo", 2),
                route("/state", 3),
                route("/loop", 4),
                route("/panic", 5),
                route("/oom", 6),
                route("/stream", 7),
                route("/sse", 8),
            ],
            websockets: vec![WsRoute { path: "/ws".into(), handler: 20 }],
            middleware: vec![Middleware { methods: vec![], before: Some(30), after: Some(31) }],
            hooks: vec![Hook { event: EventKind::ServerStart, handler: 40 }],
            timers: vec![Timer { interval_ms: 1000, handler: 41 }],
            mounts: vec![StaticMount { prefix: "/s".into(), dir: "public".into(), max_age: 60 }],
        })
    }

    fn handle(handler: u32, req: Request) -> Response {
        match handler {
            1 => text(200, "Hello, world!"),
            2 => {
                let mut headers = vec![
                    ("x-method".to_string(), format!("{:?}", req.method)),
                    ("x-path".to_string(), req.path.clone()),
                    ("x-query".to_string(), req.query.clone()),
                    ("x-id".to_string(), req.id.to_string()),
                    ("x-remote".to_string(), req.remote_addr.clone()),
                ];
                for (k, v) in req.query_pairs.iter().chain(&req.params).chain(&req.headers) {
                    headers.push((format!("x-echo-{k}"), v.clone()));
                }
                Response { status: 201, headers, body: Body::Bytes(req.body) }
            }
            3 => {
                host::log(Level::Info, &format!("state for {}", req.path));
                host::state_set(Scope::Plugin, "greeting", b"hi", None);
                host::state_set(Scope::Shared, "k1", b"v1", Some(60_000));
                let got = host::state_get(Scope::Plugin, "greeting");
                let missing = host::state_get(Scope::Plugin, "missing");
                let n = host::state_incr(Scope::Plugin, "hits", 2);
                let bad = host::state_incr(Scope::Plugin, "greeting", 1);
                let keys = host::state_keys(Scope::Plugin, "");
                let deleted = host::state_delete(Scope::Plugin, "missing");
                let now = host::now_ms();
                let _ = host::random_u64();
                let sent = host::ws_send(7, &WsPayload::Text("x".into()));
                let reached = host::publish("topic", "data", Some("ev"), None);
                let body = format!(
                    "got={:?} missing={:?} n={:?} bad={} keys={:?} deleted={} now>0={} sent={:?} reached={}",
                    got.map(|g| String::from_utf8(g).unwrap_or_default()),
                    missing,
                    n,
                    bad.is_err(),
                    keys,
                    deleted,
                    now > 0,
                    sent.is_err(),
                    reached
                );
                text(200, body)
            }
            4 => {
                let mut x: u64 = 0;
                loop {
                    x = x.wrapping_add(1);
                    core::hint::black_box(x);
                }
            }
            5 => panic!("boom"),
            6 => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    chunk[0] = 1;
                    hog.push(core::hint::black_box(chunk));
                }
            }
            7 => Response { status: 200, headers: vec![], body: Body::Stream(3) },
            8 => Response { status: 200, headers: vec![], body: Body::Sse("news".into()) },
            _ => text(404, "no such handler"),
        }
    }

    fn before(handler: u32, req: Request) -> BeforeOutcome {
        if req.path == "/blocked" {
            BeforeOutcome::Respond(text(403, format!("blocked by {handler}")))
        } else {
            BeforeOutcome::Proceed(Proceed {
                request_headers: vec![("x-before".into(), handler.to_string())],
                response_headers: vec![("access-control-allow-origin".into(), "*".into())],
            })
        }
    }

    fn after(handler: u32, req: Request, mut resp: Response) -> Response {
        resp.headers.push(("x-after".into(), format!("{handler}:{}", req.path)));
        resp
    }

    fn on_event(handler: u32, ev: Event) -> EventOutcome {
        match ev {
            Event::WsMessage(m) => EventOutcome {
                reply: Some(match m.payload {
                    WsPayload::Text(t) => WsPayload::Text(format!("{handler}:{}:{t}", m.conn)),
                    WsPayload::Binary(b) => WsPayload::Binary(b.into_iter().rev().collect()),
                }),
                stop: true,
                refuse: None,
            },
            Event::WsConnect(c) => EventOutcome {
                reply: None,
                stop: false,
                refuse: if c.path == "/no" {
                    Some(Refusal { status: 403, reason: format!("no {}", c.remote_addr) })
                } else {
                    None
                },
            },
            Event::Tick(t) => EventOutcome {
                reply: Some(WsPayload::Text(t.to_string())),
                stop: false,
                refuse: None,
            },
            Event::ServerStart(info) => EventOutcome {
                reply: Some(WsPayload::Text(format!("{}|{:?}", info.http_addr, info.ws_addr))),
                stop: false,
                refuse: None,
            },
            Event::WsDisconnect(d) => EventOutcome {
                reply: Some(WsPayload::Text(format!("{}:{}", d.code, d.reason))),
                stop: false,
                refuse: None,
            },
            Event::ServerStop => EventOutcome::default(),
        }
    }

    fn next_chunk(stream: u32) -> Option<Vec<u8>> {
        if stream < 3 { Some(vec![b'a' + stream as u8; 2]) } else { None }
    }
}

impl Default for EventOutcome {
    fn default() -> Self {
        EventOutcome { reply: None, stop: false, refuse: None }
    }
}

export!(Plugin);
