//! # berth-engine-wasmi
//!
//! Runs Berth plugin components on the [wasmi](https://docs.rs/wasmi) interpreter:
//! servers without a JIT, and microcontrollers (the crate is `no_std` + `alloc`;
//! the default `std` feature adds a wall-clock deadline).
//!
//! ```text
//! WasmiEngine::new(limits).compile(component) ─► WasmiModule ─instantiate(host)─► WasmiInstance
//! ```
//!
//! wasmi runs core modules only, so this crate does what a component runtime would:
//!
//! 1. **Load** ([`load`]): walk the component's top-level sections, take the embedded core
//!    module that exports `cabi_realloc` (the shim and fixup modules that wit-component
//!    adds for indirectly lowered imports are not needed), compile it once, and check
//!    every export and import against the contract, naming whatever is missing.
//! 2. **Call** ([`WasmiInstance`]): lower arguments through the guest's `cabi_realloc`, call the
//!    export under the fuel deadline, lift the result from its return area, then call
//!    `cabi_post_*`.
//! 3. **Imports** ([`imports`]): lift arguments, call the shared
//!    [`berth_core::host::PluginHost`], lower results (allocating in the guest from inside
//!    the host function, and writing through the guest's return pointer).
//!
//! ## Why the Canonical ABI is hand-written
//!
//! There is no maintained `no_std` Canonical-ABI crate for wasmi: `wasm_component_layer`
//! is unmaintained, needs `std`, does not work with wasmi 2.0 and measured 8× slower.
//! The contract is deliberately small (records, lists, strings, options, results, enums,
//! variants — no resources, floats, flags or async), so [`abi`] implements the
//! Canonical ABI once, generically, over a tiny type descriptor tree; [`wit`] describes
//! the contract's types with it (checked against `wit/plugin.wit` by a test), and
//! [`convert`] maps values to and from `berth_core::model`.
//!
//! ## Limits
//!
//! - Memory: wasmi `StoreLimits` with `trap_on_grow_failure`, reported as
//!   [`CallError::OutOfMemory`](berth_core::engine::CallError::OutOfMemory) — but a
//!   growth that only ran out of fuel resumes (`limits.rs`).
//! - Time: fuel. wasmi 2.0 can resume a call that ran out of fuel, so with `std` fuel is
//!   handed out in slices of a few milliseconds and the wall clock is checked between
//!   them; without `std` a call gets `timeout × fuel_per_ms` fuel in total. Either way
//!   the deadline is [`CallError::Deadline`](berth_core::engine::CallError::Deadline).
//! - Guest data is lifted defensively: bad pointers, lengths, alignment, UTF-8 and
//!   discriminants are [`CallError::Malformed`](berth_core::engine::CallError::Malformed),
//!   and no lift allocates more than the guest's memory size.
//!
//! After any error an instance is poisoned; callers drop it and make a fresh one.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod abi;
pub mod convert;
mod engine;
pub mod imports;
mod instance;
pub mod lift;
mod limits;
pub mod load;
pub mod lower;
mod runtime;
pub mod wit;

pub use engine::{WasmiEngine, WasmiModule, DEFAULT_FUEL_PER_MS};
pub use instance::WasmiInstance;
