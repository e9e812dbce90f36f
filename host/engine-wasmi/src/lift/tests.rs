//! [`Lift`] against the generic path it replaces (`abi::load`, then `convert`), over the
//! same guest memory: valid values, then the same bytes corrupted at random, with
//! budgets from none to plenty. Outcome, error and budget left must all agree.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::abi::test_memory::{headers, responses, Mem};
use crate::abi::{load, store, GuestMemory, Value};
use crate::convert as cv;

/// xorshift64: reproducible noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn outcomes() -> Vec<(BeforeOutcome, Value)> {
    let mut all: Vec<(BeforeOutcome, Value)> = (0..3)
        .map(|i| {
            let (req, resp) = (headers(i), headers(2 - i));
            let value = Value::Variant(
                0,
                Some(Box::new(Value::Record(vec![
                    cv::pairs(&req),
                    cv::pairs(&resp),
                ]))),
            );
            let proceed = Proceed {
                request_headers: req,
                response_headers: resp,
            };
            (BeforeOutcome::Proceed(proceed), value)
        })
        .collect();
    for r in responses() {
        let value = Value::Variant(1, Some(Box::new(cv::response(&r))));
        all.push((BeforeOutcome::Respond(r), value));
    }
    all
}

/// Both paths over `mem` at `addr` with `budget`: they must agree on everything.
fn agree<T: Lift + core::fmt::Debug>(
    mem: &[u8],
    addr: u32,
    budget: u64,
    generic: fn(Value) -> Result<T, CallError>,
) -> Result<T, CallError> {
    let (mut b1, mut b2) = (LiftBudget::new(budget), LiftBudget::new(budget));
    let direct = T::lift(mem, addr, &mut b1);
    let through_value = load(mem, &T::TYPE, addr, &mut b2).and_then(generic);
    assert_eq!(
        format!("{direct:?}"),
        format!("{through_value:?}"),
        "at {addr} with a budget of {budget}"
    );
    assert_eq!(b1.left(), b2.left(), "budget left at {addr} from {budget}");
    direct
}

/// Stores `value` at a fresh address of a 4 KiB memory; returns the memory and address.
fn stored(ty: &Type, value: &Value) -> (Vec<u8>, u32) {
    let mut mem = Mem::new(4096);
    let (size, align) = ty.layout();
    let addr = mem.alloc(align, size).expect("room");
    store(&mut mem, ty, value, addr).expect("store");
    (mem.bytes, addr)
}

/// Valid, then corrupted, then with budgets too small, then at wrong addresses.
fn exercise<T: Lift + core::fmt::Debug + PartialEq>(
    want: &T,
    value: &Value,
    generic: fn(Value) -> Result<T, CallError>,
    rng: &mut Rng,
) {
    let (mem, addr) = stored(&T::TYPE, value);
    let plenty = 1 << 20;
    assert_eq!(&agree(&mem, addr, plenty, generic).expect("valid"), want);
    // Every budget below what the value costs fails, in both, at the same point.
    let cost = {
        let mut b = LiftBudget::new(plenty);
        T::lift(&mem, addr, &mut b).expect("valid");
        plenty - b.left()
    };
    for budget in [0, 1, cost / 2, cost.saturating_sub(1), cost] {
        let _ = agree(&mem, addr, budget, generic);
    }
    for addr in [addr + 1, addr + 2, 4096 - 4, 4096, u32::MAX - 3] {
        assert!(agree(&mem, addr, plenty, generic).is_err());
    }
    let mut refused = 0;
    for _ in 0..300 {
        let mut bad = mem.clone();
        for _ in 0..1 + rng.below(4) {
            // Mostly the value's own bytes (pointers, lengths, cases), sometimes its data.
            let at = if rng.below(3) > 0 {
                addr as usize + rng.below(u64::from(T::LAYOUT.0)) as usize
            } else {
                rng.below(256) as usize + 8
            };
            bad[at] = match rng.below(4) {
                0 => 0xff,
                1 => 0,
                2 => bad[at].wrapping_add(1),
                _ => rng.next() as u8,
            };
        }
        refused += usize::from(agree(&bad, addr, plenty, generic).is_err());
    }
    // The corruptions reach both outcomes: values that still lift, and refusals.
    assert!(0 < refused && refused < 300, "{refused} of 300 refused");
}

#[test]
fn layouts_are_the_contracts() {
    assert_eq!(String::LAYOUT, String::TYPE.layout());
    assert_eq!(<Vec<u8>>::LAYOUT, <Vec<u8>>::TYPE.layout());
    assert_eq!(Pairs::LAYOUT, Pairs::TYPE.layout());
    assert_eq!(Body::LAYOUT, Body::TYPE.layout());
    assert_eq!(Response::LAYOUT, Response::TYPE.layout());
    assert_eq!(BeforeOutcome::LAYOUT, BeforeOutcome::TYPE.layout());
    assert_eq!(WsPayload::LAYOUT, WsPayload::TYPE.layout());
    assert_eq!(Refusal::LAYOUT, Refusal::TYPE.layout());
    assert_eq!(EventOutcome::LAYOUT, EventOutcome::TYPE.layout());
    for variant in [
        wit::BODY,
        wit::BEFORE_OUTCOME,
        wit::WS_PAYLOAD,
        Type::Option(&wit::WS_PAYLOAD),
        Type::Option(&wit::REFUSAL),
    ] {
        assert_eq!(variant.payload_offset(), PAYLOAD);
    }
    use event_outcome_layout as at;
    match wit::EVENT_OUTCOME {
        Type::Record(fs) => {
            let offsets: Vec<u32> = crate::abi::field_offsets(fs.iter().map(|f| &f.ty))
                .map(|(o, _)| o)
                .collect();
            assert_eq!(offsets, [at::REPLY, at::STOP, at::REFUSE]);
        }
        _ => unreachable!(),
    }
    if let Type::List(pair) = wit::PAIRS {
        assert_eq!(pair.layout(), PAIR);
    }
}

#[test]
fn responses_lift_as_load_and_convert_do() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for r in responses() {
        exercise(&r, &cv::response(&r), cv::to_response, &mut rng);
    }
}

#[test]
fn before_outcomes_lift_as_load_and_convert_do() {
    let mut rng = Rng(0xd1b5_4a32_d192_ed03);
    for (outcome, value) in outcomes() {
        exercise(&outcome, &value, cv::to_before_outcome, &mut rng);
    }
}

fn event_outcomes() -> Vec<(EventOutcome, Value)> {
    let payloads = [
        None,
        Some(WsPayload::Text(String::from("héllo"))),
        Some(WsPayload::Binary(vec![0, 1, 2, 255])),
        Some(WsPayload::Text(String::new())),
    ];
    let refusals = [
        None,
        Some(Refusal {
            status: 403,
            reason: String::from("not you"),
        }),
    ];
    let mut all = Vec::new();
    for (i, reply) in payloads.iter().enumerate() {
        for refuse in &refusals {
            let outcome = EventOutcome {
                reply: reply.clone(),
                stop: i % 2 == 1,
                refuse: refuse.clone(),
            };
            let option = |v: Option<Value>| match v {
                Some(v) => Value::Variant(1, Some(Box::new(v))),
                None => Value::Variant(0, None),
            };
            let value = Value::Record(vec![
                option(reply.as_ref().map(cv::ws_payload)),
                Value::Bool(outcome.stop),
                option(refuse.as_ref().map(|r| {
                    Value::Record(vec![Value::U16(r.status), Value::String(r.reason.clone())])
                })),
            ]);
            all.push((outcome, value));
        }
    }
    all
}

#[test]
fn event_outcomes_lift_as_load_and_convert_do() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for (outcome, value) in event_outcomes() {
        exercise(&outcome, &value, cv::to_event_outcome, &mut rng);
    }
}
