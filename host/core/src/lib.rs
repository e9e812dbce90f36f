//! # berth-core
//!
//! The pure heart of Berth, shared by the desktop server and the embedded host:
//!
//! - [`model`]: requests, responses, registrations and events — a mirror of the WIT;
//! - [`router`]: the trie router with `<param>` segments, 404 and 405;
//! - [`pipeline`]: middleware before/after, hooks and `stop`, as the seeds define them;
//! - [`engine`]: the traits a Wasm engine implements (wasmtime and wasmi do);
//! - [`host`]: the host API that plugins import, implemented once for both engines;
//! - [`device`]: GPIO grants, a simulated pin bank and memory figures for `gpio-*`/`memory*`;
//! - [`ws`]: who hears a WebSocket event and what is sent back (reply, stop, echo);
//! - [`ws_registry`]: open WebSocket connections, rooms, data and bounded send queues;
//! - [`ws_deflate`]: permessage-deflate negotiation (RFC 7692), for the server runtime;
//! - [`sse`]: the SSE wire format, topic table, replay ring and heartbeat;
//! - [`state`]: the bounded TTL key-value store behind `state-*`;
//! - [`timers`]: which timers run, and when each is due;
//! - [`respond`], [`stream_pull`], [`upgrade`], [`head_rules`]: the wire rules both runtimes
//!   apply — response finalisation, stream pacing and budget, the WebSocket handshake and
//!   426/refusals, and the `Host` rule;
//! - [`files`]: what a static path may name, and validators and ranges for a file;
//! - [`compression`]: `Accept-Encoding` negotiation and which responses are compressed;
//! - [`limits`], [`uri`], [`json`]: limits, request-target parsing, error bodies;
//! - [`access`]: the access line and the escaping that keeps every log line one line;
//! - [`allow`]: the `[server]` Host and WebSocket Origin allow-lists.
//!
//! No I/O and no async live here, and with `default-features = false` it is `no_std` +
//! `alloc`, so it runs on a microcontroller.
//!
//! Wiring it up, in a server:
//! 1. `engine.compile(bytes)` each plugin file, `instantiate` it with a [`host::PluginHost`]
//!    and call `setup` to get its [`model::Registration`];
//! 2. assemble the registrations, in plugin order, with [`pipeline::App::new`];
//! 3. for each request, build a [`model::Request`] (see [`uri::parse_target`]) and call
//!    [`pipeline::App::handle`] with an [`pipeline::Invoker`] over your instance pools.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod access;
pub mod allow;
pub mod compression;
pub mod device;
pub mod engine;
pub mod files;
pub mod head_rules;
pub mod host;
pub mod json;
pub mod limits;
pub mod model;
pub mod pipeline;
pub mod request_id;
pub mod respond;
pub mod router;
pub mod sse;
pub mod state;
pub mod stream_pull;
pub mod timers;
pub mod upgrade;
pub mod uri;
pub mod ws;
pub mod ws_deflate;
pub mod ws_registry;

/// The unit tests' executor: their scripted invokers complete at once, so polling with
/// a no-op waker until `Ready` is all it takes (no runtime dependency for a `no_std` crate).
#[cfg(test)]
mod test_exec {
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }
}
