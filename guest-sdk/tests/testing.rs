//! `berth_sdk::testing` follows the host's request rules that a plugin sees.

use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

struct Onion;

impl Plugin for Onion {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.middleware(
            |req| {
                Next::new()
                    .request_header("X-Seen", req.path())
                    .response_header("x-a", "1")
            },
            |_req, resp| resp.append_header("x-after", "outer"),
        );
        app.middleware(
            |req| match req.header("x-stop") {
                Some(_) => Flow::Respond(Response::error("stopped", 418)),
                None => Flow::next(),
            },
            |_req, resp| resp.append_header("x-after", "inner"),
        );
        app.on_http(Method::Post, |_| Error::new(409, "no posts here"));
        app.get("/seen", |req| {
            req.header("x-seen").unwrap_or("").to_string()
        });
        app.get("/users/<id>", |req| json!({"id": req.param("id")}));
        app.get("/users/me", |_| "me");
        app.put("/users/<name>", |req| -> Result<Value, Error> {
            let body: Value = req.json()?;
            Ok(json!({"name": req.param("name"), "body": body}))
        });
        app.get("/created", |_| (201, Json(vec![1, 2])));
        app.on_ws_message(|_, m| match m.text() {
            Some("stop") => Outcome::reply("hook").and_stop(),
            _ => Outcome::reply("hook"),
        });
        app.websocket("/ws")
            .on_connect(|_, c| match c.query_param("no") {
                Some(_) => Err(Error::new(401, "go away")),
                None => Ok(()),
            })
            .on_message(|_, _| Outcome::reply("route"));
        Ok(())
    }
}

fn afters(r: &berth_sdk::testing::TestResponse) -> Vec<&str> {
    r.headers()
        .iter()
        .filter(|(n, _)| n == "x-after")
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn middleware_is_an_onion_and_stop_skips_its_own_after() {
    let app = TestApp::new::<Onion>();
    let r = app.get("/seen").send();
    assert_eq!(r.text(), "/seen");
    assert_eq!(r.header("x-a"), Some("1"));
    assert_eq!(afters(&r), ["inner", "outer"]);
    let r = app.get("/seen").header("x-stop", "1").send();
    assert_eq!(r.status(), 418);
    assert_eq!(afters(&r), ["outer"]);
    assert_eq!(r.header("x-a"), Some("1"));
    // An `http:post` hook that returns an Error stops with it.
    let r = app.post("/seen").send();
    assert_eq!(
        (r.status(), r.text()),
        (409, r#"{"error":"no posts here","code":409}"#.into())
    );
}

#[test]
fn routing_rules() {
    let app = TestApp::new::<Onion>();
    assert_eq!(app.get("/users/me").send().text(), "me");
    assert_eq!(app.get("/users/42").send().text(), r#"{"id":"42"}"#);
    let r = app.put("/users/ada").body(r#"{"x":1}"#).send();
    assert_eq!(r.text(), r#"{"name":"ada","body":{"x":1}}"#);
    let r = app.put("/users/ada").body("nope").send();
    assert_eq!(r.status(), 400);
    assert!(
        r.text().starts_with(r#"{"error":"Invalid JSON"#),
        "{}",
        r.text()
    );
    let r = app.delete("/users/42").send();
    assert_eq!(
        (r.status(), r.header("allow")),
        (405, Some("GET, PUT, HEAD"))
    );
    let r = app.options("/users/42").send();
    assert_eq!(
        (r.status(), r.header("allow")),
        (204, Some("GET, PUT, HEAD, OPTIONS"))
    );
    let r = app.head("/users/42").send();
    assert_eq!((r.status(), r.body()), (200, Vec::new()));
    assert_eq!(app.get("/users/42/x").send().status(), 404);
    let r = app.get("/created").send();
    assert_eq!((r.status(), r.text()), (201, "[1,2]".to_string()));
}

#[test]
fn hooks_before_the_route_and_the_last_reply_wins() {
    let app = TestApp::new::<Onion>();
    let refused = app.ws("/ws?no").err().expect("refused");
    assert_eq!((refused.status, refused.reason.as_str()), (401, "go away"));
    let ws = app.ws("/ws").expect("open");
    ws.send("x");
    assert_eq!(ws.drain(), vec![Payload::from("route")]);
    ws.send("stop");
    assert_eq!(ws.recv_text().as_deref(), Some("hook"));
    let port = app.ws_dedicated("/").expect("open");
    port.send("y");
    assert_eq!(port.recv_text().as_deref(), Some("hook"));
}

#[test]
fn state_ttls_and_quotas() {
    let app = TestApp::new::<Onion>();
    state::set_ttl("k", "v", std::time::Duration::from_secs(2));
    assert_eq!(state::get_string("k").as_deref(), Some("v"));
    app.advance(std::time::Duration::from_secs(2));
    assert_eq!(state::get_string("k"), None);
    app.limit_state_keys(1);
    state::try_set("a", "1").expect("room for one");
    let err = state::set_json("b", &json!(1)).expect_err("full");
    assert!(matches!(err, StateError::Refused(_)), "{err}");
    assert_eq!(Error::from(err).status(), 507);
    assert_eq!(
        state::shared::incr("n", 2),
        Ok(2),
        "the shared namespace has its own quota"
    );
}

#[test]
fn an_unreachable_store_fails_the_try_calls_with_503() {
    let app = TestApp::new::<Onion>();
    state::set("k", "v");
    app.state_unavailable(true);
    let err = state::try_get_string("k").expect_err("unreachable");
    assert!(matches!(err, StateError::Unavailable(_)), "{err}");
    assert_eq!(Error::from(err).status(), 503);
    for err in [
        state::try_delete("k").expect_err("unreachable"),
        state::try_keys("").expect_err("unreachable"),
        state::incr("n", 1).expect_err("unreachable"),
        state::try_set("k", "w").expect_err("unreachable"),
    ] {
        assert!(matches!(err, StateError::Unavailable(_)), "{err}");
    }
    assert_eq!(state::get("k"), None, "the old call answers missing");
    assert!(!state::delete("k"));
    assert!(app
        .logs()
        .iter()
        .any(|(_, l)| l.starts_with("state store unavailable")));
    app.state_unavailable(false);
    assert_eq!(state::try_get_string("k"), Ok(Some("v".to_string())));
    assert_eq!(state::try_keys(""), Ok(vec!["k".to_string()]));
}
