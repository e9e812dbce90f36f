//! Unit tests of the generic Canonical-ABI layer, over a plain byte vector.

use berth_core::engine::CallError;
use berth_core::model::{Event, Method, Request, ServerInfo, WsMessage, WsPayload};
use berth_engine_wasmi::abi::{
    lift_flat, load, lower_flat, store, Case, Flat, FlatReader, FlatType, GuestMemory, LiftBudget,
    Type, Value,
};
use berth_engine_wasmi::{convert, wit};

/// A guest memory with a bump allocator.
struct Mem {
    bytes: Vec<u8>,
    next: u32,
}

impl Mem {
    fn new(size: usize) -> Mem {
        Mem {
            bytes: vec![0; size],
            next: 16,
        }
    }
}

impl GuestMemory for Mem {
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32, CallError> {
        let ptr = self.next.div_ceil(align) * align;
        self.next = ptr + size;
        assert!(
            self.next as usize <= self.bytes.len(),
            "test memory too small"
        );
        Ok(ptr)
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

fn request() -> Request {
    Request {
        id: 99,
        method: Method::Delete,
        path: "/a/b".into(),
        query: "x=1".into(),
        query_pairs: vec![("x".into(), "1".into())],
        params: vec![],
        headers: vec![("h".into(), "v".into()), ("k".into(), "ü".into())],
        body: b"body".to_vec(),
        remote_addr: "1.1.1.1:1".into(),
    }
}

fn budget(mem: &Mem) -> LiftBudget {
    LiftBudget::for_memory(&mem.bytes)
}

fn malformed<T: std::fmt::Debug>(r: Result<T, CallError>) {
    assert!(
        matches!(r, Err(CallError::Malformed(_))),
        "expected Malformed, got {r:?}"
    );
}

#[test]
fn store_then_load_round_trips() {
    let mut mem = Mem::new(1 << 16);
    let values = [
        (wit::REQUEST, convert::request(&request())),
        (
            wit::EVENT,
            convert::event(&Event::WsMessage(WsMessage {
                conn: u64::MAX,
                path: "/ws".into(),
                payload: WsPayload::Binary(vec![0, 255]),
            })),
        ),
        (wit::EVENT, convert::event(&Event::ServerStop)),
        (
            Type::Result {
                ok: None,
                err: Some(&wit::WS_ERROR),
            },
            Value::case(1, Value::unit(2)),
        ),
        (
            Type::Tuple(&[Type::S8, Type::S16, Type::S32, Type::S64, Type::Bool]),
            Value::Record(vec![
                Value::S8(-1),
                Value::S16(-300),
                Value::S32(i32::MIN),
                Value::S64(i64::MIN),
                Value::Bool(true),
            ]),
        ),
    ];
    for (ty, value) in values {
        let addr = mem.alloc(ty.align(), ty.size()).expect("alloc");
        store(&mut mem, &ty, &value, addr).expect("store");
        let b = &mut budget(&mem);
        assert_eq!(load(&mem.bytes, &ty, addr, b).expect("load"), value);
    }
}

#[test]
fn lower_then_lift_flat_round_trips() {
    let mut mem = Mem::new(1 << 16);
    let events = [
        Event::Tick(u64::MAX),
        Event::ServerStart(ServerInfo {
            http_addr: "h".into(),
            ws_addr: Some("w".into()),
        }),
        Event::ServerStop,
        Event::WsMessage(WsMessage {
            conn: 3,
            path: "/p".into(),
            payload: WsPayload::Text("t".into()),
        }),
    ];
    for ev in events {
        let value = convert::event(&ev);
        let mut flat = Vec::new();
        lower_flat(&mut mem, &wit::EVENT, &value, &mut flat).expect("lower");
        assert_eq!(flat.len(), wit::EVENT.flat_count());
        // Every slot has the joined type.
        let types: Vec<FlatType> = flat
            .iter()
            .map(|f| {
                if matches!(f, Flat::I32(_)) {
                    FlatType::I32
                } else {
                    FlatType::I64
                }
            })
            .collect();
        assert_eq!(types, wit::EVENT.flat_types());
        let b = &mut budget(&mem);
        let lifted =
            lift_flat(&mem.bytes, &wit::EVENT, &mut FlatReader::new(&flat), b).expect("lift");
        assert_eq!(lifted, value);
    }
}

#[test]
fn variants_flatten_with_joined_payloads() {
    use FlatType::{I32, I64};
    assert_eq!(wit::WS_PAYLOAD.flat_types(), vec![I32, I32, I32]);
    assert_eq!(Type::Option(&Type::U64).flat_types(), vec![I32, I64]);
    const MIXED: Type = Type::Variant(&[
        Case {
            name: "a",
            ty: Some(Type::U32),
        },
        Case {
            name: "b",
            ty: Some(Type::U64),
        },
        Case {
            name: "c",
            ty: Some(Type::Tuple(&[Type::U8, Type::String])),
        },
        Case {
            name: "d",
            ty: None,
        },
    ]);
    // tuple<u8, string> is three i32s; its u8 slot joins with u32 and u64 to i64.
    assert_eq!(MIXED.flat_types(), vec![I32, I64, I32, I32]);
    // The u32 case widens into the i64 slot; the string case keeps i32 slots.
    let mut mem = Mem::new(4096);
    let mut flat = Vec::new();
    lower_flat(
        &mut mem,
        &MIXED,
        &Value::case(0, Value::U32(u32::MAX)),
        &mut flat,
    )
    .expect("lower");
    assert_eq!(
        flat,
        vec![
            Flat::I32(0),
            Flat::I64(0xffff_ffff),
            Flat::I32(0),
            Flat::I32(0)
        ]
    );
    let b = &mut budget(&mem);
    let back = lift_flat(&mem.bytes, &MIXED, &mut FlatReader::new(&flat), b).expect("lift");
    assert_eq!(back, Value::case(0, Value::U32(u32::MAX)));
    flat.clear();
    lower_flat(&mut mem, &MIXED, &Value::unit(3), &mut flat).expect("lower");
    assert_eq!(
        flat,
        vec![Flat::I32(3), Flat::I64(0), Flat::I32(0), Flat::I32(0)]
    );
    // Sizes: discriminant, padding to the u64-aligned payload, the 12-byte tuple.
    assert_eq!((MIXED.size(), MIXED.align()), (24, 8));
    assert_eq!((wit::BODY.size(), wit::BODY.align()), (12, 4));
}

fn write_u32(mem: &mut Mem, at: usize, v: u32) {
    mem.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn malformed_guest_data_is_rejected() {
    let mut mem = Mem::new(4096);
    let strings = Type::List(&Type::String);
    let b = || LiftBudget::new(4096);
    // A list that claims 4 billion elements: rejected before anything is allocated.
    write_u32(&mut mem, 0, 64);
    write_u32(&mut mem, 4, u32::MAX);
    malformed(load(&mem.bytes, &strings, 0, &mut b()));
    malformed(load(&mem.bytes, &wit::BYTES, 0, &mut b()));
    // A pointer past the end, and one that wraps.
    write_u32(&mut mem, 0, 4000);
    write_u32(&mut mem, 4, 200);
    malformed(load(&mem.bytes, &wit::BYTES, 0, &mut b()));
    write_u32(&mut mem, 0, u32::MAX - 2);
    write_u32(&mut mem, 4, 8);
    malformed(load(&mem.bytes, &wit::BYTES, 0, &mut b()));
    malformed(load(&mem.bytes, &Type::U64, u32::MAX - 3, &mut b()));
    // A misaligned list of strings, and a misaligned record.
    write_u32(&mut mem, 0, 66);
    write_u32(&mut mem, 4, 1);
    malformed(load(&mem.bytes, &strings, 0, &mut b()));
    malformed(load(&mem.bytes, &wit::REQUEST, 4, &mut b()));
    // Invalid UTF-8.
    mem.bytes[100..102].copy_from_slice(&[0xff, 0xfe]);
    write_u32(&mut mem, 0, 100);
    write_u32(&mut mem, 4, 2);
    malformed(load(&mem.bytes, &Type::String, 0, &mut b()));
    // Unknown discriminants, in memory and flat.
    mem.bytes[200] = 9;
    malformed(load(&mem.bytes, &wit::METHOD, 200, &mut b()));
    mem.bytes[200] = 4;
    malformed(load(&mem.bytes, &wit::BODY, 200, &mut b()));
    malformed(lift_flat(
        &mem.bytes,
        &wit::BODY,
        &mut FlatReader::new(&[Flat::I32(4), Flat::I32(0), Flat::I32(0)]),
        &mut b(),
    ));
    malformed(lift_flat(
        &mem.bytes,
        &wit::METHOD,
        &mut FlatReader::new(&[Flat::I32(-1)]),
        &mut b(),
    ));
    // Too few flat values.
    malformed(lift_flat(
        &mem.bytes,
        &Type::String,
        &mut FlatReader::new(&[Flat::I32(0)]),
        &mut b(),
    ));
    // Many list elements aliasing one big string: the lift budget stops it.
    let big = 1000u32;
    for i in 0..300usize {
        write_u32(&mut mem, 1024 + i * 8, 2048);
        write_u32(&mut mem, 1024 + i * 8 + 4, big);
    }
    write_u32(&mut mem, 0, 1024);
    write_u32(&mut mem, 4, 300);
    malformed(load(
        &mem.bytes,
        &strings,
        0,
        &mut LiftBudget::new(mem.bytes.len() as u64),
    ));
    // A store through a bad return pointer.
    malformed(store(&mut mem, &Type::U64, &Value::U64(1), 4093));
    malformed(store(&mut mem, &Type::U64, &Value::U64(1), 4));
}

/// The budget charges what the host allocates: a list of empty strings costs the guest
/// 8 bytes an element, but the host a whole `Value` each, so a list that fits the
/// guest's memory several times over in host form is refused.
#[test]
fn lifting_charges_host_allocations_not_guest_bytes() {
    let size = 1 << 16;
    let mut mem = Mem::new(size);
    let strings = Type::List(&Type::String);
    let n = (size / 8 - 16) as u32; // every element (0, 0): an empty string
    write_u32(&mut mem, 0, 64);
    write_u32(&mut mem, 4, n);
    let guest_bytes = 8 * u64::from(n);
    assert!(
        guest_bytes < size as u64,
        "the list fits in the guest's memory"
    );
    malformed(load(
        &mem.bytes,
        &strings,
        0,
        &mut LiftBudget::new(size as u64),
    ));
    // Nested empty lists: the same, one level down.
    let nested = Type::List(&Type::List(&Type::String));
    malformed(load(
        &mem.bytes,
        &nested,
        0,
        &mut LiftBudget::new(size as u64),
    ));
    // A budget for the host form lifts it.
    let host_bytes = u64::from(n) * std::mem::size_of::<Value>() as u64;
    let lifted = load(&mem.bytes, &strings, 0, &mut LiftBudget::new(host_bytes));
    assert!(matches!(lifted, Ok(Value::List(ref v)) if v.len() == n as usize));
}

#[test]
fn host_values_must_match_their_types() {
    let mut mem = Mem::new(4096);
    malformed(store(&mut mem, &Type::U32, &Value::U64(1), 0));
    malformed(store(&mut mem, &wit::METHOD, &Value::unit(9), 0));
    malformed(lower_flat(
        &mut mem,
        &wit::BODY,
        &Value::unit(0),
        &mut Vec::new(),
    ));
}
