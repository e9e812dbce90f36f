//! Dynamically typed values of [`super::Type`]s.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// A value of some [`super::Type`].
///
/// Variant-like types share one representation, [`Value::Variant`]: `option` is case 0
/// (`none`) or 1 (`some`), `result` is 0 (`ok`) or 1 (`err`), an `enum` case carries no
/// payload. Records and tuples are both [`Value::Record`] (fields in order), and
/// `list<u8>` is [`Value::Bytes`] rather than a list of `U8`s.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Value {
    Bool(bool),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    S8(i8),
    S16(i16),
    S32(i32),
    S64(i64),
    String(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Record(Vec<Value>),
    Variant(u32, Option<Box<Value>>),
}

impl Value {
    /// A variant case with a payload.
    pub fn case(case: u32, payload: Value) -> Value {
        Value::Variant(case, Some(Box::new(payload)))
    }

    /// A variant case without payload (also an enum value).
    pub fn unit(case: u32) -> Value {
        Value::Variant(case, None)
    }

    /// `option::none` / `option::some(v)`.
    pub fn option(v: Option<Value>) -> Value {
        match v {
            None => Value::unit(0),
            Some(v) => Value::case(1, v),
        }
    }
}

/// A core Wasm value in a flattened argument or result list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Flat {
    I32(i32),
    I64(i64),
}

impl Flat {
    /// The low 32 bits (the Canonical ABI wraps an `i64` slot read as `i32`).
    pub fn as_i32(self) -> i32 {
        match self {
            Flat::I32(v) => v,
            // Truncation is the Canonical ABI's `wrap_i64_to_i32`.
            Flat::I64(v) => v as i32,
        }
    }

    /// The value as 64 bits (an `i32` zero-extends, as the Canonical ABI joins it).
    pub fn as_i64(self) -> i64 {
        match self {
            Flat::I32(v) => i64::from(v as u32),
            Flat::I64(v) => v,
        }
    }
}
