//! The embedded runtime's RFC 6455 decoder: any bytes, split anywhere, give the same
//! messages and the same failure, never a panic, never a message over its limits; and
//! whatever it accepts re-encodes.
#![no_main]

use berth_embedded::ws::codec::{encode, op, Decoder, Failure, Incoming};
use libfuzzer_sys::fuzz_target;

fn run(input: &[u8], piece: usize) -> (Vec<Incoming>, Option<Failure>) {
    let mut d = Decoder::new(1024, 4096);
    let mut buf: Vec<u8> = Vec::new();
    let mut items = Vec::new();
    for part in input.chunks(piece.max(1)) {
        buf.extend_from_slice(part);
        loop {
            match d.feed(&buf) {
                Ok((used, item)) => {
                    assert!(used <= buf.len());
                    buf.drain(..used);
                    match item {
                        Some(item) => items.push(item),
                        None if used == 0 || buf.is_empty() => break,
                        None => {}
                    }
                }
                Err(f) => return (items, Some(f)),
            }
        }
    }
    (items, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let whole = run(input, input.len());
    let split = run(input, usize::from(piece % 32) + 1);
    assert_eq!(whole, split);
    for item in &whole.0 {
        let mut out = Vec::new();
        match item {
            Incoming::Text(t) => {
                assert!(t.len() <= 4096);
                encode(&mut out, op::TEXT, t.as_bytes());
            }
            Incoming::Binary(b) => {
                assert!(b.len() <= 4096);
                encode(&mut out, op::BINARY, b);
            }
            _ => {}
        }
    }
});
