//! The pipeline's requests and responses, lowered straight into guest memory.
//!
//! Every `handle`, `before` and `after` call hands the guest a `request` (`after` a
//! `response` too). Through [`Value`] that meant cloning every string and list of the
//! request on the host, building a tree of vectors, storing it, and freeing it all
//! after the call. [`Lower`] writes the model types where [`abi::store`] would put the
//! equivalent [`Value`], byte for byte and allocation for allocation (the tests in
//! `tests/abi.rs` compare the two memories), borrowing the host's data instead.
//!
//! The way back, what these calls (and `on-event`) return, is [`crate::lift`];
//! everything else still goes through [`Value`](abi::Value) both ways.

use berth_core::engine::CallError;
use berth_core::model::{Body, Method, Pairs, Request, Response};

use crate::abi::{self, GuestMemory, Type};
use crate::wit;

/// A host value that lowers as a contract type without a [`Value`](abi::Value) tree.
pub trait Lower {
    /// The contract type it lowers as (its layout is the one written).
    const TYPE: Type;
    /// Writes the value at `addr`, which holds `TYPE`'s size at its alignment; strings
    /// and lists go into fresh guest allocations.
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError>;
}

/// A string or byte list: a fresh allocation, then (ptr, len) at `addr`.
fn bytes(mem: &mut dyn GuestMemory, addr: u32, bytes: &[u8]) -> Result<(), CallError> {
    let (ptr, len) = abi::store_bytes(mem, bytes, 1)?;
    abi::write_pair(mem, addr, ptr, len)
}

impl Lower for str {
    const TYPE: Type = Type::String;
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError> {
        bytes(mem, addr, self.as_bytes())
    }
}

impl Lower for [u8] {
    const TYPE: Type = wit::BYTES;
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError> {
        bytes(mem, addr, self)
    }
}

/// `tuple<string, string>`: two (ptr, len) pairs.
const PAIR_SIZE: u32 = 16;
/// `tuple<string, string>`'s alignment (also the dangling pointer of an empty list).
const PAIR_ALIGN: u32 = 4;

impl Lower for Pairs {
    const TYPE: Type = wit::PAIRS;
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError> {
        let len = u32::try_from(self.len()).map_err(|_| abi::malformed("host list too long"))?;
        if len == 0 {
            return abi::write_pair(mem, addr, PAIR_ALIGN, 0);
        }
        let total = len
            .checked_mul(PAIR_SIZE)
            .ok_or_else(|| abi::malformed("host list too long"))?;
        let base = mem.alloc(PAIR_ALIGN, total)?;
        for (at, (name, value)) in (base..).step_by(PAIR_SIZE as usize).zip(self) {
            name.lower(mem, at)?;
            value.lower(mem, at + 8)?;
        }
        abi::write_pair(mem, addr, base, len)
    }
}

impl Lower for Method {
    const TYPE: Type = wit::METHOD;
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError> {
        // Nine cases: a one-byte discriminant.
        abi::write(mem, addr, &[crate::convert::method_case(*self) as u8])
    }
}

/// Field offsets of `request` (checked against [`wit::REQUEST`] in the tests).
pub mod request_layout {
    /// `id: u64`.
    pub const ID: u32 = 0;
    /// `method`.
    pub const METHOD: u32 = 8;
    /// `path: string`.
    pub const PATH: u32 = 12;
    /// `query: string`.
    pub const QUERY: u32 = 20;
    /// `query-pairs`.
    pub const QUERY_PAIRS: u32 = 28;
    /// `params`.
    pub const PARAMS: u32 = 36;
    /// `headers`.
    pub const HEADERS: u32 = 44;
    /// `body: list<u8>`.
    pub const BODY: u32 = 52;
    /// `remote-addr: string`.
    pub const REMOTE_ADDR: u32 = 60;
}

impl Lower for Request {
    const TYPE: Type = wit::REQUEST;
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError> {
        use request_layout as at;
        abi::write(mem, addr + at::ID, &self.id.to_le_bytes())?;
        self.method.lower(mem, addr + at::METHOD)?;
        self.path.lower(mem, addr + at::PATH)?;
        self.query.lower(mem, addr + at::QUERY)?;
        self.query_pairs.lower(mem, addr + at::QUERY_PAIRS)?;
        self.params.lower(mem, addr + at::PARAMS)?;
        self.headers.lower(mem, addr + at::HEADERS)?;
        self.body.lower(mem, addr + at::BODY)?;
        self.remote_addr.lower(mem, addr + at::REMOTE_ADDR)
    }
}

/// Where the payload of the variants lowered and lifted here starts (`body`,
/// `ws-payload`, `before-outcome`, and the options of `event-outcome`): each has a
/// one-byte case and payloads aligned to 4 (checked against the contract in the tests).
pub const PAYLOAD: u32 = 4;

impl Lower for Body {
    const TYPE: Type = wit::BODY;
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError> {
        let payload = addr + PAYLOAD;
        let case = match self {
            Body::Bytes(b) => {
                b.lower(mem, payload)?;
                0
            }
            Body::Sse(topic) => {
                topic.lower(mem, payload)?;
                1
            }
            Body::File(path) => {
                path.lower(mem, payload)?;
                2
            }
            Body::Stream(id) => {
                abi::write(mem, payload, &id.to_le_bytes())?;
                3
            }
        };
        abi::write(mem, addr, &[case])
    }
}

/// Field offsets of `response` (checked against [`wit::RESPONSE`] in the tests).
pub mod response_layout {
    /// `status: u16`.
    pub const STATUS: u32 = 0;
    /// `headers`.
    pub const HEADERS: u32 = 4;
    /// `body`.
    pub const BODY: u32 = 12;
}

impl Lower for Response {
    const TYPE: Type = wit::RESPONSE;
    fn lower(&self, mem: &mut dyn GuestMemory, addr: u32) -> Result<(), CallError> {
        use response_layout as at;
        abi::write(mem, addr + at::STATUS, &self.status.to_le_bytes())?;
        self.headers.lower(mem, addr + at::HEADERS)?;
        self.body.lower(mem, addr + at::BODY)
    }
}

/// The arguments of `handle` and `before` (`handler`, `request`) and of `after`
/// (`handler`, `request`, `response`), lowered as the parameter tuple the call passes
/// by pointer; `offsets` are the tuple's field offsets.
pub fn request_args(
    mem: &mut dyn GuestMemory,
    addr: u32,
    offsets: &[u32],
    handler: u32,
    req: &Request,
    resp: Option<&Response>,
) -> Result<(), CallError> {
    let (Some(&h), Some(&r)) = (offsets.first(), offsets.get(1)) else {
        return Err(abi::malformed("request call without its parameters"));
    };
    abi::write(mem, addr + h, &handler.to_le_bytes())?;
    req.lower(mem, addr + r)?;
    match (resp, offsets.get(2)) {
        (Some(resp), Some(&at)) => resp.lower(mem, addr + at),
        (None, None) => Ok(()),
        _ => Err(abi::malformed("response argument does not match the call")),
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::abi::test_memory::{responses, Mem};
    use crate::abi::{field_offsets, store, Value};
    use crate::convert as cv;

    fn mem() -> Mem {
        Mem::new(1 << 16)
    }

    fn offsets(ty: &Type) -> Vec<u32> {
        match ty {
            Type::Record(fs) => field_offsets(fs.iter().map(|f| &f.ty))
                .map(|(at, _)| at)
                .collect(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn offsets_are_the_contracts() {
        use request_layout as r;
        let want = [
            r::ID,
            r::METHOD,
            r::PATH,
            r::QUERY,
            r::QUERY_PAIRS,
            r::PARAMS,
            r::HEADERS,
            r::BODY,
            r::REMOTE_ADDR,
        ];
        assert_eq!(offsets(&wit::REQUEST), want);
        use response_layout as s;
        assert_eq!(offsets(&wit::RESPONSE), [s::STATUS, s::HEADERS, s::BODY]);
        assert_eq!(wit::BODY.payload_offset(), PAYLOAD);
        assert_eq!(wit::PAIRS, <Pairs as Lower>::TYPE);
        if let Type::List(pair) = wit::PAIRS {
            assert_eq!(pair.layout(), (PAIR_SIZE, PAIR_ALIGN));
        }
    }

    fn requests() -> Vec<Request> {
        let pairs = |n: usize| -> Pairs {
            (0..n)
                .map(|i| (format!("name-{i}"), "é".repeat(i)))
                .collect()
        };
        Method::ALL
            .iter()
            .enumerate()
            .map(|(i, &method)| Request {
                id: u64::MAX - i as u64,
                method,
                path: "/p/".repeat(i),
                query: String::from(if i % 2 == 0 { "" } else { "a=1&b" }),
                query_pairs: pairs(i % 3),
                params: pairs(i % 2),
                headers: pairs(i),
                body: vec![i as u8; i * 7],
                remote_addr: format!("10.0.0.{i}:{}", 1000 + i),
            })
            .collect()
    }

    /// The same bytes, allocated in the same order, as the generic store of the value.
    #[test]
    fn lowers_as_the_generic_store_does() {
        static PARAMS: [Type; 3] = [wit::HANDLER_ID, wit::REQUEST, wit::RESPONSE];
        let params = &PARAMS;
        let tuple = Type::Tuple(params);
        let offs: Vec<u32> = field_offsets(params.iter()).map(|(at, _)| at).collect();
        let (size, align) = tuple.layout();
        for req in requests() {
            for resp in responses() {
                let (mut direct, mut generic) = (mem(), mem());
                let at = direct.alloc(align, size).unwrap();
                request_args(&mut direct, at, &offs, 42, &req, Some(&resp)).unwrap();
                let at = generic.alloc(align, size).unwrap();
                let value =
                    Value::Record(vec![Value::U32(42), cv::request(&req), cv::response(&resp)]);
                store(&mut generic, &tuple, &value, at).unwrap();
                assert_eq!(direct.next, generic.next, "{req:?} {resp:?}");
                assert!(direct.bytes == generic.bytes, "{req:?} {resp:?}");
            }
        }
        // Without the response (`handle`, `before`).
        static TWO: [Type; 2] = [wit::HANDLER_ID, wit::REQUEST];
        let two = &TWO;
        let offs: Vec<u32> = field_offsets(two.iter()).map(|(at, _)| at).collect();
        let (size, align) = Type::Tuple(two).layout();
        for req in requests() {
            let (mut direct, mut generic) = (mem(), mem());
            let at = direct.alloc(align, size).unwrap();
            request_args(&mut direct, at, &offs, 7, &req, None).unwrap();
            let at = generic.alloc(align, size).unwrap();
            let value = Value::Record(vec![Value::U32(7), cv::request(&req)]);
            store(&mut generic, &Type::Tuple(two), &value, at).unwrap();
            assert!(direct.bytes == generic.bytes, "{req:?}");
        }
    }

    #[test]
    fn a_mismatched_call_is_an_error() {
        let mut m = mem();
        let req = &requests()[0];
        assert!(request_args(&mut m, 8, &[0], 1, req, None).is_err());
        assert!(request_args(&mut m, 8, &[0, 8], 1, req, Some(&responses()[0])).is_err());
        assert!(request_args(&mut m, 8, &[0, 8, 80], 1, req, None).is_err());
    }
}
