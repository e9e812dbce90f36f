//! The plugin's global allocator: dlmalloc, as in std, but starting in the free tail of
//! the memory the module already has.
//!
//! std's allocator asks the system for 64 KiB at a time, so its first allocation grows
//! the memory by a page even when the initial page is mostly free. A plugin built with
//! a small stack starts with one 64 KiB page holding the stack and the static data, so
//! every instance held two pages where one would do: 64 KiB per plugin on a
//! microcontroller, 64 KiB per pooled instance on a server.
//!
//! The `dlmalloc` crate (the one std uses) hands dlmalloc the linker's free tail,
//! `__heap_base..__heap_end`, when the first request fits in it, and grows the memory
//! after that; the new pages follow the tail, so dlmalloc merges them into one heap.
//! Asking in 4 KiB steps instead of 64 KiB makes the first request fit. The allocation
//! code is std's own (talc, tried first, cost 15 % more instructions per request on
//! wasmi), with a cache of freed small blocks in front ([`crate::small_blocks`]).
//!
//! Memory may have 64 KiB pages or, with the custom-page-sizes proposal (berth-build
//! links with `--page-size=1`), one-byte pages, so that an instance holds only the bytes
//! it uses. The `dlmalloc` crate's own system layer assumes 64 KiB pages; [`Grow`] below
//! is that layer with the page size read from the module itself (the linker's
//! `__heap_end` is the initial memory's end: `memory.size` pages of it).
//!
//! Plugins wanting another allocator turn off the SDK's default `allocator` feature.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use dlmalloc::Dlmalloc;

use crate::small_blocks::Cached;

extern "C" {
    /// Where the linker's free tail of the initial memory starts.
    static __heap_base: u8;
    /// The initial memory's end.
    static __heap_end: u8;
}

/// The linker's free tail has been handed to dlmalloc.
static TAIL_GIVEN: AtomicBool = AtomicBool::new(false);

/// Alignment of every region handed to dlmalloc (its chunks need 16 at most on wasm32).
const REGION_ALIGN: usize = 16;

/// Bytes per page of this module's memory: 64 KiB, or 1 with custom page sizes.
fn page_size() -> usize {
    // A linker-defined symbol: only its address is taken.
    let end = ptr::addr_of!(__heap_end) as usize as u64;
    let pages = wasm32::memory_size::<0>() as u64;
    if pages * 65_536 == end {
        65_536
    } else {
        1
    }
}

/// dlmalloc's system layer: the linker's free tail first, then `memory.grow`.
struct Grow;

// SAFETY: every region returned is fresh memory nobody else uses: the free tail once,
// then memory just grown, each at least `size` bytes and aligned to `REGION_ALIGN`.
unsafe impl dlmalloc::Allocator for Grow {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if size == 0 {
            return (ptr::null_mut(), 0, 0);
        }
        // Linker-defined symbols: only their addresses are taken.
        let (base, end) = (
            ptr::addr_of!(__heap_base) as usize,
            ptr::addr_of!(__heap_end) as usize,
        );
        let base = base.next_multiple_of(REGION_ALIGN);
        if end > base && end - base >= size && !TAIL_GIVEN.swap(true, Ordering::Relaxed) {
            return (base as *mut u8, end - base, 0);
        }
        let page = page_size();
        // Room for aligning the start: with one-byte pages the memory's end may be
        // anywhere.
        let want = size.next_multiple_of(GRANULARITY) + if page == 1 { REGION_ALIGN } else { 0 };
        let pages = want.div_ceil(page);
        let prev = wasm32::memory_grow::<0>(pages);
        if prev == usize::MAX {
            return (ptr::null_mut(), 0, 0);
        }
        let start = prev * page;
        let aligned = start.next_multiple_of(REGION_ALIGN);
        let len = pages * page - (aligned - start);
        (aligned as *mut u8, len - len % REGION_ALIGN, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    /// What dlmalloc aligns its large ("mapped") regions to; each region [`Grow::alloc`]
    /// returns is a multiple of it on either page size.
    fn page_size(&self) -> usize {
        GRANULARITY
    }
}

/// How much dlmalloc asks the system for at a time (it rounds each request up to this).
const GRANULARITY: usize = 4 * 1024;

struct Heap(UnsafeCell<Cached<Grow>>);

// SAFETY: a plugin is a single-threaded wasm32 module (no threads, no atomics): the
// allocator is never entered from two threads.
unsafe impl Sync for Heap {}

#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(Cached::new(
    const {
        let mut heap = Dlmalloc::new_with_allocator(Grow);
        // 4 KiB is a power of two above dlmalloc's minimum, so it is always accepted.
        heap.set_granularity(GRANULARITY);
        heap
    },
)));

impl Heap {
    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut Cached<Grow> {
        // SAFETY: single-threaded (see `Sync` above), and GlobalAlloc's methods do not
        // re-enter the allocator, so this is the only live reference.
        unsafe { &mut *self.0.get() }
    }
}

// SAFETY: `Cached` keeps GlobalAlloc's contracts over dlmalloc, a correct allocator
// (see `small_blocks`).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.get().alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { self.get().alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.get().dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { self.get().realloc(ptr, layout, new_size) }
    }
}
