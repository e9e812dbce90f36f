//! The global allocator: a linked-list heap in a static array, wrapped to count the bytes
//! in use and their high-water mark — the number the issue asks for.
//!
//! The array is 16 MiB so that an uncapped run measures whatever Berth needs; `cargo
//! xtask qemu --heap BYTES` hands the allocator only the first BYTES of it (see
//! [`crate::boot`]), so a plugin set that does not fit fails to load or to serve instead
//! of being reported.

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

/// The array's size: the most a run can be given. Generous on purpose: the point of an
/// uncapped run is to *measure* what Berth needs.
pub const HEAP_SIZE: usize = 16 << 20;

static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];

/// Counts current and peak usage around a `LlffHeap`.
pub struct Counting {
    heap: LlffHeap,
    /// Bytes handed to the allocator (the cap).
    size: AtomicUsize,
    used: AtomicUsize,
    peak: AtomicUsize,
}

#[global_allocator]
pub static HEAP: Counting = Counting {
    heap: LlffHeap::empty(),
    size: AtomicUsize::new(0),
    used: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

impl Counting {
    /// Hands the first `size` bytes of the static array (all of it if `size` is larger)
    /// to the allocator. Call once, first thing.
    pub fn init(&self, size: usize) {
        let size = size.min(HEAP_SIZE);
        self.size.store(size, Ordering::Relaxed);
        // SAFETY: called once at boot, before any allocation; HEAP_MEM is used by
        // nothing else, and `size` is within it.
        unsafe {
            self.heap
                .init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, size)
        }
    }

    /// Bytes the allocator was given.
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Bytes allocated now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Bytes the heap can still hand out (before fragmentation: a large enough free
    /// block may not exist even when this is larger than the request).
    pub fn free(&self) -> usize {
        self.size().saturating_sub(self.used())
    }

    /// The most bytes ever allocated at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Restarts the high-water mark from the current usage.
    pub fn reset_peak(&self) {
        self.peak.store(self.used(), Ordering::Relaxed);
    }
}

// SAFETY: delegates to LlffHeap, which is a correct allocator; the counters only add.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.heap.alloc(layout) };
        if !p.is_null() {
            let now = self.used.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.heap.dealloc(ptr, layout) };
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}
