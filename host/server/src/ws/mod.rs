//! WebSockets: the host owns the handshake and the framing; plugins see whole messages
//! and events.
//!
//! - [`upgrade`]: the opening handshake on top of hyper's upgrade, with `ws-connect`
//!   deciding before the `101` goes out;
//! - [`session`]: one connection's reader, writer, keepalive and close handshake;
//! - [`socket`]: yawc's connection as the session drives it (read errors kept, one
//!   close frame, with the session's code);
//! - [`deflate`]: permessage-deflate (RFC 7692): the policy, and yawc's options per
//!   connection;
//! - [`hub`]: every open connection with its rooms, data and bounded send queue — what
//!   the `ws-*` host imports act on.
//!
//! Which plugin handlers hear an event, and what is sent back, is decided in
//! [`berth_core::ws`], shared with the embedded host.

pub mod deflate;
pub mod hub;
mod session;
mod socket;
pub mod upgrade;

pub use hub::Hub;
pub use upgrade::{accept, check};
