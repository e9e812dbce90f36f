//! A plugin that misbehaves on purpose, for the host's isolation tests.
//!
//! `GET /loop` never returns, `GET /panic` panics (a trap), `GET /oom` allocates
//! without bound, `GET /ok` → `{"ok":true}`.
use berth_sdk::prelude::*;
use std::hint::black_box;

struct Misbehave;

impl Plugin for Misbehave {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.get("/ok", |_| Response::json(&json!({"ok": true})));
        app.get("/loop", |_| {
            let mut n: u64 = 0;
            loop {
                // black_box keeps the optimizer from proving the loop useless.
                n = black_box(n.wrapping_add(1));
                if black_box(n) == u64::MAX {
                    break;
                }
            }
            Response::json(&json!({ "unreachable": n }))
        });
        app.get("/panic", |req| -> Response {
            panic!("misbehave: panic requested by {}", req.path());
        });
        app.get("/oom", |_| {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // 1 MiB at a time, every page touched so it is really committed.
                let mut block = vec![0u8; 1 << 20];
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                hoard.push(black_box(block));
                if black_box(hoard.len()) == usize::MAX {
                    break;
                }
            }
            Response::json(&json!({ "blocks": hoard.len() }))
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Misbehave);
