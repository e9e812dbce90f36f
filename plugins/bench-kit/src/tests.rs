//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::BenchKit;

#[test]
fn echo_json_and_counter() {
    let app = TestApp::new::<BenchKit>();
    let r = app.post("/echo-json").body(r#"{ "a" : [1, 2] }"#).send();
    assert_eq!((r.status(), r.text()), (200, r#"{"a":[1,2]}"#.to_string()));
    let r = app.post("/echo-json").body("{nope").send();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text(), r#"{"error":"Invalid JSON body","code":400}"#);
    for n in 1..=3 {
        assert_eq!(
            app.get("/incr").send().json::<Value>(),
            json!({ "hits": n })
        );
    }
    // A counter that is not an integer is the plugin's state going wrong: 500.
    state::set("hits", "x");
    assert_eq!(app.get("/incr").send().status(), 500);
}
