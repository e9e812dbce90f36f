//! permessage-deflate (RFC 7692) on the server runtime: berth-core's
//! [`negotiate`](berth_core::ws_deflate::negotiate) decides what the `101` says, and
//! yawc compresses and inflates with the agreed parameters.
//!
//! Why yawc: tungstenite (which did the framing before) has no permessage-deflate and
//! refuses every frame with RSV1 set, so it cannot be taught the extension from outside.
//! yawc is a maintained RFC 6455 implementation with RFC 7692 that wraps an
//! already-upgraded stream, inflates incrementally against an exclusive output bound
//! (so `ws_max_message` stops a zip bomb before its inflated size is allocated), honours
//! negotiated window sizes with its `zlib` feature (the pure-Rust zlib-rs backend), and
//! pools deflate state for directions without context takeover. Its own negotiation is
//! not used: it ignores unknown parameters and only reads the first offer, which RFC
//! 7692 §7 does not allow, so berth-core negotiates and hands yawc the full result.
//!
//! Memory per connection (resident memory measured over 300 connections after one
//! compressed message each way; yawc builds each side lazily): about 335 KiB on top of
//! an uncompressed connection's 14 KiB at 15 bits, 210 KiB at 9, bounded in total by
//! `ws_max_connections`. Without context takeover (`deflate_context_takeover = false`)
//! the deflate state is borrowed from the shared pool for one message and given back,
//! so a connection holds none of it between messages (measured: 14.5 KiB).

use berth_core::limits::Limits;
use berth_core::upgrade::HeaderLookup;
use berth_core::ws_deflate::{self, Agreed, DeflatePolicy};
use yawc::{CompressionLevel, DeflatePool, Options};

/// Idle deflate states kept for reuse, per window size and direction: about one per
/// message compressed at the same moment (the worker threads), not per connection.
const POOL_CAPACITY: usize = 16;

/// `[server.websocket]`'s deflate policy and the state it shares between connections.
pub struct Deflate {
    /// `None`: permessage-deflate is off and never in a `101`.
    policy: Option<DeflatePolicy>,
    /// Deflate state lent per message to directions without context takeover.
    pool: DeflatePool,
}

impl Deflate {
    /// The server's deflate, `None` for off.
    pub fn new(policy: Option<DeflatePolicy>) -> Deflate {
        Deflate {
            policy,
            pool: DeflatePool::new(POOL_CAPACITY),
        }
    }

    /// The offer accepted from the request's headers, if compression is on and one is
    /// acceptable.
    pub fn negotiate(&self, headers: &(impl HeaderLookup + ?Sized)) -> Option<Agreed> {
        ws_deflate::negotiate(headers, self.policy?)
    }

    /// yawc's options for one connection: the limits, and compression when `agreed`.
    ///
    /// yawc's bounds are exclusive, hence the `+ 1`s. A single frame's payload (wire and
    /// inflated) is bounded by the smaller of `ws_max_frame` and `ws_max_message`, since a
    /// frame larger than a message may be is a message too big either way; a fragmented
    /// message's inflated total by `ws_max_message`.
    pub fn options(&self, limits: &Limits, agreed: Option<&Agreed>) -> Options {
        let frame = limits.ws_max_frame.min(limits.ws_max_message);
        let options = Options::default()
            .with_max_payload_read(frame.saturating_add(1))
            .with_max_read_buffer(limits.ws_max_message.saturating_add(1))
            .with_utf8()
            // Small read chunks keep idle connections cheap; frames still grow as needed.
            .with_read_buffer_capacity(4 << 10)
            .with_write_buffer_capacity(4 << 10);
        let Some(agreed) = agreed else {
            return options.without_compression();
        };
        // Every message is compressed, short ones too: RFC 7692 allows sending some
        // uncompressed, but clients handle that unevenly (the Autobahn runner here
        // mis-delivers such a text message), and a short message costs little.
        let options = options.with_compression_level(CompressionLevel::fast());
        if agreed.server_no_context_takeover || agreed.client_no_context_takeover {
            options.with_deflate_pool(self.pool.clone())
        } else {
            options
        }
    }
}
