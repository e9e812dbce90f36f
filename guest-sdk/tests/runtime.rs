//! Drives the SDK's runtime natively (no host imports are called), as the host would.

use berth_sdk::bindings::berth::plugin::types::{BeforeOutcome, HandlerId};
use berth_sdk::prelude::*;
use berth_sdk::rt;

struct Demo;

impl Plugin for Demo {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let secret = config.get_or("secret", "s").to_string();
        app.get("/hello", |_| {
            Response::json(&json!({"message": "Hello, World!"}))
        });
        app.route("/users/<id>", &[Method::Put, Method::Patch], |req| {
            Response::json(&json!({"updated": req.param("id"), "how": req.method().as_str()}))
        });
        app.before(move |req| {
            if req.header("authorization") != Some(secret.as_str()) {
                return Flow::Respond(Response::error("Unauthorized", 401));
            }
            Next::new()
                .response_header("Access-Control-Allow-Origin", "*")
                .into()
        });
        app.on_http_after(Method::Get, |_, resp| resp.header("X-After", "1"));
        app.get("/stream", |_| {
            Response::stream("text/plain", (0..3).map(|i| format!("chunk {i}\n")))
        });
        app.on_ws_message(|_ws, m| match m.data()["type"].as_str() {
            Some("ping") => Outcome::reply_json(&json!({"type": "pong"})).and_stop(),
            _ => Outcome::none(),
        });
        Ok(())
    }
}

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        id: 1,
        method,
        path: path.into(),
        query: String::new(),
        query_pairs: vec![],
        params: vec![("id".into(), "42".into())],
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: vec![],
        remote_addr: "127.0.0.1:5000".into(),
    }
}

fn text(resp: &Response) -> String {
    String::from_utf8(resp.bytes().expect("bytes").to_vec()).expect("utf8")
}

#[test]
fn registration_and_calls() {
    let reg = rt::setup::<Demo>(vec![("secret".into(), "t0k".into())], "demo").expect("setup");
    assert_eq!(reg.name, "demo");
    assert_eq!(reg.routes.len(), 3);
    assert_eq!(reg.middleware.len(), 2);
    assert_eq!(reg.middleware[1].methods, vec![Method::Get]);
    assert_eq!(reg.hooks.len(), 1);

    let hello: HandlerId = reg.routes[0].handler;
    let resp = rt::handle(hello, request(Method::Get, "/hello", &[]));
    assert_eq!(resp.status, 200);
    assert_eq!(text(&resp), r#"{"message":"Hello, World!"}"#);
    assert_eq!(resp.get_header("Content-Type"), Some("application/json"));

    let put = rt::handle(
        reg.routes[1].handler,
        request(Method::Put, "/users/42", &[]),
    );
    assert_eq!(text(&put), r#"{"updated":"42","how":"PUT"}"#);

    let before = reg.middleware[0].before.expect("before");
    match rt::before(before, request(Method::Get, "/hello", &[])) {
        BeforeOutcome::Respond(r) => {
            assert_eq!(r.status, 401);
            assert_eq!(text(&r), r#"{"error":"Unauthorized","code":401}"#);
        }
        BeforeOutcome::Proceed(_) => panic!("should stop"),
    }
    match rt::before(
        before,
        request(Method::Get, "/hello", &[("authorization", "t0k")]),
    ) {
        BeforeOutcome::Proceed(p) => assert_eq!(
            p.response_headers,
            vec![("Access-Control-Allow-Origin".to_string(), "*".to_string())]
        ),
        BeforeOutcome::Respond(_) => panic!("should proceed"),
    }

    let after = reg.middleware[1].after.expect("after");
    let resp = rt::after(
        after,
        request(Method::Get, "/hello", &[]),
        Response::empty(204),
    );
    assert_eq!(resp.get_header("x-after"), Some("1"));

    let streamed = rt::handle(reg.routes[2].handler, request(Method::Get, "/stream", &[]));
    let Body::Stream(id) = streamed.body else {
        panic!("not a stream")
    };
    let mut all = String::new();
    while let Some(chunk) = rt::next_chunk(id) {
        all.push_str(std::str::from_utf8(&chunk).expect("utf8"));
    }
    assert_eq!(all, "chunk 0\nchunk 1\nchunk 2\n");
    assert!(rt::next_chunk(id).is_none());

    let ping = Event::WsMessage(WsMessage {
        conn: 7,
        path: "/".into(),
        payload: Payload::from(r#"{"type":"ping"}"#),
    });
    let out = rt::on_event(reg.hooks[0].handler, ping);
    assert!(out.stop);
    assert_eq!(
        out.reply.as_ref().and_then(|p| p.as_text()),
        Some(r#"{"type":"pong"}"#)
    );

    // Unknown ids answer 500 instead of trapping.
    assert_eq!(rt::handle(999, request(Method::Get, "/", &[])).status, 500);
}
