//! The host imports as the SDK's modules call them: the generated bindings on wasm32,
//! and on any other target the in-memory host of [`testing`](crate::testing), so a
//! plugin's `cargo test` runs natively. (On a native target wit-bindgen compiles every
//! import to a stub that panics, so nothing may call the bindings there.)

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::bindings::berth::plugin::host::*;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::host::*;
