//! Differential: the embedded runtime's head parser, body framing and chunked decoder
//! against a reference built on httparse (its default, strict configuration) and
//! RFC 9112's framing rules, spelled out below as plainly as they can be. For the same
//! bytes both must agree on whether the request is refused, still incomplete, or where
//! it ends — a disagreement is how requests are smuggled past a proxy.
//!
//! The reference states the rules the embedded parser is documented to add to
//! httparse's: exactly one `Content-Length` of 1–19 ASCII digits, a `Transfer-Encoding`
//! of exactly `chunked`, never both, only space and tab as optional whitespace; a chunk
//! size of 1–16 hex digits (httparse takes an empty one as 0), an extension without
//! control characters, CRLF after the data, and CRLF-terminated trailer lines.
#![no_main]

use berth_core::limits::Limits;
use berth_embedded::http::chunked::ChunkedDecoder;
use berth_embedded::http::head::{body_kind, parse_head, BodyKind, Parsed};
use libfuzzer_sys::fuzz_target;

const MAX_BODY: usize = 1 << 16;
const MAX_HEADERS: usize = 32;

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Refused,
    Incomplete,
    EndsAt(usize),
}

fn embedded(bytes: &[u8]) -> Verdict {
    let limits = Limits {
        max_request_line: 1 << 20,
        max_header_size: 1 << 20,
        max_headers: MAX_HEADERS,
        ..Limits::default()
    };
    let (head, len) = match parse_head(bytes, bytes.len() + 1, &limits) {
        Parsed::Incomplete => return Verdict::Incomplete,
        Parsed::Reject(_) => return Verdict::Refused,
        Parsed::Complete(head, len) => (head, len),
    };
    match body_kind(&head, MAX_BODY) {
        Err(_) => Verdict::Refused,
        Ok(BodyKind::Empty) => Verdict::EndsAt(len),
        Ok(BodyKind::Length(n)) if bytes.len() - len >= n => Verdict::EndsAt(len + n),
        Ok(BodyKind::Length(_)) => Verdict::Incomplete,
        Ok(BodyKind::Chunked) => {
            let mut decoder = ChunkedDecoder::new(MAX_BODY);
            let mut body = Vec::new();
            match decoder.feed(&bytes[len..], &mut body) {
                Err(_) => Verdict::Refused,
                Ok(used) if decoder.is_done() => Verdict::EndsAt(len + used),
                Ok(_) => Verdict::Incomplete,
            }
        }
    }
}

fn ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

fn reference(bytes: &[u8]) -> Verdict {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(bytes) {
        Err(_) => return Verdict::Refused,
        Ok(httparse::Status::Partial) => return Verdict::Incomplete,
        Ok(httparse::Status::Complete(len)) => len,
    };
    let named = |name: &str| {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
            .collect::<Vec<_>>()
    };
    let lengths = named("content-length");
    let codings = named("transfer-encoding");
    if !codings.is_empty() {
        let list: Vec<&[u8]> = codings
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(ows)
            .collect();
        if !lengths.is_empty() || list.len() != 1 || !list[0].eq_ignore_ascii_case(b"chunked") {
            return Verdict::Refused;
        }
        return match chunked(&bytes[len..]) {
            Verdict::EndsAt(n) => Verdict::EndsAt(len + n),
            other => other,
        };
    }
    match lengths.as_slice() {
        [] => Verdict::EndsAt(len),
        [one] => {
            let digits = ows(one);
            if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
                return Verdict::Refused;
            }
            let n: u64 = std::str::from_utf8(digits).unwrap().parse().unwrap();
            if n > MAX_BODY as u64 {
                Verdict::Refused
            } else if (bytes.len() - len) as u64 >= n {
                Verdict::EndsAt(len + n as usize)
            } else {
                Verdict::Incomplete
            }
        }
        _ => Verdict::Refused,
    }
}

/// A chunked body by httparse's `parse_chunk_size` plus the stricter rules above.
fn chunked(body: &[u8]) -> Verdict {
    let mut at = 0usize;
    let mut total = 0u64;
    loop {
        let rest = &body[at..];
        // The size line as a line first: the stricter rules look at all of it.
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return Verdict::Incomplete;
        };
        let line = &rest[..lf];
        if lf > 1024 || !line.ends_with(b"\r") || line[..lf - 1].contains(&b'\r') {
            return Verdict::Refused;
        }
        let line = &line[..lf - 1];
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let after = ows(&line[digits..]);
        let after_ok = after.is_empty()
            || (after[0] == b';'
                && after[1..]
                    .iter()
                    .all(|&b| b == b'\t' || !b.is_ascii_control()));
        if digits == 0 || digits > 16 || !after_ok {
            return Verdict::Refused;
        }
        let (used, size) = match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete(r)) => r,
            Ok(httparse::Status::Partial) => return Verdict::Incomplete,
            Err(_) => return Verdict::Refused,
        };
        assert_eq!(
            used,
            lf + 1,
            "httparse and the line disagree on the size line"
        );
        total = total.saturating_add(size);
        if total > MAX_BODY as u64 {
            return Verdict::Refused;
        }
        at += used;
        if size == 0 {
            return trailers(body, at);
        }
        let size = size as usize;
        if body.len() - at < size {
            return Verdict::Incomplete;
        }
        at += size;
        match &body[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [] | [b'\r'] => return Verdict::Incomplete,
            _ => return Verdict::Refused,
        }
    }
}

fn trailers(body: &[u8], mut at: usize) -> Verdict {
    let mut total = 0usize;
    loop {
        let rest = &body[at..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return Verdict::Incomplete;
        };
        let line = &rest[..lf];
        if lf > 1024 || !line.ends_with(b"\r") || line[..lf - 1].contains(&b'\r') {
            return Verdict::Refused;
        }
        total += lf + 1;
        if total > 16 << 10 {
            return Verdict::Refused;
        }
        at += lf + 1;
        if lf == 1 {
            return Verdict::EndsAt(at);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let ours = embedded(data);
    let theirs = reference(data);
    match (&ours, &theirs) {
        // Refusing as soon as a byte is wrong, or once its line is whole, is a matter of
        // timing: both refuse that request. Where a request *ends* must agree exactly.
        (Verdict::Incomplete, Verdict::Refused) | (Verdict::Refused, Verdict::Incomplete) => {}
        _ => assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(data)),
    }
});
