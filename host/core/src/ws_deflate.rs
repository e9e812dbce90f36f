//! permessage-deflate negotiation (RFC 7692 §5 and §7.1): which of a client's offers in
//! `Sec-WebSocket-Extensions` the server accepts, with which parameters, and the
//! response header that says so.
//!
//! Only the negotiation is here (a pure function of the request's headers and the
//! server's [`DeflatePolicy`]); compressing and inflating are the server runtime's WebSocket
//! crate's, which is handed [`Agreed::settings`]. The embedded runtime never calls this:
//! it has no deflate, so it declines by leaving the extension out of its `101`.
//!
//! The rules, in the RFC's order:
//! - offers are tried in the client's order; the first acceptable one wins, the others
//!   are declined (§5.1);
//! - an offer with an unknown parameter, a repeated one, a value where none belongs, or
//!   a window size outside 8–15 is invalid and declined (§7.1);
//! - `server_max_window_bits=8` is valid but declined: zlib-based deflate cannot
//!   compress with a 256-byte window (it uses 9), so honouring it is impossible;
//! - `server_no_context_takeover` / `client_no_context_takeover` are accepted when
//!   offered, and the server may also impose them (§7.1.1.1, §7.1.1.2);
//! - `server_max_window_bits=N` is answered with `min(N, policy)` (§7.1.2.1); the server
//!   may compress with a smaller window than 15 without saying so, which is what it
//!   does when the client did not ask;
//! - `client_max_window_bits` (with or without a value) lets the server bound the
//!   client's window: it answers `min(N or 15, policy)`; without it the client may use
//!   15 bits and the server inflates with 15 (§7.1.2.2).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::upgrade::HeaderLookup;

/// The extension's registered name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The smallest LZ77 window (in bits) the server compresses or inflates with: zlib's
/// raw deflate refuses 8.
pub const MIN_WINDOW_BITS: u8 = 9;
/// The largest LZ77 window: 32 KiB.
pub const MAX_WINDOW_BITS: u8 = 15;

/// What the server is willing to do (`[server.websocket]` in berth.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflatePolicy {
    /// The largest window the server compresses with, and asks clients that let it to
    /// compress with: the memory a compressing connection holds grows with it
    /// (2^bits bytes of window each way, plus the compressor's tables).
    pub window_bits: u8,
    /// Whether messages may refer to earlier ones (better ratio, state kept between
    /// messages). `false` imposes no context takeover in both directions.
    pub context_takeover: bool,
}

impl Default for DeflatePolicy {
    fn default() -> Self {
        DeflatePolicy {
            window_bits: MAX_WINDOW_BITS,
            context_takeover: true,
        }
    }
}

/// An accepted offer: what goes in the `101` and what each side compresses with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message (so the server's inflater
    /// may too).
    pub client_no_context_takeover: bool,
    /// The window the server compresses with.
    pub server_window_bits: u8,
    /// Whether `server_max_window_bits` is in the response (only when the client asked).
    server_window_said: bool,
    /// The window the client compresses with, which the server inflates with.
    pub client_window_bits: u8,
    /// Whether `client_max_window_bits` is in the response (only when the client allowed).
    client_window_said: bool,
}

impl Agreed {
    /// The `Sec-WebSocket-Extensions` value of the `101`.
    pub fn header(&self) -> String {
        let mut out = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_window_said {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_window_bits
            ));
        }
        if self.client_window_said {
            out.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_window_bits
            ));
        }
        out
    }

    /// Every parameter spelled out, windows included, for the WebSocket layer that
    /// compresses and inflates (it reads what it uses from this, not from the shorter
    /// [`header`](Agreed::header), which leaves out what the client did not ask about).
    pub fn settings(&self) -> String {
        let mut out = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        out.push_str(&format!(
            "; server_max_window_bits={}; client_max_window_bits={}",
            self.server_window_bits, self.client_window_bits
        ));
        out
    }
}

/// The offer to accept among the request's `Sec-WebSocket-Extensions` values, or
/// `None` (no offer, or none acceptable: the connection goes on uncompressed).
pub fn negotiate(headers: &(impl HeaderLookup + ?Sized), policy: DeflatePolicy) -> Option<Agreed> {
    let window = policy.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
    let mut agreed = None;
    headers.each_value("sec-websocket-extensions", &mut |value| {
        if agreed.is_some() {
            return;
        }
        let Ok(value) = core::str::from_utf8(value) else {
            return;
        };
        agreed = split_outside_quotes(value, b',')
            .into_iter()
            .filter_map(parse_offer)
            .find_map(|offer| accept(&offer, window, policy.context_takeover));
    });
    agreed
}

/// One permessage-deflate offer's parameters, already checked for form.
#[derive(Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (`Some(None)`: without a value).
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses one element of the extension list; `None` when it is another extension or
/// an invalid permessage-deflate offer.
fn parse_offer(element: &str) -> Option<Offer> {
    let mut parts = split_outside_quotes(element, b';').into_iter();
    let name = parts.next()?.trim();
    if !name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        return None;
    }
    let mut offer = Offer::default();
    for param in parts {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k.trim(), Some(unquote(v.trim())?)),
            None => (param.trim(), None),
        };
        let flag = |seen: &mut bool| (!*seen && value.is_none()).then(|| *seen = true);
        match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => flag(&mut offer.server_no_context_takeover)?,
            "client_no_context_takeover" => flag(&mut offer.client_no_context_takeover)?,
            "server_max_window_bits" if offer.server_max_window_bits.is_none() => {
                offer.server_max_window_bits = Some(window_bits(value?)?);
            }
            "client_max_window_bits" if offer.client_max_window_bits.is_none() => {
                offer.client_max_window_bits = Some(match value {
                    Some(v) => Some(window_bits(v)?),
                    None => None,
                });
            }
            // Unknown, or repeated: the offer is invalid (§7.1).
            _ => return None,
        }
    }
    Some(offer)
}

/// The response to a well-formed offer, or `None` when the server cannot honour it.
fn accept(offer: &Offer, window: u8, context_takeover: bool) -> Option<Agreed> {
    let (server_window_bits, server_window_said) = match offer.server_max_window_bits {
        // A window the server cannot compress with: decline this offer.
        Some(bits) if bits < MIN_WINDOW_BITS => return None,
        Some(bits) => (bits.min(window), true),
        None => (window, false),
    };
    let (client_window_bits, client_window_said) = match offer.client_max_window_bits {
        Some(bits) => (bits.unwrap_or(MAX_WINDOW_BITS).min(window), true),
        None => (MAX_WINDOW_BITS, false),
    };
    Some(Agreed {
        server_no_context_takeover: offer.server_no_context_takeover || !context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover || !context_takeover,
        server_window_bits,
        server_window_said,
        client_window_bits,
        client_window_said,
    })
}

/// A window size as RFC 7692 writes it: a decimal 8–15 without leading zeros.
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// A parameter value without its quotes (§7.1: a quoted-string's content must be a
/// token, so there is nothing to unescape); `None` when it is malformed.
fn unquote(value: &str) -> Option<&str> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    (!inner.is_empty() && !inner.contains(['"', '\\', ' ', '\t'])).then_some(inner)
}

/// Splits `s` at `sep` outside double quotes.
fn split_outside_quotes(s: &str, sep: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, b) in s.bytes().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn offer(values: &[&str], policy: DeflatePolicy) -> Option<String> {
        let headers: Vec<(String, String)> = values
            .iter()
            .map(|v| ("Sec-WebSocket-Extensions".to_string(), v.to_string()))
            .collect();
        negotiate(headers.as_slice(), policy).map(|a| a.header())
    }

    fn default(values: &[&str]) -> Option<String> {
        offer(values, DeflatePolicy::default())
    }

    #[test]
    fn browsers_offer_is_accepted_and_the_client_window_bounded_by_policy() {
        let chrome = "permessage-deflate; client_max_window_bits";
        assert_eq!(
            default(&[chrome]).as_deref(),
            Some("permessage-deflate; client_max_window_bits=15")
        );
        let small = DeflatePolicy {
            window_bits: 10,
            context_takeover: true,
        };
        assert_eq!(
            offer(&[chrome], small).as_deref(),
            Some("permessage-deflate; client_max_window_bits=10")
        );
        // Firefox-style plain offer: nothing to say about windows.
        assert_eq!(
            default(&["permessage-deflate"]).as_deref(),
            Some("permessage-deflate")
        );
    }

    #[test]
    fn parameters_are_accepted_per_rfc_7692() {
        assert_eq!(
            default(&[
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
            ])
            .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        assert_eq!(
            default(&["permessage-deflate; server_max_window_bits=9"]).as_deref(),
            Some("permessage-deflate; server_max_window_bits=9")
        );
        assert_eq!(
            default(&[
                "permessage-deflate; server_max_window_bits=\"12\"; client_max_window_bits=8"
            ])
            .as_deref(),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=8")
        );
        let agreed = negotiate(
            [(
                "sec-websocket-extensions".to_string(),
                "permessage-deflate".to_string(),
            )]
            .as_slice(),
            DeflatePolicy {
                window_bits: 11,
                context_takeover: true,
            },
        )
        .unwrap();
        // Unasked, the server still compresses with its own smaller window, and inflates
        // with the 15 bits the client may use.
        assert_eq!(
            agreed.settings(),
            "permessage-deflate; server_max_window_bits=11; client_max_window_bits=15"
        );
    }

    #[test]
    fn no_context_takeover_can_be_imposed() {
        let policy = DeflatePolicy {
            window_bits: 15,
            context_takeover: false,
        };
        assert_eq!(
            offer(&["permessage-deflate"], policy).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
    }

    #[test]
    fn invalid_offers_are_declined_and_the_next_one_tried() {
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
            "permessage-deflate; client_max_window_bits=\"1 0\"",
            // Valid, but a 256-byte window cannot be compressed with.
            "permessage-deflate; server_max_window_bits=8",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(default(&[bad]), None, "{bad}");
            assert_eq!(
                default(&[&format!(
                    "{bad}, permessage-deflate; client_no_context_takeover"
                )])
                .as_deref(),
                Some("permessage-deflate; client_no_context_takeover"),
                "{bad}"
            );
        }
        assert_eq!(default(&[]), None);
    }

    #[test]
    fn offers_spread_over_headers_are_tried_in_order() {
        assert_eq!(
            default(&[
                "foo, permessage-deflate; server_max_window_bits=8",
                "permessage-deflate; server_max_window_bits=10",
            ])
            .as_deref(),
            Some("permessage-deflate; server_max_window_bits=10")
        );
    }
}
