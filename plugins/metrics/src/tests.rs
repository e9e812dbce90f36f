//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Metrics;

#[test]
fn counts_requests_connections_and_messages() {
    let app = TestApp::new::<Metrics>();
    app.get("/anything").send();
    let a = app.ws_dedicated("/").expect("open");
    let b = app.ws_dedicated("/").expect("open");
    a.send("one");
    b.send("two");
    a.send("three");
    assert_eq!(a.recv_text().as_deref(), Some("one")); // echoed: nobody replied
    drop(b);
    let m = app.get("/metrics").send().json::<Value>();
    assert_eq!(
        m,
        json!({"requests": 2, "ws_connections": 1, "ws_messages": 3})
    );
}
