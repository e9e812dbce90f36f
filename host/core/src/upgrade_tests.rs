use super::*;
use crate::model::Pairs;
use alloc::string::ToString;
use alloc::vec::Vec;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn pairs(headers: &[(&str, &str)]) -> Pairs {
    headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn full(extra: &[(&str, &str)]) -> Pairs {
    let mut h = pairs(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", KEY),
    ]);
    h.extend(pairs(extra));
    h
}

fn status(u: &Upgrade) -> Option<u16> {
    match u {
        Upgrade::Invalid(r) => Some(r.status),
        _ => None,
    }
}

#[test]
fn a_browser_upgrade_is_accepted() {
    assert_eq!(check("GET", true, &full(&[])[..]), Upgrade::Yes(KEY.into()));
    let split = pairs(&[
        ("connection", "keep-alive"),
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", " 13 "),
        ("sec-websocket-key", KEY),
    ]);
    assert_eq!(check("GET", true, &split[..]), Upgrade::Yes(KEY.into()));
}

#[test]
fn without_both_tokens_it_is_plain_http() {
    for h in [
        pairs(&[]),
        pairs(&[("upgrade", "websocket")]),
        pairs(&[("connection", "upgrade")]),
        pairs(&[("upgrade", "h2c"), ("connection", "upgrade")]),
        pairs(&[("upgrade", "websockets"), ("connection", "upgrade")]),
    ] {
        assert_eq!(check("GET", true, &h[..]), Upgrade::No, "{h:?}");
    }
}

#[test]
fn invalid_attempts_are_refused_with_the_rfc_statuses() {
    for method in ["POST", "HEAD", "get"] {
        assert_eq!(status(&check(method, true, &full(&[])[..])), Some(400));
    }
    assert_eq!(status(&check("GET", false, &full(&[])[..])), Some(400));
    let mut v8 = full(&[]);
    v8[2].1 = "8".into();
    let refused = check("GET", true, &v8[..]);
    assert_eq!(status(&refused), Some(426));
    let Upgrade::Invalid(r) = refused else {
        unreachable!()
    };
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    let twice = full(&[("sec-websocket-version", "13")]);
    assert_eq!(status(&check("GET", true, &twice[..])), Some(426));
    assert!(!valid_key("dGhlIHNhbXBsZQ=="), "base64 of 11 bytes");
    assert!(!valid_key("not base64!"));
    for key in [
        "",
        "short",
        "dGhlIHNhbXBsZSBub25jZQ",
        "AAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let mut h = full(&[]);
        h[3].1 = key.into();
        assert_eq!(status(&check("GET", true, &h[..])), Some(400), "{key:?}");
    }
    let mut nokey = full(&[]);
    nokey.truncate(3);
    assert_eq!(status(&check("GET", true, &nokey[..])), Some(400));
}

#[test]
fn plain_requests_on_a_ws_only_path_hear_426() {
    let mut router: Router<u8> = Router::new();
    router
        .insert(Method::Get, "/both", 1)
        .expect("route inserts");
    let r = match on_ws_route(Upgrade::No, &router, "/ws") {
        OnWsRoute::Respond(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(r.status, 426);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    assert_eq!(on_ws_route(Upgrade::No, &router, "/both"), OnWsRoute::Http);
    assert_eq!(
        on_ws_route(Upgrade::Yes(KEY.into()), &router, "/both"),
        OnWsRoute::Accept(KEY.into())
    );
}

#[test]
fn refusals_are_error_statuses() {
    let statuses: Vec<u16> = [0, 101, 200, 302, 399, 400, 451, 599, 600, 999]
        .iter()
        .map(|s| refusal(*s, "no").status)
        .collect();
    assert_eq!(statuses, [403, 403, 403, 403, 403, 400, 451, 599, 403, 403]);
    assert_eq!(too_many().status, 503);
}
