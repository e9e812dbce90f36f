//! What the unit tests of the lowering and lifting code share: a guest memory (a byte
//! vector with a bump allocator) and sample responses.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use berth_core::engine::CallError;
use berth_core::model::{Body, Pairs, Response};

use super::{malformed, GuestMemory};

/// `bytes` as a guest's memory; allocations are handed out from `next` upwards.
pub(crate) struct Mem {
    pub bytes: Vec<u8>,
    pub next: u32,
}

impl Mem {
    /// `size` zeroed bytes; the first 8 are never handed out (address 0 stays null).
    pub fn new(size: usize) -> Mem {
        Mem {
            bytes: vec![0; size],
            next: 8,
        }
    }
}

impl GuestMemory for Mem {
    fn alloc(&mut self, align: u32, size: u32) -> Result<u32, CallError> {
        let ptr = self.next.div_ceil(align) * align;
        self.next = ptr + size;
        if self.next as usize > self.bytes.len() {
            return Err(malformed("test memory too small"));
        }
        Ok(ptr)
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

/// `n` headers, longer and with more non-ASCII as `n` grows.
pub fn headers(n: usize) -> Pairs {
    (0..n)
        .map(|i| (format!("x-h{i}"), "vé".repeat(i)))
        .collect()
}

/// One response per body case, with 0 to 4 headers.
pub fn responses() -> Vec<Response> {
    [
        Body::Bytes(Vec::new()),
        Body::Bytes(b"hello".to_vec()),
        Body::Sse(String::from("topic")),
        Body::File(String::from("/www/index.html")),
        Body::Stream(7),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, body)| Response {
        status: 200 + i as u16,
        headers: headers(i),
        body,
    })
    .collect()
}
