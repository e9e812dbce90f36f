//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::{Published, TestApp};

use super::PubSub;

#[test]
fn subscribe_and_publish() {
    let app = TestApp::new::<PubSub>();
    let r = app
        .post("/publish/news?event=flash&id=7")
        .body("hello")
        .send();
    assert_eq!(r.json::<Value>(), json!({ "subscribers": 0 }));
    assert_eq!(app.get("/sse/news").send().sse_topic(), Some("news"));
    let r = app.post("/publish/news").body("again").send();
    assert_eq!(r.json::<Value>(), json!({ "subscribers": 1 }));
    assert_eq!(
        app.published(),
        vec![
            Published {
                topic: "news".into(),
                data: "hello".into(),
                event: Some("flash".into()),
                id: Some("7".into()),
            },
            Published {
                topic: "news".into(),
                data: "again".into(),
                event: None,
                id: None,
            },
        ]
    );
}
