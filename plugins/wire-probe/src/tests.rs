//! `cargo test`: the plugin against the SDK's in-memory host.
use berth_sdk::prelude::*;
use berth_sdk::testing::TestApp;

use super::WireProbe;

#[test]
fn probes_answer_as_asked() {
    let app = TestApp::new::<WireProbe>();
    let r = app.get("/status/418").send();
    assert_eq!((r.status(), r.text()), (418, "status 418".to_string()));
    assert_eq!(app.get("/headers?n=5").send().headers().len(), 6);
    assert_eq!(app.get("/hop").send().header("x-kept"), Some("1"));
    let r = app.get("/stream?chunks=2&empty=1&status=201").send();
    assert_eq!(r.status(), 201);
    assert_eq!(app.get("/live").send().json::<Value>(), json!({"live": 1}));
    assert_eq!(r.next_chunk(), Some(Vec::new()));
    assert_eq!(r.text(), "chunk 0\nchunk 1\n");
    // The finished stream released its iterator.
    assert_eq!(app.get("/live").send().json::<Value>(), json!({"live": 0}));
    let forever = app.get("/forever").send();
    assert!((0..1000).all(|_| forever.next_chunk() == Some(b"x".to_vec())));
}
