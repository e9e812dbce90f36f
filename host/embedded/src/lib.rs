//! # berth-embedded
//!
//! Berth's `no_std` host: one single-threaded async loop that serves HTTP/1.1,
//! WebSocket and Server-Sent Events from the same plugin components as the desktop
//! server, on the wasmi interpreter, over a small socket trait ([`net`]).
//!
//! - **Semantics are berth-core's.** Requests go through [`App::handle`], WebSocket
//!   events through [`App::ws_connect`]/[`ws_message`]/[`ws_disconnect`]; this crate
//!   only parses, frames, buffers, times out and writes.
//! - **Fixed buffers, same limits.** Each connection has one read buffer
//!   ([`Options::head_buffer`]); every `[limits]` key of the desktop server applies
//!   with the same status codes (413/414/431/408/501/503, WebSocket 1009/1008/1011).
//! - **One loop.** [`Server::run`] is a single future polling a fixed number of
//!   connection slots and the plugins' timers: embassy's executor on a microcontroller,
//!   a poll loop on bare metal (QEMU), async-io's `block_on` on a desktop
//!   ([`desktop`], feature `std`). Boards on embassy-net share one socket adapter
//!   (`embassy_tcp`, feature `embassy-net`).
//! - **Plugins and files from flash.** [`store`] reads (and, with `alloc`, writes) the
//!   partition image that `berth device pack` builds; [`files`] serves its folders with
//!   the desktop server's static-file rules.
//!
//! ```text
//! Server::new(engine, platform, options, &sources)   compile → instantiate → setup → App
//! server.run(&listener, "10.0.2.15:80", shutdown)    accept → head → body → pipeline → write
//! ```
//!
//! [`App::handle`]: berth_core::pipeline::App::handle
//! [`App::ws_connect`]: berth_core::pipeline::App::ws_connect
//! [`ws_message`]: berth_core::pipeline::App::ws_message
//! [`ws_disconnect`]: berth_core::pipeline::App::ws_disconnect

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod admin;
pub mod block;
mod conn;
#[cfg(feature = "std")]
pub mod desktop;
#[cfg(feature = "embassy-net")]
pub mod embassy_tcp;
mod event_loop;
pub mod files;
pub mod host;
pub mod http;
mod io;
pub mod net;
pub mod plugins;
mod server;
mod session;
pub mod slots;
pub mod store;
pub mod store_edit;
pub mod store_index;
pub mod ws;

pub use admin::Admin;
pub use berth_core::device::{DeviceError, GpioGrant};
pub use files::{StaticConfig, StaticError, StaticFile, StaticFolder};
pub use host::EmbeddedHost;
pub use net::{Connection, Listener, NetError, Platform};
pub use plugins::{LoadFailure, OnFailure, PluginReader, PluginSource, ReadPlugin};
pub use server::{Options, Server};
pub use store_index::{IndexedPlugin, StoreIndex};
