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
//! - [`state`]: the key-value store behind `state-*`;
//! - [`respond`], [`stream_pull`], [`upgrade`], [`head_rules`]: the wire rules both runtimes
//!   apply — response finalisation, stream pacing and budget, the WebSocket handshake and
//!   426/refusals, and the `Host` rule;
//! - [`limits`], [`uri`], [`json`]: limits, request-target parsing, error bodies.
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

pub mod device;
pub mod engine;
pub mod head_rules;
pub mod host;
pub mod json;
pub mod limits;
pub mod model;
pub mod pipeline;
pub mod respond;
pub mod router;
pub mod state;
pub mod stream_pull;
pub mod upgrade;
pub mod uri;
pub mod ws;
