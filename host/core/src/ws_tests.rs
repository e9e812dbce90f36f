//! WebSocket event semantics against a scripted invoker.

use super::*;
use crate::engine::CallError;
use crate::model::{
    BeforeOutcome, EventOutcome, HandlerId, Hook, Registration, Request, Response, WsMessage,
    WsRoute,
};
use crate::pipeline::PluginEntry;
use crate::test_exec::block_on;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

/// Handler ids say what the fake handler does.
const NOTHING: HandlerId = 1;
const REPLY: HandlerId = 2;
const STOP: HandlerId = 3;
const REPLY_STOP: HandlerId = 4;
const REFUSE: HandlerId = 5;
const TRAP: HandlerId = 6;
const ROUTE: HandlerId = 7;

#[derive(Default)]
struct Script {
    calls: Vec<String>,
}

impl Invoker for Script {
    async fn handle(&mut self, _: Target, _: &Request) -> Result<Response, CallError> {
        unreachable!("no HTTP in these tests")
    }
    async fn before(&mut self, _: Target, _: &Request) -> Result<BeforeOutcome, CallError> {
        unreachable!("no HTTP in these tests")
    }
    async fn after(&mut self, _: Target, _: &Request, _: &Response) -> Result<Response, CallError> {
        unreachable!("no HTTP in these tests")
    }
    async fn on_event(&mut self, to: Target, _: &Event) -> Result<EventOutcome, CallError> {
        self.calls.push(format!("{}:{}", to.plugin, to.handler));
        let reply = Some(WsPayload::Text(format!(
            "from {}:{}",
            to.plugin, to.handler
        )));
        Ok(match to.handler {
            REPLY | ROUTE => EventOutcome {
                reply,
                ..Default::default()
            },
            STOP => EventOutcome {
                stop: true,
                ..Default::default()
            },
            REPLY_STOP => EventOutcome {
                reply,
                stop: true,
                refuse: None,
            },
            REFUSE => EventOutcome {
                refuse: Some(Refusal {
                    status: 403,
                    reason: "go away".into(),
                }),
                ..Default::default()
            },
            TRAP => return Err(CallError::Trap("boom".into())),
            _ => EventOutcome::default(),
        })
    }
}

/// An app of one plugin per entry; each plugin hooks `kind` with the given handler,
/// and plugin 0 also owns a WebSocket route at `/ws` with handler [`ROUTE`].
fn app(kind: EventKind, handlers: &[HandlerId]) -> App {
    let plugins = handlers
        .iter()
        .enumerate()
        .map(|(i, &handler)| PluginEntry {
            name: format!("p{i}"),
            registration: Registration {
                name: format!("p{i}"),
                hooks: vec![Hook {
                    event: kind,
                    handler,
                }],
                websockets: if i == 0 {
                    vec![WsRoute {
                        path: "/ws".into(),
                        handler: ROUTE,
                    }]
                } else {
                    vec![]
                },
                ..Default::default()
            },
        })
        .collect();
    App::new(plugins).expect("valid app")
}

fn message(text: &str) -> Event {
    Event::WsMessage(WsMessage {
        conn: 1,
        path: "/".into(),
        payload: WsPayload::Text(text.to_string()),
    })
}

fn text(s: &str) -> Option<WsPayload> {
    Some(WsPayload::Text(s.into()))
}

fn route(app: &App) -> Endpoint {
    let (target, _) = app.ws_route("/ws").expect("route exists");
    Endpoint::Route(target)
}

#[test]
fn unanswered_message_on_the_dedicated_port_is_echoed() {
    let app = app(EventKind::WsMessage, &[NOTHING, NOTHING]);
    let mut s = Script::default();
    assert_eq!(
        block_on(app.ws_message(Endpoint::Hooks, &message("hi"), &mut s)),
        text("hi")
    );
    assert_eq!(s.calls, ["0:1", "1:1"]);
}

#[test]
fn stop_without_reply_suppresses_the_echo_and_later_handlers() {
    let app = app(EventKind::WsMessage, &[STOP, REPLY]);
    let mut s = Script::default();
    assert_eq!(
        block_on(app.ws_message(Endpoint::Hooks, &message("hi"), &mut s)),
        None
    );
    assert_eq!(s.calls, ["0:3"]);
}

#[test]
fn the_last_reply_wins_and_reply_stop_ends_the_chain() {
    let app = app(EventKind::WsMessage, &[REPLY, REPLY_STOP, REPLY]);
    let mut s = Script::default();
    let got = block_on(app.ws_message(Endpoint::Hooks, &message("hi"), &mut s));
    assert_eq!(got, text("from 1:4"));
    assert_eq!(s.calls, ["0:2", "1:4"]);
}

#[test]
fn routes_hear_messages_after_the_hooks_and_never_echo() {
    let app = app(EventKind::WsMessage, &[NOTHING]);
    let mut s = Script::default();
    let endpoint = route(&app);
    assert_eq!(
        block_on(app.ws_message(endpoint, &message("hi"), &mut s)),
        text("from 0:7")
    );
    assert_eq!(s.calls, ["0:1", "0:7"]);

    let app = self::app(EventKind::WsMessage, &[STOP]);
    let mut s = Script::default();
    assert_eq!(
        block_on(app.ws_message(route(&app), &message("hi"), &mut s)),
        None
    );
    assert_eq!(
        s.calls,
        ["0:3"],
        "a stopping hook keeps the message from the route"
    );
}

#[test]
fn a_failing_handler_is_skipped_but_suppresses_the_echo() {
    let app = app(EventKind::WsMessage, &[TRAP, NOTHING]);
    let mut s = Script::default();
    assert_eq!(
        block_on(app.ws_message(Endpoint::Hooks, &message("hi"), &mut s)),
        None
    );
    assert_eq!(s.calls, ["0:6", "1:1"]);
}

#[test]
fn the_first_refusal_wins_and_failures_refuse() {
    let connect = Event::WsConnect(crate::model::WsConnect {
        conn: 1,
        path: "/".into(),
        query_pairs: vec![],
        headers: vec![],
        remote_addr: "127.0.0.1:1".into(),
    });
    let app = app(EventKind::WsConnect, &[NOTHING, REFUSE, NOTHING]);
    let mut s = Script::default();
    let refused = block_on(app.ws_connect(Endpoint::Hooks, &connect, &mut s));
    assert_eq!(refused.map_err(|r| r.status), Err(403));
    assert_eq!(s.calls, ["0:1", "1:5"]);

    let app = self::app(EventKind::WsConnect, &[TRAP]);
    let refused = block_on(app.ws_connect(route(&app), &connect, &mut Script::default()));
    assert_eq!(refused.map_err(|r| r.status), Err(500));

    let app = self::app(EventKind::WsConnect, &[NOTHING]);
    let mut s = Script::default();
    assert_eq!(
        block_on(app.ws_connect(route(&app), &connect, &mut s)),
        Ok(())
    );
    assert_eq!(
        s.calls,
        ["0:1", "0:7"],
        "the route hears connect after the hooks"
    );
}

#[test]
fn disconnect_reaches_everyone_despite_failures() {
    let app = app(EventKind::WsDisconnect, &[TRAP, STOP, NOTHING]);
    let mut s = Script::default();
    let event = Event::WsDisconnect(crate::model::WsDisconnect {
        conn: 1,
        path: "/ws".into(),
        code: 1000,
        reason: String::new(),
    });
    block_on(app.ws_disconnect(route(&app), &event, &mut s));
    assert_eq!(s.calls, ["0:6", "1:3", "2:1", "0:7"]);
}
