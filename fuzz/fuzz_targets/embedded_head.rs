//! The embedded runtime's request-head parser and body framing: whatever the bytes and
//! however they arrive, `parse_head` answers incomplete, complete or a rejection (never a
//! panic); a complete head never claims more bytes than it was given, and feeding the
//! same bytes in two reads gives the same answer as in one.
#![no_main]

use berth_core::limits::Limits;
use berth_embedded::http::head::{body_kind, parse_head, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_request_line: 200,
        max_header_size: 200,
        max_headers: 8,
        ..Limits::default()
    };
    let capacity = 1024;
    let whole = parse_head(bytes, capacity, &limits);
    if let Parsed::Complete(head, len) = &whole {
        assert!(*len <= bytes.len());
        let _ = body_kind(head, 1 << 16);
        let _ = head.keep_alive();
    }
    // A prefix that is refused means the whole is refused (maybe for another of its
    // faults, found first once more bytes are there), and a prefix never completes with
    // more than itself.
    let cut = usize::from(split) % (bytes.len() + 1);
    match parse_head(&bytes[..cut], capacity, &limits) {
        Parsed::Complete(_, len) => {
            assert!(len <= cut);
            assert!(matches!(whole, Parsed::Complete(_, l) if l == len));
        }
        Parsed::Reject(_) if bytes.len() < capacity => {
            assert!(
                matches!(whole, Parsed::Reject(_)),
                "prefix refused, whole {whole:?}"
            );
        }
        _ => {}
    }
});
