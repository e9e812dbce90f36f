//! # berth-sdk — write Berth plugins in Rust
//!
//! A Berth plugin is a WebAssembly component that the Berth host loads at start-up. The
//! plugin declares, from [`Plugin::setup`], the routes, middleware, hooks, WebSocket
//! endpoints and timers it serves; the host calls the matching closure for every request
//! or event. All state lives in the host ([`state`], [`ws`]), never in plugin globals:
//! the host pools instances and may replace one at any time.
//!
//! ```no_run
//! use berth_sdk::prelude::*;
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
//!         app.get("/hello", |_req| json!({"message": "Hello, World!"}));
//!         Ok(())
//!     }
//! }
//!
//! berth_sdk::export_plugin!(Hello);
//! ```
//!
//! Build it with `berth build path/to/crate` (or `cargo build --release --target
//! wasm32-unknown-unknown` followed by componentization); the crate must be a `cdylib`.
//!
//! Handlers return anything [`IntoResponse`] — a [`Response`], a JSON value, text,
//! `(status, body)`, or a `Result` whose error is an [`Error`], so `?` works on JSON,
//! state and device errors. WebSocket handlers get the connection as a [`ws::Conn`].
//! [`testing`] runs a plugin against an in-memory host, so `cargo test` checks it
//! without a server.
//!
//! The SDK installs the plugin's global allocator (feature `allocator`, on by default):
//! std's dlmalloc, handed the free tail of the initial memory page first, so a small
//! plugin lives in one 64 KiB page instead of two. Turn the feature off to bring your own
//! `#[global_allocator]`.
#![deny(missing_docs)]

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_berth_guest",
        default_bindings_module: "berth_sdk::bindings",
        runtime_path: "berth_sdk::__wit_bindgen::rt",
        // So tests can compare what a plugin returned (`assert_eq!(ws.recv(), …)`).
        additional_derives: [PartialEq, Eq],
    });
}

extern crate self as berth_sdk;
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

mod app;
mod config;
mod config_de;
pub mod device;
mod errors;
mod event;
mod flow;
mod handler;
#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
mod heap;
mod host;
pub mod json;
pub mod log;
mod request;
mod response;
#[doc(hidden)]
pub mod rt;
#[cfg(all(feature = "allocator", any(target_arch = "wasm32", test)))]
mod small_blocks;
pub mod state;
mod streams;
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod websocket;
pub mod ws;

pub use app::{App, Plugin};
pub use config::Config;
pub use errors::{Error, Result};
pub use event::Payload;
pub use flow::{Flow, IntoResponse, Json, Next, Outcome};
pub use state::StateError;
pub use sys::{now_ms, publish, random_u64};
pub use websocket::WebSocket;
pub use ws::Conn;

pub use bindings::berth::plugin::host::{Level, WsError};
pub use bindings::berth::plugin::types::{
    Body, Event, EventKind, Method, Request, Response, ServerInfo, WsConnect, WsDisconnect,
    WsMessage,
};

pub use serde;
pub use serde_json;
/// Builds a [`serde_json::Value`] from JSON-like syntax (re-exported from `serde_json`).
pub use serde_json::json;

/// Everything a plugin usually needs: `use berth_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        debug, device, error, info, json, state, trace, warn, ws, App, Body, Config, Conn, Error,
        Event, EventKind, Flow, IntoResponse, Json, Method, Next, Outcome, Payload, Plugin,
        Request, Response, ServerInfo, StateError, WsConnect, WsDisconnect, WsError, WsMessage,
    };
    pub use core::time::Duration;
    pub use serde_json::Value;
}

/// Exports a type implementing [`Plugin`] as this crate's plugin component.
///
/// The plugin's name (used by the host for logs and its state namespace) is
/// [`Plugin::NAME`] when set, otherwise the crate's package name.
///
/// ```ignore
/// struct Hello;
/// impl berth_sdk::Plugin for Hello { /* ... */ }
/// berth_sdk::export_plugin!(Hello);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            struct __BerthGuest;
            impl $crate::rt::GuestTrait for __BerthGuest {
                fn setup(
                    config: $crate::rt::Pairs,
                ) -> ::core::result::Result<$crate::rt::Registration, ::std::string::String>
                {
                    $crate::rt::setup::<$plugin>(config, ::core::env!("CARGO_PKG_NAME"))
                }
                fn handle(handler: u32, req: $crate::Request) -> $crate::Response {
                    $crate::rt::handle(handler, req)
                }
                fn before(handler: u32, req: $crate::Request) -> $crate::rt::BeforeOutcome {
                    $crate::rt::before(handler, req)
                }
                fn after(
                    handler: u32,
                    req: $crate::Request,
                    resp: $crate::Response,
                ) -> $crate::Response {
                    $crate::rt::after(handler, req, resp)
                }
                fn on_event(handler: u32, ev: $crate::Event) -> $crate::rt::EventOutcome {
                    $crate::rt::on_event(handler, ev)
                }
                fn next_chunk(stream: u32) -> ::core::option::Option<::std::vec::Vec<u8>> {
                    $crate::rt::next_chunk(stream)
                }
            }
    $crate::bindings::__export_berth_guest!(__BerthGuest with_types_in $crate::bindings);
        };
    };
}
