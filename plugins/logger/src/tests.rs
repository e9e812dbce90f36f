//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::testing::TestApp;

use super::Logger;

#[test]
fn logs_hooks_and_access_lines() {
    let app = TestApp::with_config::<Logger>(&[("prefix", "[L]")]).expect("setup");
    assert_eq!(app.get("/x").send().status(), 404); // never changes responses
    app.post("/y").send();
    app.put("/z").send();
    let ws = app.ws_dedicated("/").expect("open");
    ws.close(1000);
    app.stop();
    let lines: Vec<String> = app.logs().into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        lines,
        [
            "[L] GET /x",
            "[L] GET /x | 404",
            "[L] POST /y",
            "[L] POST /y | 404",
            "[L] PUT /z | 404",
            "[L] WS connected",
            "[L] WS disconnected",
            "[L] server stopping",
        ]
    );
}

#[test]
fn access_lines_can_be_turned_off() {
    let app = TestApp::with_config::<Logger>(&[("access", "false")]).expect("setup");
    app.get("/x").send();
    assert_eq!(app.logs().len(), 1);
    drop(app);
    let err = TestApp::with_config::<Logger>(&[("access", "maybe")])
        .err()
        .expect("a bad boolean refuses the config");
    assert!(err.contains("access"), "{err}");
}
