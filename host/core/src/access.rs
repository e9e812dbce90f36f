//! The access line and the rule that keeps every log line one line.
//!
//! A log is only evidence while each line is what the server wrote. Peer- and
//! plugin-controlled text reaches the log in many places: the request target of the
//! access line, and every plugin's `log` call (the bundled `logger` logs the
//! percent-*decoded* path, so `/x%0D%0A[INFO] …` would start a forged line). So every
//! such text goes through [`Escaped`], which writes control characters as visible
//! escapes: `\r`, `\n`, `\t`, `\xNN` for the other C0 controls and DEL, and `\u{NNNN}`
//! for the C1 controls and the Unicode line and paragraph separators (some log viewers
//! break lines there). Everything else, backslashes included, is written unchanged: the
//! point is that a peer can never end a line or drive a terminal, not a reversible
//! encoding, and leaving `\` alone makes escaping twice the same as escaping once.
//!
//! The access line (seed 002's `LoggingMiddleware` shape) lives here too, so the desktop
//! server and the embedded runtime write it alike:
//! `192.168.1.50 | GET /api/data | 200 | 1.2ms`.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt::{self, Display, Write};

/// Whether `c` must not reach a log line as itself.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Writes a text with its control characters escaped (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some((i, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            f.write_str(&rest[..i])?;
            match c {
                '\r' => f.write_str("\\r")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
                c => write!(f, "\\u{{{:04x}}}", c as u32)?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// `text` with its control characters escaped; borrowed (no allocation) when it has none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if text.chars().any(needs_escape) {
        let mut out = String::with_capacity(text.len() + 8);
        // Writing to a String cannot fail.
        let _ = write!(out, "{}", Escaped(text));
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// One access line: `ip | METHOD target | status | 1.2ms`. The method and target are
/// escaped (they come from the peer); `elapsed_us` is the time to the response head.
#[derive(Clone, Copy)]
pub struct AccessLine<'a> {
    /// The peer's address as the runtime shows it (an IP, or `ip:port`): the runtime's
    /// own text, so it is written as it is (a `Display`, so no string is built for it).
    pub peer: &'a dyn Display,
    /// The request method as received (`-` when the head never parsed).
    pub method: &'a str,
    /// The request target as received (`-` when the head never parsed).
    pub target: &'a str,
    /// The status sent.
    pub status: u16,
    /// Microseconds from the request to its response head.
    pub elapsed_us: u64,
}

impl Display for AccessLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tenths of a millisecond, rounded: the precision seed 002's line shows.
        let tenths = (self.elapsed_us + 50) / 100;
        write!(
            f,
            "{} | {} {} | {} | {}.{}ms",
            self.peer,
            Escaped(self.method),
            Escaped(self.target),
            self.status,
            tenths / 10,
            tenths % 10
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn every_control_character_is_escaped() {
        for c in (0u32..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| needs_escape(c))
        {
            let text = format!("a{c}b");
            let out = escape(&text);
            assert!(!out.chars().any(needs_escape), "{c:?} -> {out:?}");
            assert!(out.starts_with('a') && out.ends_with('b'), "{out:?}");
        }
        assert_eq!(
            escape("a\r\nb\t\u{1b}[31m\u{7f}\u{85}\u{2028}"),
            "a\\r\\nb\\t\\x1b[31m\\x7f\\u{0085}\\u{2028}"
        );
    }

    #[test]
    fn plain_text_is_borrowed_and_escaping_is_idempotent() {
        assert!(matches!(escape("GET /a\\b ünï"), Cow::Borrowed(_)));
        let once = escape("x\ny").into_owned();
        assert_eq!(escape(&once), once);
    }

    #[test]
    fn access_line_shape() {
        let line = AccessLine {
            peer: &"10.0.0.1",
            method: "GET",
            target: "/a\r\n[INFO] forged",
            status: 200,
            elapsed_us: 1_249,
        };
        assert_eq!(
            line.to_string(),
            "10.0.0.1 | GET /a\\r\\n[INFO] forged | 200 | 1.2ms"
        );
        let slow = AccessLine {
            elapsed_us: 12_345_678,
            ..line
        };
        assert!(slow.to_string().ends_with("| 12345.7ms"), "{slow}");
    }
}
