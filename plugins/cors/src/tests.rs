//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::testing::TestApp;

use super::Cors;

#[test]
fn preflight_and_merged_headers_for_any_origin() {
    let app = TestApp::new::<Cors>();
    let r = app
        .options("/x")
        .header("Access-Control-Request-Method", "POST")
        .send();
    assert_eq!(r.status(), 204);
    assert_eq!(r.body(), b"");
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        (
            "access-control-allow-methods",
            "GET,POST,PUT,DELETE,OPTIONS",
        ),
        ("access-control-allow-headers", "Content-Type,Authorization"),
        ("access-control-max-age", "86400"),
    ] {
        assert_eq!(r.header(name), Some(value), "{name}");
    }
    // Not a preflight: the route's answer (here 404), with the origin merged in.
    let r = app.get("/x").send();
    assert_eq!(r.status(), 404);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("vary"), None);
}

#[test]
fn listed_origins_are_echoed_only_when_listed() {
    let app = TestApp::with_config::<Cors>(&[
        ("origins", "https://a.example, https://b.example"),
        ("credentials", "true"),
        ("max_age", "60"),
    ])
    .expect("setup");
    let r = app.get("/").header("Origin", "https://b.example").send();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://b.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("vary"), Some("Origin"));
    let r = app.get("/").header("Origin", "https://evil.example").send();
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), Some("Origin"));
    let r = app
        .options("/")
        .header("Origin", "https://a.example")
        .header("Access-Control-Request-Method", "GET")
        .send();
    assert_eq!(r.header("access-control-max-age"), Some("60"));
    drop(app);
    assert!(TestApp::with_config::<Cors>(&[("max_age", "-1")]).is_err());
}
