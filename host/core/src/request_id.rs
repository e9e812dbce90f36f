//! Request ids (`x-request-id`), the rule both runtimes follow: a client's id is kept
//! when it is 1 to [`MAX_LEN`] visible ASCII characters (so it can go into a log line and
//! back into a header as it is), and otherwise the host makes one: 16 hex digits of a
//! per-server prefix and the request's sequence number, so ids from two servers (or two
//! boots of a device) are unlikely to collide.

/// The longest client-given id that is kept.
pub const MAX_LEN: usize = 128;

/// Whether a client's `x-request-id` value is kept as the request's id.
pub fn acceptable(value: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&value.len()) && value.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A new id: `prefix` and the low 32 bits of `seq`, as 16 lower-case hex digits (written
/// into a stack buffer: nothing to allocate or format per request).
pub fn generate(prefix: u32, seq: u64) -> [u8; 16] {
    let value = (u64::from(prefix) << 32) | (seq & 0xffff_ffff);
    let mut hex = [0u8; 16];
    for (i, digit) in hex.iter_mut().enumerate() {
        let nibble = (value >> (60 - 4 * i)) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_ascii_up_to_128_is_kept() {
        assert!(acceptable(b"abc-123"));
        assert!(acceptable(&[b'x'; 128]));
        for bad in [
            &b""[..],
            &[b'x'; 129][..],
            b"has space",
            b"tab\there",
            "é".as_bytes(),
        ] {
            assert!(!acceptable(bad), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_prefix_then_sequence() {
        assert_eq!(&generate(0xdead_beef, 0x2a), b"deadbeef0000002a");
        assert_eq!(
            &generate(1, 0x1_0000_0002),
            b"0000000100000002",
            "low 32 bits"
        );
    }
}
