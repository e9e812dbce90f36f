//! A guest memory for the unit tests of the lowering and lifting code: a byte vector
//! with a bump allocator.

use alloc::vec;
use alloc::vec::Vec;

use berth_core::engine::CallError;

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
