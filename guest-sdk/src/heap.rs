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
//! code is std's own, so speed is unchanged (talc, tried first, cost 15 % more
//! instructions per request on wasmi).
//!
//! Plugins wanting another allocator turn off the SDK's default `allocator` feature.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

use dlmalloc::Dlmalloc;

/// How much dlmalloc asks the system for at a time (it rounds each request up to this).
const GRANULARITY: usize = 4 * 1024;

struct Heap(UnsafeCell<Dlmalloc>);

// SAFETY: a plugin is a single-threaded wasm32 module (no threads, no atomics): the
// allocator is never entered from two threads.
unsafe impl Sync for Heap {}

#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(
    const {
        let mut heap = Dlmalloc::new();
        // 4 KiB is a power of two above dlmalloc's minimum, so it is always accepted.
        heap.set_granularity(GRANULARITY);
        heap
    },
));

impl Heap {
    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut Dlmalloc {
        // SAFETY: single-threaded (see `Sync` above), and GlobalAlloc's methods do not
        // re-enter the allocator, so this is the only live reference.
        unsafe { &mut *self.0.get() }
    }
}

// SAFETY: forwards to dlmalloc, a correct allocator, with the layout's size and
// alignment as its contract asks.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.get().malloc(layout.size(), layout.align()) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { self.get().calloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.get().free(ptr, layout.size(), layout.align()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            self.get()
                .realloc(ptr, layout.size(), layout.align(), new_size)
        }
    }
}
