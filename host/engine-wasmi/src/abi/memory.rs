//! Storing values into and loading them out of linear memory.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use berth_core::engine::CallError;

use super::types::field_offsets;
use super::{malformed, Type, Value};

/// Linear memory of a guest, plus its allocator (`cabi_realloc`).
pub trait GuestMemory {
    /// Allocates `size` bytes aligned to `align` in the guest (`cabi_realloc(0, 0, align, size)`)
    /// and returns the guest address. Implementations check that the block lies in memory.
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32, CallError>;
    /// The whole of the guest's linear memory, as it is now (an allocation may grow it).
    fn bytes_mut(&mut self) -> &mut [u8];
}

/// Bounds how many bytes one lift may make the host allocate.
///
/// What is charged is what the host allocates, not what the guest's bytes measure: each
/// string and byte list its length, and every [`Value`] slot the host builds (a list's
/// elements, a record's fields, a variant's boxed payload) `size_of::<Value>()` — a
/// list of empty strings costs the guest 8 bytes an element but the host four times
/// that. Aliasing is charged too: a guest that points many list elements at the same
/// string pays for every copy. A lift over the budget is [`CallError::Malformed`]
/// instead of a huge host allocation.
#[derive(Debug, Clone, Copy)]
pub struct LiftBudget(u64);

/// What one [`Value`] slot costs the host.
pub(crate) const VALUE_SLOT: u64 = core::mem::size_of::<Value>() as u64;

/// The smallest budget: a plugin in one 64 KiB page may still return a value whose host
/// form is a few times its guest form.
const MIN_BUDGET: u64 = 1 << 20;

impl LiftBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> LiftBudget {
        LiftBudget(bytes)
    }

    /// A budget as large as `memory` (at least 1 MiB), the usual choice: whatever a
    /// guest does, one lift makes the host allocate no more than the guest holds.
    pub fn for_memory(memory: &[u8]) -> LiftBudget {
        LiftBudget((memory.len() as u64).max(MIN_BUDGET))
    }

    pub(crate) fn charge(&mut self, bytes: u64) -> Result<(), CallError> {
        self.0 = self.0.checked_sub(bytes).ok_or_else(|| {
            malformed("guest value too large for the host to lift (larger than its memory)")
        })?;
        Ok(())
    }

    /// What is left of the budget (the lifting tests compare two paths' charges).
    #[cfg(test)]
    pub(crate) fn left(&self) -> u64 {
        self.0
    }

    /// Charges `n` [`Value`] slots.
    pub(crate) fn slots(&mut self, n: u64) -> Result<(), CallError> {
        self.charge(n.saturating_mul(VALUE_SLOT))
    }
}

/// The mismatch between a host value and its type: a bug in the host, not the guest.
fn mismatch() -> CallError {
    CallError::Malformed(String::from("host value does not match its WIT type"))
}

/// Writes `bytes` at `addr`, checking bounds.
pub(crate) fn write(mem: &mut dyn GuestMemory, addr: u32, bytes: &[u8]) -> Result<(), CallError> {
    let m = mem.bytes_mut();
    let start = addr as usize;
    let end = start
        .checked_add(bytes.len())
        .ok_or_else(|| malformed("address overflow"))?;
    m.get_mut(start..end)
        .ok_or_else(|| malformed("store outside guest memory"))?
        .copy_from_slice(bytes);
    Ok(())
}

/// Copies a string or byte list into a fresh guest allocation; returns (ptr, len).
pub(crate) fn store_bytes(
    mem: &mut dyn GuestMemory,
    bytes: &[u8],
    align: u32,
) -> Result<(u32, u32), CallError> {
    let len = u32::try_from(bytes.len()).map_err(|_| malformed("host list too long"))?;
    if len == 0 {
        // Never dereferenced; a properly aligned dangling pointer, as Rust guests use.
        return Ok((align, 0));
    }
    let ptr = mem.alloc(align, len)?;
    write(mem, ptr, bytes)?;
    Ok((ptr, len))
}

/// Lowers a list into a fresh guest allocation; returns (ptr, len).
pub(crate) fn store_list(
    mem: &mut dyn GuestMemory,
    elem: &Type,
    value: &Value,
) -> Result<(u32, u32), CallError> {
    match value {
        Value::Bytes(bytes) if matches!(elem, Type::U8) => store_bytes(mem, bytes, 1),
        Value::List(items) => {
            let len = u32::try_from(items.len()).map_err(|_| malformed("host list too long"))?;
            let (size, align) = elem.layout();
            if len == 0 {
                return Ok((align, 0));
            }
            let total = size
                .checked_mul(len)
                .ok_or_else(|| malformed("host list too long"))?;
            let ptr = mem.alloc(align, total)?;
            for (i, item) in (0u32..).zip(items) {
                store_at(mem, elem, item, ptr + i * size)?;
            }
            Ok((ptr, len))
        }
        _ => Err(mismatch()),
    }
}

/// Stores `value` of type `ty` at guest address `addr`, allocating strings and lists
/// through the guest's allocator. `addr` may come from the guest (a return pointer):
/// it is checked for alignment and bounds first.
pub fn store(
    mem: &mut dyn GuestMemory,
    ty: &Type,
    value: &Value,
    addr: u32,
) -> Result<(), CallError> {
    let (size, align) = ty.layout();
    if !addr.is_multiple_of(align) {
        return Err(malformed("misaligned pointer"));
    }
    if u64::from(addr) + u64::from(size) > mem.bytes_mut().len() as u64 {
        return Err(malformed("pointer outside guest memory"));
    }
    store_at(mem, ty, value, addr)
}

/// [`store`] into an area already checked to lie in memory.
fn store_at(
    mem: &mut dyn GuestMemory,
    ty: &Type,
    value: &Value,
    addr: u32,
) -> Result<(), CallError> {
    match (ty, value) {
        (Type::Bool, Value::Bool(b)) => write(mem, addr, &[u8::from(*b)]),
        (Type::U8, Value::U8(v)) => write(mem, addr, &[*v]),
        (Type::S8, Value::S8(v)) => write(mem, addr, &v.to_le_bytes()),
        (Type::U16, Value::U16(v)) => write(mem, addr, &v.to_le_bytes()),
        (Type::S16, Value::S16(v)) => write(mem, addr, &v.to_le_bytes()),
        (Type::U32, Value::U32(v)) => write(mem, addr, &v.to_le_bytes()),
        (Type::S32, Value::S32(v)) => write(mem, addr, &v.to_le_bytes()),
        (Type::U64, Value::U64(v)) => write(mem, addr, &v.to_le_bytes()),
        (Type::S64, Value::S64(v)) => write(mem, addr, &v.to_le_bytes()),
        (Type::String, Value::String(s)) => {
            let (ptr, len) = store_bytes(mem, s.as_bytes(), 1)?;
            write_pair(mem, addr, ptr, len)
        }
        (Type::List(elem), _) => {
            let (ptr, len) = store_list(mem, elem, value)?;
            write_pair(mem, addr, ptr, len)
        }
        (Type::Tuple(ts), Value::Record(vs)) if ts.len() == vs.len() => {
            for ((off, t), v) in field_offsets(ts.iter()).zip(vs) {
                store_at(mem, t, v, addr + off)?;
            }
            Ok(())
        }
        (Type::Record(fs), Value::Record(vs)) if fs.len() == vs.len() => {
            for ((off, t), v) in field_offsets(fs.iter().map(|f| &f.ty)).zip(vs) {
                store_at(mem, t, v, addr + off)?;
            }
            Ok(())
        }
        (_, Value::Variant(case, payload)) => {
            let n = ty.case_count().ok_or_else(mismatch)?;
            if *case as usize >= n {
                return Err(mismatch());
            }
            match Type::discriminant_size(n) {
                1 => write(mem, addr, &[*case as u8])?,
                2 => write(mem, addr, &(*case as u16).to_le_bytes())?,
                _ => write(mem, addr, &case.to_le_bytes())?,
            }
            let offset = ty.payload_offset();
            match (ty.case_type(*case as usize), payload) {
                (Some(t), Some(v)) => store_at(mem, t, v, addr + offset),
                (None, None) => Ok(()),
                _ => Err(mismatch()),
            }
        }
        _ => Err(mismatch()),
    }
}

/// Writes a (ptr, len) pair at `addr`.
pub(crate) fn write_pair(
    mem: &mut dyn GuestMemory,
    addr: u32,
    ptr: u32,
    len: u32,
) -> Result<(), CallError> {
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&ptr.to_le_bytes());
    buf[4..].copy_from_slice(&len.to_le_bytes());
    write(mem, addr, &buf)
}

/// Reads `N` bytes at `addr`, checking bounds.
pub(crate) fn read<const N: usize>(mem: &[u8], addr: u32) -> Result<[u8; N], CallError> {
    let start = addr as usize;
    mem.get(start..start.saturating_add(N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| malformed("load outside guest memory"))
}

/// Reads a little-endian `u32` at `addr`, checking bounds.
pub(crate) fn read_u32(mem: &[u8], addr: u32) -> Result<u32, CallError> {
    read::<4>(mem, addr).map(u32::from_le_bytes)
}

/// The `len` bytes at `ptr`, checking bounds.
pub(crate) fn slice(mem: &[u8], ptr: u32, len: u64) -> Result<&[u8], CallError> {
    let start = u64::from(ptr);
    let end = start + len; // Both below 2^33: no overflow.
    if end > mem.len() as u64 {
        return Err(malformed("string or list outside guest memory"));
    }
    Ok(&mem[start as usize..end as usize])
}

/// Lifts a string from (ptr, len).
pub(crate) fn lift_string(
    mem: &[u8],
    ptr: u32,
    len: u32,
    budget: &mut LiftBudget,
) -> Result<String, CallError> {
    let bytes = slice(mem, ptr, u64::from(len))?;
    budget.charge(u64::from(len))?;
    let s = core::str::from_utf8(bytes).map_err(|_| malformed("string is not valid UTF-8"))?;
    Ok(String::from(s))
}

/// Lifts a list from (ptr, len).
pub(crate) fn lift_list(
    mem: &[u8],
    elem: &Type,
    ptr: u32,
    len: u32,
    budget: &mut LiftBudget,
) -> Result<Value, CallError> {
    let (elem_size, align) = elem.layout();
    if !ptr.is_multiple_of(align) {
        return Err(malformed("misaligned list pointer"));
    }
    let size = u64::from(elem_size);
    let bytes = slice(mem, ptr, size * u64::from(len))?;
    if matches!(elem, Type::U8) {
        budget.charge(u64::from(len))?;
        return Ok(Value::Bytes(bytes.to_vec()));
    }
    // Every element becomes a host `Value`, whatever its size in the guest (even 0).
    budget.slots(u64::from(len))?;
    let mut items = Vec::with_capacity(len as usize);
    for i in 0..len {
        items.push(load_at(mem, elem, ptr + i * elem_size, budget)?);
    }
    Ok(Value::List(items))
}

/// Loads a value of type `ty` from guest address `addr`, checking alignment and bounds.
pub fn load(mem: &[u8], ty: &Type, addr: u32, budget: &mut LiftBudget) -> Result<Value, CallError> {
    let (size, align) = ty.layout();
    if !addr.is_multiple_of(align) {
        return Err(malformed("misaligned pointer"));
    }
    if u64::from(addr) + u64::from(size) > mem.len() as u64 {
        return Err(malformed("pointer outside guest memory"));
    }
    load_at(mem, ty, addr, budget)
}

/// [`load`] without the up-front checks (every read is still bounds-checked).
fn load_at(mem: &[u8], ty: &Type, addr: u32, budget: &mut LiftBudget) -> Result<Value, CallError> {
    Ok(match ty {
        Type::Bool => Value::Bool(read::<1>(mem, addr)?[0] != 0),
        Type::U8 => Value::U8(read::<1>(mem, addr)?[0]),
        Type::S8 => Value::S8(i8::from_le_bytes(read(mem, addr)?)),
        Type::U16 => Value::U16(u16::from_le_bytes(read(mem, addr)?)),
        Type::S16 => Value::S16(i16::from_le_bytes(read(mem, addr)?)),
        Type::U32 => Value::U32(u32::from_le_bytes(read(mem, addr)?)),
        Type::S32 => Value::S32(i32::from_le_bytes(read(mem, addr)?)),
        Type::U64 => Value::U64(u64::from_le_bytes(read(mem, addr)?)),
        Type::S64 => Value::S64(i64::from_le_bytes(read(mem, addr)?)),
        Type::String => {
            let (ptr, len) = (read_u32(mem, addr)?, read_u32(mem, addr + 4)?);
            Value::String(lift_string(mem, ptr, len, budget)?)
        }
        Type::List(elem) => {
            let (ptr, len) = (read_u32(mem, addr)?, read_u32(mem, addr + 4)?);
            lift_list(mem, elem, ptr, len, budget)?
        }
        Type::Tuple(ts) => Value::Record({
            budget.slots(ts.len() as u64)?;
            field_offsets(ts.iter())
                .map(|(off, t)| load_at(mem, t, addr + off, budget))
                .collect::<Result<_, _>>()?
        }),
        Type::Record(fs) => Value::Record({
            budget.slots(fs.len() as u64)?;
            field_offsets(fs.iter().map(|f| &f.ty))
                .map(|(off, t)| load_at(mem, t, addr + off, budget))
                .collect::<Result<_, _>>()?
        }),
        Type::Option(_) | Type::Result { .. } | Type::Enum(_) | Type::Variant(_) => {
            let n = ty.case_count().unwrap_or(0);
            let case = match Type::discriminant_size(n) {
                1 => u32::from(read::<1>(mem, addr)?[0]),
                2 => u32::from(u16::from_le_bytes(read(mem, addr)?)),
                _ => read_u32(mem, addr)?,
            };
            if case as usize >= n {
                return Err(malformed("unknown variant discriminant"));
            }
            let payload = match ty.case_type(case as usize) {
                Some(t) => {
                    let offset = ty.payload_offset();
                    budget.slots(1)?;
                    Some(Box::new(load_at(mem, t, addr + offset, budget)?))
                }
                None => None,
            };
            Value::Variant(case, payload)
        }
    })
}
