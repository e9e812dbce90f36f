//! Parsing untrusted JSON without overflowing the plugin's stack.
//!
//! serde_json parses nested arrays and objects by recursion, and a plugin's stack is
//! small: `berth build` links with 16 KiB, so that a microcontroller can hold several
//! instances. Parsing into a [`serde_json::Value`] (then serialising and dropping it, as
//! an echo does) takes about 600 bytes of stack per level of nesting, measured on this
//! SDK's plugins, so a body nested 25 levels deep ran the stack into the bottom of linear
//! memory: the call trapped, the client got a 500 and the instance was replaced.
//!
//! Every JSON parse the SDK makes of something a peer sent (request bodies, WebSocket
//! messages, stored state) goes through [`from_slice`] / [`from_str`], which first count
//! the nesting (one pass over the bytes, skipping strings) and refuse input deeper than
//! the stack left at the call can take: an ordinary [`serde_json::Error`], which a
//! handler's `?` answers with 400. Plugins parsing peer input themselves should call
//! these too.

use serde::de::{DeserializeOwned, Error as _};

/// serde_json's own nesting limit (it refuses the 128th level); nothing deeper parses
/// on any stack.
pub const MAX_DEPTH: usize = 127;

/// Stack one level of nesting may take while it is parsed into a `Value`, serialised and
/// dropped (measured: about 590 bytes for arrays and 620 for objects), with room to spare
/// for other types and compilers.
#[cfg(target_arch = "wasm32")]
const STACK_PER_LEVEL: usize = 768;

/// Stack kept back for the frames around the parse (the deserializer's entry, the
/// allocator, error formatting).
#[cfg(target_arch = "wasm32")]
const STACK_RESERVE: usize = 2048;

/// The deepest nesting a parse started here can take: what the stack has left, at most
/// [`MAX_DEPTH`].
pub fn max_depth() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        extern "C" {
            /// The lowest address of the stack (wasm-ld's symbol; the stack grows down).
            static __stack_low: u8;
        }
        // Taking a local's address puts it on the shadow stack: it marks how deep the
        // stack is here.
        let here = 0u8;
        let sp = core::hint::black_box(&here) as *const u8 as usize;
        // A linker-defined symbol: only its address is taken.
        let low = core::ptr::addr_of!(__stack_low) as usize;
        let free = sp.saturating_sub(low).saturating_sub(STACK_RESERVE);
        (free / STACK_PER_LEVEL).min(MAX_DEPTH)
    }
    #[cfg(not(target_arch = "wasm32"))]
    MAX_DEPTH
}

/// How deeply `bytes` nests arrays and objects, counting no further than `limit + 1`.
/// Brackets inside strings do not count; malformed input is left to the parser.
pub fn depth(bytes: &[u8], limit: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > limit {
                        break;
                    }
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[inline(never)]
fn check(bytes: &[u8]) -> Result<(), serde_json::Error> {
    let limit = max_depth();
    if depth(bytes, limit) > limit {
        return Err(serde_json::Error::custom(format_args!(
            "JSON nested deeper than {limit} levels"
        )));
    }
    Ok(())
}

/// `serde_json::from_slice`, refusing nesting deeper than [`max_depth`].
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    check(bytes)?;
    serde_json::from_slice(bytes)
}

/// `serde_json::from_str`, refusing nesting deeper than [`max_depth`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    check(text.as_bytes())?;
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_arrays_and_objects_outside_strings() {
        assert_eq!(depth(b"1", 10), 0);
        assert_eq!(depth(b"[]", 10), 1);
        assert_eq!(depth(br#"{"a":[1,{"b":[]}]}"#, 10), 4);
        assert_eq!(depth(br#"["[[[{{{", "\"[[["]"#, 10), 1);
        assert_eq!(depth(br#"[["\\"], [[]]]"#, 10), 3);
        // Stops counting past the limit.
        assert_eq!(depth(&[b'['; 1000], 5), 6);
    }

    #[test]
    fn too_deep_is_a_data_error() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let e = from_str::<serde_json::Value>(&deep).unwrap_err();
        assert!(e.is_data(), "{e}");
        assert!(e.to_string().contains("nested deeper than 127"), "{e}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(from_str::<serde_json::Value>(&ok).is_ok());
    }
}
