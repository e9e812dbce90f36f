//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::Chat;

#[test]
fn rooms_names_and_messages() {
    let app = TestApp::new::<Chat>();
    let ada = app.ws_dedicated("/").expect("open");
    let bob = app.ws("/chat/ws").expect("open");
    let eve = app.ws_dedicated("/").expect("open");
    assert_eq!(ada.data("username").as_deref(), Some("anonymous"));

    ada.send(r#"{"type":"set_name","name":"Ada"}"#);
    assert_eq!(
        ada.recv_json(),
        Some(json!({"type": "name_set", "name": "Ada"}))
    );
    for ws in [&ada, &bob] {
        ws.send(r#"{"action":"join","room":"r1"}"#);
        assert_eq!(
            ws.recv_json(),
            Some(json!({"action": "joined", "room": "r1"}))
        );
    }
    eve.send(r#"{"action":"join"}"#);
    assert_eq!(
        eve.recv_json(),
        Some(json!({"action": "joined", "room": "general"}))
    );

    ada.send(r#"{"action":"message","text":"hi"}"#);
    assert_eq!(ada.recv_json(), Some(json!({"action": "sent"})));
    assert_eq!(
        bob.recv_json(),
        Some(json!({"action": "message", "from": "Ada", "text": "hi"}))
    );
    assert_eq!(eve.recv(), None);

    // Joining another room leaves the first one.
    bob.send(r#"{"action":"join","room":"general"}"#);
    bob.recv();
    ada.send(r#"{"action":"message","text":"anyone?"}"#);
    ada.recv();
    assert_eq!(bob.recv(), None);

    // Not understood: no reply on the route, echoed on the dedicated port.
    bob.send("what");
    assert_eq!(bob.recv(), None);
    eve.send("what");
    assert_eq!(eve.recv_text().as_deref(), Some("what"));
    drop(eve);
    assert!(app.logged("client anonymous disconnected"));
}

#[test]
fn the_page_points_at_the_dedicated_port() {
    let app = TestApp::new::<Chat>();
    app.start_with(ServerInfo {
        http_addr: "127.0.0.1:8000".into(),
        ws_addr: Some("127.0.0.1:8765".into()),
    });
    let page = app.get("/chat").send();
    assert!(page
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
    assert!(page.text().contains("8765"));
    app.start();
    assert!(!app.get("/chat").send().text().contains("8765"));
}
