//! Response finalisation: what a plugin's [`Response`] may put on the wire.
//!
//! Both runtimes write the plugin's status and headers, and both used to keep their own
//! copy of the checks; the copies drifted (the embedded runtime sent a plugin's `1xx` as
//! an interim response, desynchronising keep-alive, and leaked the host-only pacing
//! header). [`finalise`] is the one copy, applied to every response a plugin produced
//! before either runtime writes a byte:
//!
//! - the status must be a final one, `200..=599`: anything else (a `1xx`, which would
//!   read as an interim response, or a number HTTP has no class for) becomes a 500;
//! - framing and connection management are the host's business: the [`STRIPPED`]
//!   hop-by-hop headers and the host-only [`INTERNAL`] ones are dropped silently;
//! - a header whose name is not a token or whose value holds a control character is
//!   dropped (with a [`Note`] for the log) rather than allowed to split the response;
//! - more than `max_response_headers` headers make a 500: the `http` crate's header map
//!   panics past 32 768 entries, and a device has far less room than that.
//!
//! Whether a body follows is [`body_allowed`]; whether framing headers are written at
//! all is [`has_framing`]. The runtimes write what is left and frame it themselves.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::model::Response;

/// The response header through which a plugin paces its stream (the SDK's
/// `Response::chunk_interval`); read by [`crate::stream_pull`], never sent.
pub const CHUNK_INTERVAL_HEADER: &str = "berth-chunk-interval-ms";

/// Headers a plugin may not set because the host frames the message and manages the
/// connection (RFC 9110 §7.6.1's hop-by-hop fields, plus the framing ones). Any
/// `proxy-*` header is dropped too (see [`is_stripped`]).
pub const STRIPPED: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "te",
    "trailer",
];

/// Headers that carry a plugin's instructions to the host and never reach a client.
pub const INTERNAL: [&str; 1] = [CHUNK_INTERVAL_HEADER];

/// The statuses a plugin may answer with: final ones, of a class HTTP defines.
pub const PLUGIN_STATUSES: core::ops::RangeInclusive<u16> = 200..=599;

/// What [`finalise`] changed, for the runtime to log (as a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The plugin's status was not in [`PLUGIN_STATUSES`]; a 500 went out instead.
    InvalidStatus(u16),
    /// The plugin returned this many headers, more than the limit; a 500 went out.
    TooManyHeaders(usize),
    /// A header with this name was dropped: an invalid name or value.
    InvalidHeader(String),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::InvalidStatus(s) => write!(f, "plugin returned invalid status {s}"),
            Note::TooManyHeaders(n) => write!(f, "plugin returned {n} response headers"),
            Note::InvalidHeader(name) => write!(f, "dropping invalid response header {name:?}"),
        }
    }
}

/// Whether a header name is one the host owns (hop-by-hop, framing, `proxy-*`, or
/// internal), compared ASCII case-insensitively.
pub fn is_stripped(name: &str) -> bool {
    let lower_starts = name
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("proxy-"));
    lower_starts
        || STRIPPED
            .iter()
            .chain(INTERNAL.iter())
            .any(|s| s.eq_ignore_ascii_case(name))
}

/// A field name: a non-empty RFC 9110 token.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| TOKEN[usize::from(b)])
}

/// Which bytes an RFC 9110 token may hold: a table, since every header of every response
/// is checked (a scan of the punctuation list per byte cost more than the rest of
/// `finalise`).
const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let punctuation = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < punctuation.len() {
        table[punctuation[i] as usize] = true;
        i += 1;
    }
    table
};

/// A field value: visible ASCII, space, tab and obs-text (bytes ≥ 0x80); no other
/// control character (CR, LF and NUL would split or truncate the head).
pub fn valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
}

/// Whether a body follows the head: never for HEAD, 1xx, 204 or 304 (RFC 9110 §6.4.1).
/// A streamed or SSE body that is not sent is released at once, never pulled.
pub fn body_allowed(status: u16, is_head: bool) -> bool {
    !is_head && has_framing(status)
}

/// Whether the head carries framing (`content-length`, `transfer-encoding`): not for
/// 1xx, 204 and 304. A HEAD response does, describing the body a GET would get.
pub fn has_framing(status: u16) -> bool {
    status >= 200 && status != 204 && status != 304
}

/// Applies the rules above to a plugin's response, in place; returns what it changed.
/// The body is untouched unless the response was replaced by a 500.
pub fn finalise(response: &mut Response, max_headers: usize) -> Vec<Note> {
    let mut notes = Vec::new();
    if !PLUGIN_STATUSES.contains(&response.status) {
        notes.push(Note::InvalidStatus(response.status));
        *response = Response::error(500, "Plugin returned an invalid status");
        return notes;
    }
    if response.headers.len() > max_headers {
        notes.push(Note::TooManyHeaders(response.headers.len()));
        *response = Response::error(500, "Plugin returned too many headers");
        return notes;
    }
    response.headers.retain(|(name, value)| {
        if is_stripped(name) {
            return false;
        }
        let ok = valid_name(name) && valid_value(value);
        if !ok {
            notes.push(Note::InvalidHeader(name.clone()));
        }
        ok
    });
    notes
}

#[cfg(test)]
#[path = "respond_tests.rs"]
mod tests;
