//! Writing response heads: status line, the plugin's headers (validated), framing.
//!
//! Framing is the host's business, exactly as on the desktop server: a plugin's own
//! `content-length`/`transfer-encoding` is dropped (it could only contradict the body),
//! and a header whose name is not a token or whose value holds CR, LF or NUL is dropped
//! rather than allowed to split the response.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use berth_core::model::Pairs;

/// How the body after the head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `content-length: n` (omitted for 1xx, 204 and 304, which have no body).
    Length(usize),
    /// `transfer-encoding: chunked`.
    Chunked,
    /// No length: the body ends when the connection closes (SSE).
    UntilClose,
}

/// The reason phrase of the statuses Berth and its plugins use; others get none
/// (the phrase is optional in HTTP/1.1).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The message of the JSON error body the host writes for its own rejections.
pub fn error_message(status: u16) -> &'static str {
    match status {
        501 => "Method Not Implemented",
        s => match reason(s) {
            "" => "Error",
            r => r,
        },
    }
}

/// Whether a status can be sent at all: three digits, 100–999 (as hyper accepts).
pub fn valid_status(status: u16) -> bool {
    (100..1000).contains(&status)
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_value(value: &str) -> bool {
    !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Whether a plugin header may be written as it is.
pub fn header_ok(name: &str, value: &str) -> bool {
    is_token(name) && is_value(value)
}

/// Writes a response head. Returns the names of the headers it dropped, for the log.
/// `extra` are host headers (`connection`, WebSocket accept) written after the plugin's.
pub fn head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &Pairs,
    framing: Framing,
    extra: &[(&str, &str)],
) -> Vec<String> {
    let mut dropped = Vec::new();
    let mut text = String::with_capacity(128);
    let _ = write!(text, "HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("connection")
        {
            continue;
        }
        if !header_ok(name, value) {
            dropped.push(name.clone());
            continue;
        }
        let _ = write!(text, "{name}: {value}\r\n");
    }
    let bodiless = status < 200 || status == 204 || status == 304;
    match framing {
        Framing::Length(n) if !bodiless => {
            let _ = write!(text, "content-length: {n}\r\n");
        }
        Framing::Chunked if !bodiless => text.push_str("transfer-encoding: chunked\r\n"),
        _ => {}
    }
    for (name, value) in extra {
        let _ = write!(text, "{name}: {value}\r\n");
    }
    text.push_str("\r\n");
    out.extend_from_slice(text.as_bytes());
    dropped
}

/// Appends one chunk of a chunked body (`data` empty writes the last chunk).
pub fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    let mut size = String::new();
    let _ = write!(size, "{:x}\r\n", data.len());
    out.extend_from_slice(size.as_bytes());
    out.extend_from_slice(data);
    // For the last chunk this is the empty trailer line: `0\r\n\r\n`.
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn text(status: u16, headers: &[(&str, &str)], framing: Framing) -> (String, Vec<String>) {
        let pairs: Pairs = headers
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect();
        let mut out = Vec::new();
        let dropped = head(
            &mut out,
            status,
            &pairs,
            framing,
            &[("connection", "close")],
        );
        (String::from_utf8(out).unwrap(), dropped)
    }

    #[test]
    fn writes_status_headers_and_length() {
        let (t, dropped) = text(200, &[("content-type", "text/plain")], Framing::Length(5));
        assert_eq!(
            t,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
        );
        assert!(dropped.is_empty());
    }

    #[test]
    fn plugin_framing_headers_are_replaced() {
        let (t, _) = text(
            200,
            &[
                ("Content-Length", "999"),
                ("Transfer-Encoding", "gzip"),
                ("Connection", "x"),
            ],
            Framing::Length(2),
        );
        assert_eq!(
            t,
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn injection_attempts_are_dropped() {
        let (t, dropped) = text(
            200,
            &[
                ("x-ok", "fine"),
                ("x-bad", "a\r\nset-cookie: evil"),
                ("bad name", "v"),
                ("", "v"),
            ],
            Framing::Length(0),
        );
        assert!(t.contains("x-ok: fine\r\n"));
        assert!(!t.contains("evil"));
        assert_eq!(
            dropped,
            vec![String::from("x-bad"), "bad name".into(), "".into()]
        );
    }

    #[test]
    fn bodiless_statuses_have_no_length() {
        for status in [101, 204, 304] {
            let (t, _) = text(status, &[], Framing::Length(0));
            assert!(!t.contains("content-length"), "{status}: {t}");
        }
        let (t, _) = text(299, &[], Framing::Length(0));
        assert!(t.starts_with("HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        chunk(&mut out, b"hello world, this is 26 by");
        chunk(&mut out, b"");
        assert_eq!(out, b"1a\r\nhello world, this is 26 by\r\n0\r\n\r\n");
    }

    #[test]
    fn statuses() {
        assert!(valid_status(100) && valid_status(999));
        assert!(!valid_status(99) && !valid_status(1000) && !valid_status(0));
        assert_eq!(error_message(501), "Method Not Implemented");
        assert_eq!(error_message(413), "Payload Too Large");
        assert_eq!(error_message(799), "Error");
    }
}
