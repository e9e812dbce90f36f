//! Writing response heads: status line, headers, framing.
//!
//! What a plugin may put in a head is decided before this, once for both runtimes, by
//! [`berth_core::respond::finalise`] (status range, the strip list, header validity and
//! count); this module only writes what is left, and frames the body as
//! [`berth_core::respond::has_framing`] says.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use berth_core::model::Pairs;
use berth_core::respond::has_framing;

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

/// Writes a response head whose headers were already finalised (or are the host's
/// own). `extra` are host headers (`connection`, WebSocket accept) written after them.
pub fn head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &Pairs,
    framing: Framing,
    extra: &[(&str, &str)],
) {
    let mut text = String::with_capacity(128);
    let _ = write!(text, "HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        let _ = write!(text, "{name}: {value}\r\n");
    }
    if has_framing(status) {
        match framing {
            Framing::Length(n) => {
                let _ = write!(text, "content-length: {n}\r\n");
            }
            Framing::Chunked => text.push_str("transfer-encoding: chunked\r\n"),
            Framing::UntilClose => {}
        }
    }
    for (name, value) in extra {
        let _ = write!(text, "{name}: {value}\r\n");
    }
    text.push_str("\r\n");
    out.extend_from_slice(text.as_bytes());
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

    fn text(status: u16, headers: &[(&str, &str)], framing: Framing) -> String {
        let pairs: Pairs = headers
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect();
        let mut out = Vec::new();
        head(
            &mut out,
            status,
            &pairs,
            framing,
            &[("connection", "close")],
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_status_headers_and_length() {
        let t = text(200, &[("content-type", "text/plain")], Framing::Length(5));
        assert_eq!(
            t,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn bodiless_statuses_have_no_framing() {
        for status in [101, 204, 304] {
            for framing in [Framing::Length(0), Framing::Chunked] {
                let t = text(status, &[], framing);
                assert!(!t.contains("content-length"), "{status}: {t}");
                assert!(!t.contains("transfer-encoding"), "{status}: {t}");
            }
        }
        let t = text(299, &[], Framing::Chunked);
        assert!(t.starts_with("HTTP/1.1 299 \r\ntransfer-encoding: chunked\r\n"));
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        chunk(&mut out, b"hello world, this is 26 by");
        chunk(&mut out, b"");
        assert_eq!(out, b"1a\r\nhello world, this is 26 by\r\n0\r\n\r\n");
    }

    #[test]
    fn error_messages() {
        assert_eq!(error_message(501), "Method Not Implemented");
        assert_eq!(error_message(413), "Payload Too Large");
        assert_eq!(error_message(799), "Error");
    }
}
