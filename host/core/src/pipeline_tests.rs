//! Pipeline semantics against a scripted invoker.

use super::*;
use crate::model::{Hook, Proceed, Route};
use crate::test_exec::block_on;
use alloc::vec;

/// Handler ids encode what the fake plugin does, so each test reads as a script.
const ROUTE_OK: HandlerId = 1;
const MW_PROCEED: HandlerId = 10;
const MW_STOP: HandlerId = 11;
const MW_TRAP: HandlerId = 12;
const MW_CORS: HandlerId = 13;
const AFTER_TAG: HandlerId = 20;
const ROUTE_TIMEOUT: HandlerId = 30;

#[derive(Default)]
struct Script {
    calls: Vec<String>,
}

impl Invoker for Script {
    async fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError> {
        self.calls
            .push(format!("handle:{}:{}", to.plugin, to.handler));
        match to.handler {
            ROUTE_TIMEOUT => Err(CallError::Deadline),
            _ => {
                let seen = req.header("x-seen").unwrap_or("-").to_string();
                let id = crate::model::find_pair(&req.params, "id")
                    .unwrap_or("-")
                    .to_string();
                Ok(Response::json(
                    200,
                    format!("{{\"seen\":\"{seen}\",\"id\":\"{id}\"}}"),
                ))
            }
        }
    }

    async fn before(&mut self, to: Target, _req: &Request) -> Result<BeforeOutcome, CallError> {
        self.calls
            .push(format!("before:{}:{}", to.plugin, to.handler));
        match to.handler {
            MW_STOP => Ok(BeforeOutcome::Respond(Response::error(401, "Unauthorized"))),
            MW_TRAP => Err(CallError::Trap("boom".into())),
            MW_CORS => Ok(BeforeOutcome::Proceed(Proceed {
                request_headers: vec![],
                response_headers: vec![("access-control-allow-origin".into(), "*".into())],
            })),
            _ => Ok(BeforeOutcome::Proceed(Proceed {
                request_headers: vec![("X-Seen".into(), "yes".into())],
                response_headers: vec![],
            })),
        }
    }

    async fn after(
        &mut self,
        to: Target,
        _req: &Request,
        resp: &Response,
    ) -> Result<Response, CallError> {
        self.calls
            .push(format!("after:{}:{}", to.plugin, to.handler));
        let mut r = resp.clone();
        r.headers.push(("x-after".into(), format!("{}", to.plugin)));
        Ok(r)
    }

    async fn on_event(&mut self, to: Target, _event: &Event) -> Result<EventOutcome, CallError> {
        self.calls
            .push(format!("event:{}:{}", to.plugin, to.handler));
        Ok(EventOutcome::default())
    }
}

fn plugin(name: &str, routes: Vec<Route>, middleware: Vec<Middleware>) -> PluginEntry {
    PluginEntry {
        name: name.into(),
        registration: Registration {
            name: name.into(),
            routes,
            middleware,
            ..Default::default()
        },
    }
}

fn route(methods: &[Method], path: &str, handler: HandlerId) -> Route {
    Route {
        methods: methods.to_vec(),
        path: path.into(),
        handler,
    }
}

fn mw(methods: &[Method], before: Option<HandlerId>, after: Option<HandlerId>) -> Middleware {
    Middleware {
        methods: methods.to_vec(),
        before,
        after,
    }
}

fn request(method: Method, path: &str) -> Request {
    Request {
        id: 1,
        method,
        path: path.into(),
        query: String::new(),
        query_pairs: vec![],
        params: vec![],
        headers: vec![],
        body: vec![],
        remote_addr: "127.0.0.1:1".into(),
    }
}

fn body(r: &Response) -> &str {
    match &r.body {
        Body::Bytes(b) => core::str::from_utf8(b).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

#[test]
fn onion_order_and_request_edits() {
    let app = App::new(vec![
        plugin(
            "a",
            vec![],
            vec![mw(&[], Some(MW_PROCEED), Some(AFTER_TAG))],
        ),
        plugin(
            "b",
            vec![route(&[Method::Get], "/users/<id>", ROUTE_OK)],
            vec![mw(&[], None, Some(AFTER_TAG))],
        ),
    ])
    .unwrap();
    let mut s = Script::default();
    let r = block_on(app.handle(request(Method::Get, "/users/7"), &mut s));
    assert_eq!(
        s.calls,
        ["before:0:10", "handle:1:1", "after:1:20", "after:0:20"]
    );
    assert_eq!(body(&r), r#"{"seen":"yes","id":"7"}"#);
    let afters: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n == "x-after")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(afters, ["1", "0"]);
}

#[test]
fn stop_short_circuits_but_outer_layers_see_the_response() {
    let app = App::new(vec![
        plugin("outer", vec![], vec![mw(&[], None, Some(AFTER_TAG))]),
        plugin(
            "auth",
            vec![],
            vec![mw(&[], Some(MW_STOP), Some(AFTER_TAG))],
        ),
        plugin(
            "inner",
            vec![route(&[Method::Get], "/x", ROUTE_OK)],
            vec![mw(&[], Some(MW_PROCEED), None)],
        ),
    ])
    .unwrap();
    let mut s = Script::default();
    let r = block_on(app.handle(request(Method::Get, "/x"), &mut s));
    assert_eq!(r.status, 401);
    assert_eq!(s.calls, ["before:1:11", "after:0:20"]);
}

#[test]
fn failing_middleware_fails_closed() {
    let app = App::new(vec![plugin(
        "p",
        vec![route(&[Method::Get], "/x", ROUTE_OK)],
        vec![mw(&[], Some(MW_TRAP), None)],
    )])
    .unwrap();
    let mut s = Script::default();
    let r = block_on(app.handle(request(Method::Get, "/x"), &mut s));
    assert_eq!(r.status, 500);
    assert_eq!(s.calls, ["before:0:12"]);
}

#[test]
fn method_filters_are_hooks() {
    let app = App::new(vec![plugin(
        "p",
        vec![route(&[Method::Get, Method::Post], "/x", ROUTE_OK)],
        vec![
            mw(&[Method::Post], Some(MW_STOP), None),
            mw(&[Method::Get], None, Some(AFTER_TAG)),
        ],
    )])
    .unwrap();
    let mut s = Script::default();
    assert_eq!(
        block_on(app.handle(request(Method::Get, "/x"), &mut s)).status,
        200
    );
    assert_eq!(
        block_on(app.handle(request(Method::Post, "/x"), &mut s)).status,
        401
    );
    assert_eq!(s.calls, ["handle:0:1", "after:0:20", "before:0:11"]);
}

#[test]
fn middleware_headers_merge_without_overriding() {
    let app = App::new(vec![plugin(
        "cors",
        vec![route(&[Method::Get], "/x", ROUTE_OK)],
        vec![mw(&[], Some(MW_CORS), None)],
    )])
    .unwrap();
    let mut s = Script::default();
    let r = block_on(app.handle(request(Method::Get, "/x"), &mut s));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // Also on the host's own 404.
    let r = block_on(app.handle(request(Method::Get, "/missing"), &mut s));
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (404, Some("*"))
    );
}

#[test]
fn not_found_method_not_allowed_and_options() {
    let mut app = App::new(vec![plugin(
        "p",
        vec![route(&[Method::Get], "/x", ROUTE_OK)],
        vec![],
    )])
    .unwrap();
    app.set_server_header(Some("Berth".into()));
    let mut s = Script::default();
    let r = block_on(app.handle(request(Method::Get, "/nope"), &mut s));
    assert_eq!(
        (r.status, body(&r)),
        (404, r#"{"error":"Not Found","code":404}"#)
    );
    assert_eq!(r.header("server"), Some("Berth"));
    let r = block_on(app.handle(request(Method::Delete, "/x"), &mut s));
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    let r = block_on(app.handle(request(Method::Options, "/x"), &mut s));
    assert_eq!(
        (r.status, r.header("allow")),
        (204, Some("GET, HEAD, OPTIONS"))
    );
    assert!(s.calls.is_empty());
}

#[test]
fn deadline_is_504() {
    let app = App::new(vec![plugin(
        "p",
        vec![route(&[Method::Get], "/slow", ROUTE_TIMEOUT)],
        vec![],
    )])
    .unwrap();
    let r = block_on(app.handle(request(Method::Get, "/slow"), &mut Script::default()));
    assert_eq!(r.status, 504);
}

#[test]
fn conflicting_plugins_are_named() {
    let err = App::new(vec![
        plugin("first", vec![route(&[Method::Get], "/a/<x>", 1)], vec![]),
        plugin("second", vec![route(&[Method::Get], "/a/<y>", 1)], vec![]),
    ])
    .unwrap_err();
    assert_eq!(err.plugin, "second");
    assert!(err.reason.contains("plugin first"), "{}", err.reason);
}

#[test]
fn hooks_in_plugin_order() {
    let mut a = plugin("a", vec![], vec![]);
    a.registration.hooks = vec![Hook {
        event: EventKind::ServerStart,
        handler: 5,
    }];
    let mut b = plugin("b", vec![], vec![]);
    b.registration.hooks = vec![
        Hook {
            event: EventKind::ServerStop,
            handler: 6,
        },
        Hook {
            event: EventKind::ServerStart,
            handler: 7,
        },
    ];
    let app = App::new(vec![a, b]).unwrap();
    let mut s = Script::default();
    block_on(app.broadcast_event(EventKind::ServerStart, &Event::ServerStop, &mut s));
    assert_eq!(s.calls, ["event:0:5", "event:1:7"]);
}

#[test]
fn static_mounts_behind_routes_and_middleware() {
    let mut app = App::new(vec![plugin(
        "a",
        vec![route(&[Method::Get], "/static/special", ROUTE_OK)],
        vec![mw(&[], Some(MW_CORS), Some(AFTER_TAG))],
    )])
    .unwrap();
    app.set_static_prefixes(vec!["/static".into()]);
    let mut script = Script::default();

    // Under the mount, no route: the file, with the middleware's headers merged in.
    let r = block_on(app.handle(request(Method::Get, "/static/a/b.css"), &mut script));
    assert_eq!(r.body, Body::File("/static/a/b.css".into()));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-after"), Some("0"));
    assert_eq!(
        block_on(app.handle(request(Method::Head, "/static"), &mut script)).body,
        Body::File("/static".into())
    );
    // A route wins over the mount; a look-alike prefix is not under it.
    let r = block_on(app.handle(request(Method::Get, "/static/special"), &mut script));
    assert!(matches!(r.body, Body::Bytes(_)));
    assert_eq!(
        block_on(app.handle(request(Method::Get, "/staticky"), &mut script)).status,
        404
    );
    // Other methods: 405 with Allow, and 204 for OPTIONS.
    let r = block_on(app.handle(request(Method::Post, "/static/a"), &mut script));
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(
        block_on(app.handle(request(Method::Options, "/static/a"), &mut script)).status,
        204
    );
}
