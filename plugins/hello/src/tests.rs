//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Hello;

#[test]
fn hello_answers_json_and_nothing_else() {
    let app = TestApp::new::<Hello>();
    let r = app.get("/hello").send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"message":"Hello, World!"}"#);
    assert_eq!(app.head("/hello").send().body(), b"");
    let post = app.post("/hello").send();
    assert_eq!(post.status(), 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(app.get("/hello/x").send().status(), 404);
    assert_eq!(
        app.get("/hello").send().json::<Value>()["message"],
        "Hello, World!"
    );
}
