//! The little JSON the host writes itself (error bodies), without a serializer:
//! `berth-core` is `no_std` and needs only string escaping.

use alloc::format;
use alloc::string::String;
use core::fmt::Write;

/// Appends `s` to `out` as a JSON string literal, quotes included.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Seed 002's error body: `{"error":"<message>","code":<status>}`.
pub fn error_body(status: u16, message: &str) -> String {
    let mut out = String::from("{\"error\":");
    write_str(&mut out, message);
    out.push_str(&format!(",\"code\":{status}}}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_and_quotes() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, r#""a\"b\\c\n\u0001é""#);
    }

    #[test]
    fn error_shape() {
        assert_eq!(
            error_body(404, "Not Found"),
            r#"{"error":"Not Found","code":404}"#
        );
    }
}
