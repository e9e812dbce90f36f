//! Parsing a request head out of the connection's fixed buffer, with the limits.
//!
//! [`parse_head`] is a pure function over the bytes received so far, in the style of
//! mini-redis's `Frame::check`: it says *incomplete* (read more), *complete* (here is
//! the head and how many bytes it took) or *rejected* (answer with this status and close).
//! httparse does the parsing; the limits are checked around it:
//!
//! - a request line longer than `max_request_line` → 414;
//! - a header line longer than `max_header_size`, more than `max_headers` headers, or a
//!   head that does not fit the buffer → 431;
//! - anything httparse refuses → 400.
//!
//! Empty lines before the request line (RFC 9112 §2.2 lets a server ignore them, and
//! httparse does) are skipped *before* the limits are checked: counted as the request
//! line, they used to move the real request line under the header-line limit.
//!
//! The body framing ([`body_kind`]) is held to what hyper accepts or stricter, because
//! where one parser sees a request end and another sees it continue is how requests are
//! smuggled past a proxy: one `Content-Length` of ASCII digits, a `Transfer-Encoding`
//! of tokens, only space and tab as whitespace around either, and never both.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use berth_core::limits::Limits;
use berth_core::model::Pairs;

/// A parsed request head. Header names are lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method as sent (case-sensitive).
    pub method: String,
    /// The request target, e.g. `/users/42?page=2`.
    pub target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// Headers, lower-case names, in order.
    pub headers: Pairs,
}

impl Head {
    /// The first header of this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        berth_core::model::find_pair(&self.headers, name)
    }

    /// Whether a comma-separated header such as `Connection` holds `token`
    /// (ASCII case-insensitive), in any of its occurrences.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection stays open after this request: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        if self.minor_version >= 1 {
            !self.has_token("connection", "close")
        } else {
            self.has_token("connection", "keep-alive")
        }
    }
}

/// What the bytes received so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed (and may still fit).
    Incomplete,
    /// A whole head, which took this many bytes of the buffer.
    Complete(Head, usize),
    /// Answer with this status and close the connection.
    Reject(u16),
}

/// Parses the head at the start of `buf`. `capacity` is the size of the connection's
/// head buffer: once it is full without a complete head, the request is rejected.
pub fn parse_head(buf: &[u8], capacity: usize, limits: &Limits) -> Parsed {
    let skipped = empty_lines(buf);
    if skipped == buf.len() {
        return if buf.len() >= capacity {
            Parsed::Reject(400)
        } else {
            Parsed::Incomplete
        };
    }
    let start = &buf[skipped..];
    // The request line first: a long URI is 414 even before the head is complete.
    let line_end = start.iter().position(|&b| b == b'\n');
    let line_len = line_end.unwrap_or(start.len());
    if line_len > limits.max_request_line + 1 {
        return Parsed::Reject(414);
    }
    let Some(line_end) = line_end else {
        return if buf.len() >= capacity {
            Parsed::Reject(414)
        } else {
            Parsed::Incomplete
        };
    };
    // Each header line of the part received so far, complete or not.
    let mut count = 0usize;
    let mut rest = &start[line_end + 1..];
    loop {
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > limits.max_header_size {
            return Parsed::Reject(431);
        }
        if !complete || line.is_empty() {
            break;
        }
        count += 1;
        if count > limits.max_headers {
            return Parsed::Reject(431);
        }
        rest = &rest[line.len() + 1 + usize::from(rest[line.len()] == b'\r')..];
    }

    let mut slots = alloc::vec![httparse::EMPTY_HEADER; limits.max_headers.max(1)];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Parsed::Complete(to_head(&req), len),
        Ok(httparse::Status::Partial) if buf.len() >= capacity => Parsed::Reject(431),
        Ok(httparse::Status::Partial) => Parsed::Incomplete,
        Err(httparse::Error::TooManyHeaders) => Parsed::Reject(431),
        Err(_) => Parsed::Reject(400),
    }
}

/// How many bytes of empty lines (`CRLF` or a bare `LF`, as httparse skips them) open
/// `buf`. A lone `CR` at the end is left for the next read.
fn empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match buf.get(i..) {
            Some([b'\r', b'\n', ..]) => i += 2,
            Some([b'\n', ..]) => i += 1,
            _ => return i,
        }
    }
}

fn to_head(req: &httparse::Request<'_, '_>) -> Head {
    let headers = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect::<Vec<_>>();
    Head {
        method: req.method.unwrap_or("").to_string(),
        target: req.path.unwrap_or("/").to_string(),
        minor_version: req.version.unwrap_or(1),
        headers,
    }
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (no `Content-Length`, or zero).
    Empty,
    /// Exactly this many bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Optional whitespace as HTTP defines it (RFC 9110 §5.6.3): space and tab, nothing else.
/// `str::trim` would also take a no-break space or a vertical tab, which hyper refuses.
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Decides the body framing, or the status that rejects the request:
/// 413 for a declared length over `max_body_size`; 400 for a `Content-Length` that is
/// not exactly one value of ASCII digits (a repeated header or a list, even of equal
/// values, is refused), for a `Transfer-Encoding` that is not a list of tokens, and for
/// both headers at once (a request smuggling vector); 501 for a transfer coding other
/// than `chunked` alone.
pub fn body_kind(head: &Head, max_body_size: usize) -> Result<BodyKind, u16> {
    let mut lengths = head.headers.iter().filter(|(n, _)| n == "content-length");
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(400),
        (Some((_, value)), None) => {
            let digits = trim_ows(value);
            // u64 has 20 digits; more is never a length we accept.
            if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(400);
            }
            Some(digits.parse::<u64>().map_err(|_| 400u16)?)
        }
    };
    let mut codings = Vec::new();
    for (_, value) in head
        .headers
        .iter()
        .filter(|(n, _)| n == "transfer-encoding")
    {
        for coding in value.split(',').map(trim_ows) {
            if !is_token(coding) {
                return Err(400);
            }
            codings.push(coding);
        }
    }
    let has_te = head.headers.iter().any(|(n, _)| n == "transfer-encoding");
    if has_te {
        if length.is_some() {
            return Err(400);
        }
        return match codings.as_slice() {
            [one] if one.eq_ignore_ascii_case("chunked") => Ok(BodyKind::Chunked),
            _ => Err(501),
        };
    }
    match length {
        None | Some(0) => Ok(BodyKind::Empty),
        Some(n) if n > max_body_size as u64 => Err(413),
        Some(n) => Ok(BodyKind::Length(n as usize)),
    }
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
