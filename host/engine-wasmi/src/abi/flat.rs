//! Lowering values to, and lifting them from, flat core-Wasm values.

use alloc::boxed::Box;
use alloc::vec::Vec;

use berth_core::engine::CallError;

use super::memory::{lift_list, lift_string, store_bytes, store_list, GuestMemory, LiftBudget};
use super::{malformed, Flat, FlatType, Type, Value};

/// Lowers `value` of type `ty` to flat core values appended to `out`, allocating its
/// strings and lists in guest memory.
pub fn lower_flat(
    mem: &mut dyn GuestMemory,
    ty: &Type,
    value: &Value,
    out: &mut Vec<Flat>,
) -> Result<(), CallError> {
    let mismatch = || malformed("host value does not match its WIT type");
    match (ty, value) {
        (Type::Bool, Value::Bool(b)) => out.push(Flat::I32(i32::from(*b))),
        (Type::U8, Value::U8(v)) => out.push(Flat::I32(i32::from(*v))),
        (Type::S8, Value::S8(v)) => out.push(Flat::I32(i32::from(*v))),
        (Type::U16, Value::U16(v)) => out.push(Flat::I32(i32::from(*v))),
        (Type::S16, Value::S16(v)) => out.push(Flat::I32(i32::from(*v))),
        (Type::U32, Value::U32(v)) => out.push(Flat::I32(*v as i32)),
        (Type::S32, Value::S32(v)) => out.push(Flat::I32(*v)),
        (Type::U64, Value::U64(v)) => out.push(Flat::I64(*v as i64)),
        (Type::S64, Value::S64(v)) => out.push(Flat::I64(*v)),
        (Type::String, Value::String(s)) => {
            let (ptr, len) = store_bytes(mem, s.as_bytes(), 1)?;
            out.extend([Flat::I32(ptr as i32), Flat::I32(len as i32)]);
        }
        (Type::List(elem), _) => {
            let (ptr, len) = store_list(mem, elem, value)?;
            out.extend([Flat::I32(ptr as i32), Flat::I32(len as i32)]);
        }
        (Type::Tuple(ts), Value::Record(vs)) if ts.len() == vs.len() => {
            for (t, v) in ts.iter().zip(vs) {
                lower_flat(mem, t, v, out)?;
            }
        }
        (Type::Record(fs), Value::Record(vs)) if fs.len() == vs.len() => {
            for (f, v) in fs.iter().zip(vs) {
                lower_flat(mem, &f.ty, v, out)?;
            }
        }
        (_, Value::Variant(case, payload)) => {
            let n = ty.case_count().ok_or_else(mismatch)?;
            if *case as usize >= n {
                return Err(mismatch());
            }
            out.push(Flat::I32(*case as i32));
            if matches!(ty, Type::Enum(_)) {
                return Ok(());
            }
            let joined = ty.joined_payload();
            let start = out.len();
            match (ty.case_type(*case as usize), payload) {
                (Some(t), Some(v)) => lower_flat(mem, t, v, out)?,
                (None, None) => {}
                _ => return Err(mismatch()),
            }
            // Widen each payload value to its joined slot, then pad the unused slots.
            for (j, slot) in joined.iter().enumerate() {
                match (out.get_mut(start + j), slot) {
                    (Some(v), FlatType::I64) => *v = Flat::I64(v.as_i64()),
                    (Some(_), FlatType::I32) => {}
                    (None, FlatType::I64) => out.push(Flat::I64(0)),
                    (None, FlatType::I32) => out.push(Flat::I32(0)),
                }
            }
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// Reads flat values in order.
#[derive(Debug)]
pub struct FlatReader<'a> {
    values: &'a [Flat],
    pos: usize,
}

impl<'a> FlatReader<'a> {
    /// A reader over `values`.
    pub fn new(values: &'a [Flat]) -> FlatReader<'a> {
        FlatReader { values, pos: 0 }
    }

    fn next(&mut self) -> Result<Flat, CallError> {
        let v = self
            .values
            .get(self.pos)
            .copied()
            .ok_or_else(|| malformed("too few core values"))?;
        self.pos += 1;
        Ok(v)
    }

    fn next_i32(&mut self) -> Result<i32, CallError> {
        self.next().map(Flat::as_i32)
    }

    fn take(&mut self, n: usize) -> Result<&'a [Flat], CallError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.values.len());
        let end = end.ok_or_else(|| malformed("too few core values"))?;
        let taken = &self.values[self.pos..end];
        self.pos = end;
        Ok(taken)
    }
}

/// Lifts a value of type `ty` from flat core values (and the memory they point into).
pub fn lift_flat(
    mem: &[u8],
    ty: &Type,
    flat: &mut FlatReader<'_>,
    budget: &mut LiftBudget,
) -> Result<Value, CallError> {
    Ok(match ty {
        // Narrow integers are truncated, as the Canonical ABI lifts them.
        Type::Bool => Value::Bool(flat.next_i32()? != 0),
        Type::U8 => Value::U8(flat.next_i32()? as u8),
        Type::S8 => Value::S8(flat.next_i32()? as i8),
        Type::U16 => Value::U16(flat.next_i32()? as u16),
        Type::S16 => Value::S16(flat.next_i32()? as i16),
        Type::U32 => Value::U32(flat.next_i32()? as u32),
        Type::S32 => Value::S32(flat.next_i32()?),
        Type::U64 => Value::U64(flat.next()?.as_i64() as u64),
        Type::S64 => Value::S64(flat.next()?.as_i64()),
        Type::String => {
            let (ptr, len) = (flat.next_i32()? as u32, flat.next_i32()? as u32);
            Value::String(lift_string(mem, ptr, len, budget)?)
        }
        Type::List(elem) => {
            let (ptr, len) = (flat.next_i32()? as u32, flat.next_i32()? as u32);
            lift_list(mem, elem, ptr, len, budget)?
        }
        Type::Tuple(ts) => Value::Record(
            ts.iter()
                .map(|t| lift_flat(mem, t, flat, budget))
                .collect::<Result<_, _>>()?,
        ),
        Type::Record(fs) => Value::Record(
            fs.iter()
                .map(|f| lift_flat(mem, &f.ty, flat, budget))
                .collect::<Result<_, _>>()?,
        ),
        Type::Enum(names) => {
            let case = flat.next_i32()? as u32;
            if case as usize >= names.len() {
                return Err(malformed("unknown enum discriminant"));
            }
            Value::unit(case)
        }
        Type::Option(_) | Type::Result { .. } | Type::Variant(_) => {
            let case = flat.next_i32()? as u32;
            if case as usize >= ty.case_count().unwrap_or(0) {
                return Err(malformed("unknown variant discriminant"));
            }
            let joined = ty.joined_payload();
            let slots = flat.take(joined.len())?;
            match ty.case_type(case as usize) {
                None => Value::unit(case),
                Some(t) => {
                    // Narrow each joined slot back to the type this case uses there.
                    let coerced: Vec<Flat> = t
                        .flat_types()
                        .iter()
                        .zip(slots)
                        .map(|(want, v)| match want {
                            FlatType::I32 => Flat::I32(v.as_i32()),
                            FlatType::I64 => Flat::I64(v.as_i64()),
                        })
                        .collect();
                    let payload = lift_flat(mem, t, &mut FlatReader::new(&coerced), budget)?;
                    Value::Variant(case, Some(Box::new(payload)))
                }
            }
        }
    })
}
