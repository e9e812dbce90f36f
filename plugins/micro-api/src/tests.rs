//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::MicroApi;

#[test]
fn routing_and_responses() {
    let app = TestApp::new::<MicroApi>();
    let cases: &[(Method, &str, u16, &str)] = &[
        (
            Method::Get,
            "/",
            200,
            r#"{"message":"Hello from MicroServer"}"#,
        ),
        (
            Method::Get,
            "/users/7?page=2",
            200,
            r#"{"id":"7","page":"2"}"#,
        ),
        (Method::Get, "/users/7", 200, r#"{"id":"7","page":"1"}"#),
        (
            Method::Get,
            "/posts/1/comments/2",
            200,
            r#"{"post":"1","comment":"2"}"#,
        ),
        (
            Method::Get,
            "/search?q=esp32&page=2",
            200,
            r#"{"query":"esp32","page":2}"#,
        ),
        (
            Method::Get,
            "/search?page=x",
            400,
            r#"{"error":"page must be an integer","code":400}"#,
        ),
        (Method::Get, "/resource", 200, r#"{"items":[]}"#),
        (Method::Post, "/resource", 201, r#"{"created":true}"#),
        (Method::Put, "/users/9", 200, r#"{"updated":"9"}"#),
        (Method::Patch, "/users/9", 200, r#"{"patched":true}"#),
        (Method::Delete, "/users/9", 204, ""),
        (
            Method::Get,
            "/new",
            200,
            r#"{"message":"You were redirected"}"#,
        ),
        (
            Method::Post,
            "/echo",
            400,
            r#"{"error":"Empty body","code":400}"#,
        ),
    ];
    for (method, target, status, body) in cases {
        let r = app.request(*method, target).send();
        assert_eq!(
            (r.status(), r.text().as_str()),
            (*status, *body),
            "{method} {target}"
        );
    }
    let r = app.get("/old").send();
    assert_eq!((r.status(), r.header("location")), (302, Some("/new")));
    let r = app.get("/protected").send();
    assert_eq!(r.header("x-custom-header"), Some("value"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = app.post("/echo").body("héllo").send();
    assert_eq!(r.text(), "héllo");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = app.get("/status").remote_addr("10.1.2.3:4444").send();
    assert_eq!(r.json::<Value>(), json!({"ok": true, "ip": "10.1.2.3"}));
}

#[test]
fn sum_follows_pythons_float() {
    let app = TestApp::new::<MicroApi>();
    for (body, answer) in [
        (r#"{"a":1,"b":2.5}"#, r#"{"result":3.5}"#),
        (r#"{"a":"2","b":true}"#, r#"{"result":3.0}"#),
        (r#"{"a":1}"#, r#"{"result":1.0}"#),
        ("not json", r#"{"result":0.0}"#),
        (
            r#"{"a":"x"}"#,
            r#"{"error":"Invalid numbers provided","code":400}"#,
        ),
        (
            r#"{"a":null}"#,
            r#"{"error":"Invalid numbers provided","code":400}"#,
        ),
        (
            "[1,2]",
            r#"{"error":"Invalid numbers provided","code":400}"#,
        ),
    ] {
        assert_eq!(app.post("/sum").body(body).send().text(), answer, "{body}");
    }
}

#[test]
fn streams_and_files() {
    let app = TestApp::with_config::<MicroApi>(&[("data", "d/"), ("www", "w")]).expect("setup");
    let r = app.get("/stream").send();
    assert_eq!(r.header("berth-chunk-interval-ms"), Some("500"));
    assert_eq!(r.text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    let large = app.get("/large").send().text();
    assert_eq!(large.lines().count(), 1000);
    assert!(large.ends_with("Line 999\n"));
    let r = app.get("/file").send();
    assert_eq!(
        (r.file(), r.header("content-type")),
        (Some("d/large.csv"), Some("text/csv"))
    );
    assert_eq!(app.get("/download").send().file(), Some("d/report.csv"));
    assert_eq!(app.get("/favicon.ico").send().file(), Some("w/favicon.ico"));
    let mounts = &app.registration().mounts;
    assert_eq!(
        (mounts[0].prefix.as_str(), mounts[0].dir.as_str()),
        ("/static", "w")
    );
}
