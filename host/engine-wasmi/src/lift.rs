//! What `handle`, `before`, `after` and `on-event` return, lifted straight into
//! berth-core's model.
//!
//! Through [`abi::load`] a response became a [`Value`](abi::Value) tree — a vector for
//! the header list and one per header, a box for the body's payload — which `convert`
//! then took apart again. [`Lift`] reads the same bytes into [`Response`] and
//! [`BeforeOutcome`] directly. It makes the same checks in the same order (alignment,
//! bounds, discriminants, UTF-8) and charges the [`LiftBudget`] the same amounts, so a
//! guest meets exactly the limits and errors it met through `load`: the tests run both
//! over the same memory, valid and corrupted, and compare the outcome and the budget
//! left.

use alloc::string::String;
use alloc::vec::Vec;

use berth_core::engine::CallError;
use berth_core::model::{
    BeforeOutcome, Body, EventOutcome, Pairs, Proceed, Refusal, Response, WsPayload,
};

use crate::abi::{self, lift_string, read, read_u32, slice, LiftBudget, Type};
use crate::lower::{response_layout, PAYLOAD};
use crate::wit;

/// A model type read out of guest memory without a [`Value`](abi::Value) tree.
pub trait Lift: Sized {
    /// The contract type it lifts from.
    const TYPE: Type;
    /// `TYPE`'s (size, alignment), written out (checked against `TYPE.layout()` in the
    /// tests): working it out walks the contract's types.
    const LAYOUT: (u32, u32);

    /// Reads the value at `addr`, whose place is known to lie in memory (every read is
    /// still bounds-checked).
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Self, CallError>;

    /// Reads the value at a guest-given `addr`, checking its alignment and bounds first
    /// (what [`abi::load`] checks).
    fn lift(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Self, CallError> {
        let (size, align) = Self::LAYOUT;
        if !addr.is_multiple_of(align) {
            return Err(abi::malformed("misaligned pointer"));
        }
        if u64::from(addr) + u64::from(size) > mem.len() as u64 {
            return Err(abi::malformed("pointer outside guest memory"));
        }
        Self::lift_at(mem, addr, budget)
    }
}

impl Lift for String {
    const TYPE: Type = Type::String;
    const LAYOUT: (u32, u32) = (8, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<String, CallError> {
        let (ptr, len) = (read_u32(mem, addr)?, read_u32(mem, addr + 4)?);
        lift_string(mem, ptr, len, budget)
    }
}

impl Lift for Vec<u8> {
    const TYPE: Type = wit::BYTES;
    const LAYOUT: (u32, u32) = (8, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Vec<u8>, CallError> {
        let (ptr, len) = (read_u32(mem, addr)?, read_u32(mem, addr + 4)?);
        let bytes = slice(mem, ptr, u64::from(len))?;
        budget.charge(u64::from(len))?;
        Ok(bytes.to_vec())
    }
}

/// `tuple<string, string>`'s size and alignment.
const PAIR: (u32, u32) = (16, 4);

impl Lift for Pairs {
    const TYPE: Type = wit::PAIRS;
    const LAYOUT: (u32, u32) = (8, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Pairs, CallError> {
        let (ptr, len) = (read_u32(mem, addr)?, read_u32(mem, addr + 4)?);
        let (size, align) = PAIR;
        if !ptr.is_multiple_of(align) {
            return Err(abi::malformed("misaligned list pointer"));
        }
        slice(mem, ptr, u64::from(size) * u64::from(len))?;
        // As `load`: a slot per element, then two per tuple, then the strings' bytes.
        budget.slots(u64::from(len))?;
        let mut pairs = Vec::with_capacity(len as usize);
        for at in (0..len).map(|i| ptr + i * size) {
            budget.slots(2)?;
            let name = String::lift_at(mem, at, budget)?;
            let value = String::lift_at(mem, at + 8, budget)?;
            pairs.push((name, value));
        }
        Ok(pairs)
    }
}

/// Reads a one-byte variant discriminant and checks it against the number of cases.
fn case(mem: &[u8], addr: u32, cases: u8) -> Result<u8, CallError> {
    let [case] = read::<1>(mem, addr)?;
    if case >= cases {
        return Err(abi::malformed("unknown variant discriminant"));
    }
    Ok(case)
}

/// The case of a variant whose every case has a payload, and where that payload is;
/// charges the slot `load` boxes the payload in.
fn case_and_payload(
    mem: &[u8],
    addr: u32,
    cases: u8,
    budget: &mut LiftBudget,
) -> Result<(u8, u32), CallError> {
    let case = case(mem, addr, cases)?;
    budget.slots(1)?;
    Ok((case, addr + PAYLOAD))
}

impl Lift for Body {
    const TYPE: Type = wit::BODY;
    const LAYOUT: (u32, u32) = (12, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Body, CallError> {
        let (case, payload) = case_and_payload(mem, addr, 4, budget)?;
        Ok(match case {
            0 => Body::Bytes(Vec::lift_at(mem, payload, budget)?),
            1 => Body::Sse(String::lift_at(mem, payload, budget)?),
            2 => Body::File(String::lift_at(mem, payload, budget)?),
            _ => Body::Stream(read_u32(mem, payload)?),
        })
    }
}

impl Lift for Response {
    const TYPE: Type = wit::RESPONSE;
    const LAYOUT: (u32, u32) = (24, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Response, CallError> {
        use response_layout as at;
        budget.slots(3)?;
        Ok(Response {
            status: u16::from_le_bytes(read(mem, addr + at::STATUS)?),
            headers: Pairs::lift_at(mem, addr + at::HEADERS, budget)?,
            body: Body::lift_at(mem, addr + at::BODY, budget)?,
        })
    }
}

impl Lift for BeforeOutcome {
    const TYPE: Type = wit::BEFORE_OUTCOME;
    const LAYOUT: (u32, u32) = (28, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<BeforeOutcome, CallError> {
        let (case, payload) = case_and_payload(mem, addr, 2, budget)?;
        Ok(match case {
            0 => {
                // `proceed`: a record of two header lists.
                budget.slots(2)?;
                BeforeOutcome::Proceed(Proceed {
                    request_headers: Pairs::lift_at(mem, payload, budget)?,
                    response_headers: Pairs::lift_at(mem, payload + 8, budget)?,
                })
            }
            _ => BeforeOutcome::Respond(Response::lift_at(mem, payload, budget)?),
        })
    }
}

impl Lift for WsPayload {
    const TYPE: Type = wit::WS_PAYLOAD;
    const LAYOUT: (u32, u32) = (12, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<WsPayload, CallError> {
        let (case, payload) = case_and_payload(mem, addr, 2, budget)?;
        Ok(match case {
            0 => WsPayload::Text(String::lift_at(mem, payload, budget)?),
            _ => WsPayload::Binary(Vec::lift_at(mem, payload, budget)?),
        })
    }
}

impl Lift for Refusal {
    const TYPE: Type = wit::REFUSAL;
    const LAYOUT: (u32, u32) = (12, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Refusal, CallError> {
        budget.slots(2)?;
        Ok(Refusal {
            status: u16::from_le_bytes(read(mem, addr)?),
            reason: String::lift_at(mem, addr + 4, budget)?,
        })
    }
}

/// `option<T>` of a `T` aligned to 4: a one-byte case, the payload at [`PAYLOAD`].
fn option<T: Lift>(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<Option<T>, CallError> {
    match case(mem, addr, 2)? {
        0 => Ok(None),
        _ => {
            budget.slots(1)?;
            T::lift_at(mem, addr + PAYLOAD, budget).map(Some)
        }
    }
}

/// Field offsets of `event-outcome` (checked against [`wit::EVENT_OUTCOME`] in the tests).
pub mod event_outcome_layout {
    /// `reply: option<ws-payload>`.
    pub const REPLY: u32 = 0;
    /// `stop: bool`.
    pub const STOP: u32 = 16;
    /// `refuse: option<refusal>`.
    pub const REFUSE: u32 = 20;
}

impl Lift for EventOutcome {
    const TYPE: Type = wit::EVENT_OUTCOME;
    const LAYOUT: (u32, u32) = (36, 4);
    fn lift_at(mem: &[u8], addr: u32, budget: &mut LiftBudget) -> Result<EventOutcome, CallError> {
        use event_outcome_layout as at;
        budget.slots(3)?;
        Ok(EventOutcome {
            reply: option(mem, addr + at::REPLY, budget)?,
            stop: read::<1>(mem, addr + at::STOP)?[0] != 0,
            refuse: option(mem, addr + at::REFUSE, budget)?,
        })
    }
}

#[cfg(test)]
mod tests;
