//! A small, generic implementation of the component model's Canonical ABI.
//!
//! It covers exactly the types the Berth contract uses (no floats, chars, flags,
//! resources or async) and is written once, independently of any engine:
//!
//! - [`Type`] describes a WIT type (constants for the contract live in [`crate::wit`]);
//! - [`Value`] is a dynamically typed value of such a type;
//! - [`store`]/[`load`] write and read values in linear memory;
//! - [`lower_flat`]/[`lift_flat`] turn values into and out of core-Wasm arguments
//!   (`MAX_FLAT_PARAMS` = 16, `MAX_FLAT_RESULTS` = 1, joined variant payloads).
//!
//! Lifting is total: every pointer, length, discriminant and string the guest hands
//! over is checked, and a budget bounds how much the host allocates for one lift, so a
//! hostile guest gets [`CallError::Malformed`] — never a panic, never a 4 GB allocation.

mod flat;
mod memory;
#[cfg(test)]
pub(crate) mod test_memory;
mod types;
mod value;

pub use flat::{lift_flat, lower_flat, FlatReader};
pub(crate) use memory::{lift_string, read, read_u32, slice, store_bytes, write, write_pair};
pub use memory::{load, store, GuestMemory, LiftBudget};
pub(crate) use types::field_offsets;
pub use types::{Case, Field, FlatType, Type, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS};
pub use value::{Flat, Value};

use alloc::string::String;
use berth_core::engine::CallError;

/// Shorthand for a [`CallError::Malformed`] with a static reason.
pub(crate) fn malformed(why: &str) -> CallError {
    CallError::Malformed(String::from(why))
}

/// Rounds `offset` up to a multiple of `align` (a power of two), in 64 bits.
pub(crate) fn align_to(offset: u64, align: u32) -> u64 {
    let align = u64::from(align.max(1));
    offset.div_ceil(align) * align
}
