//! The wasmi engine's lifting of guest results: a hostile guest controls its whole
//! linear memory and the core values an export returns. Lifting any of the contract's
//! result types from them, then converting to berth-core's model, must give a value or
//! `CallError::Malformed` — never a panic, and never more memory than the budget.
#![no_main]

use berth_engine_wasmi::abi::{lift_flat, load, Flat, FlatReader, LiftBudget};
use berth_engine_wasmi::{convert, wit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // [selector][ptr: 4 bytes LE][memory…]
    if data.len() < 5 {
        return;
    }
    let selector = data[0];
    let ptr = u32::from_le_bytes([data[1], data[2], data[3], data[4]]);
    let mem = &data[5..];
    let sigs = &wit::GUEST_FUNCS;
    let sig = &sigs[usize::from(selector & 0x7f) % sigs.len()];
    let Some(ty) = sig.result else {
        return;
    };
    let mut budget = LiftBudget::for_memory(mem);
    let value = if selector & 0x80 == 0 {
        // Results that do not fit in one core value come back through a pointer.
        load(mem, &ty, ptr, &mut budget)
    } else {
        // Flat lifting: the pointer doubles as the single flat result, and further flat
        // values (for nested variants) are taken from the start of memory.
        let mut flat = vec![Flat::I32(ptr as i32)];
        flat.extend(
            mem.chunks_exact(4)
                .take(16)
                .map(|c| Flat::I32(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
        );
        lift_flat(mem, &ty, &mut FlatReader::new(&flat), &mut budget)
    };
    let Ok(value) = value else {
        return;
    };
    let _ = match sig.name {
        "setup" => convert::to_setup_result(value).map(drop),
        "handle" | "after" => convert::to_response(value).map(drop),
        "before" => convert::to_before_outcome(value).map(drop),
        "on-event" => convert::to_event_outcome(value).map(drop),
        "next-chunk" => convert::to_chunk(value).map(drop),
        other => panic!("unknown export {other}"),
    };
});
