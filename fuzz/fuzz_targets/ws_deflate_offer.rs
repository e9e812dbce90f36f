//! permessage-deflate negotiation (berth-core's `ws_deflate`) on any
//! `Sec-WebSocket-Extensions` values: never a panic; an accepted offer's windows are
//! ones zlib can use (9–15 to compress, 8–15 to inflate), and the `101`'s answer is
//! itself a valid offer the same policy accepts with the same windows.
#![no_main]

use berth_core::ws_deflate::{negotiate, DeflatePolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, bytes)) = data.split_first() else {
        return;
    };
    let policy = DeflatePolicy {
        window_bits: 9 + knobs % 7,
        context_takeover: knobs & 0x80 == 0,
    };
    // Each NUL starts another header line.
    let headers: Vec<(String, String)> = bytes
        .split(|&b| b == 0)
        .map(|v| {
            (
                "sec-websocket-extensions".to_string(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    let Some(agreed) = negotiate(headers.as_slice(), policy) else {
        return;
    };
    assert!((9..=policy.window_bits).contains(&agreed.server_window_bits));
    assert!((8..=15).contains(&agreed.client_window_bits));
    let again = [("sec-websocket-extensions".to_string(), agreed.header())];
    let twice = negotiate(again.as_slice(), policy).expect("the answer is a valid offer");
    assert_eq!(twice.server_window_bits, agreed.server_window_bits);
    assert!(twice.client_window_bits <= agreed.client_window_bits);
});
