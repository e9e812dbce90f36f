//! A cache of freed small blocks in front of dlmalloc: the SDK's global allocator
//! (`heap.rs`) is this over dlmalloc.
//!
//! Every call into a plugin allocates and frees a few dozen small blocks: each string
//! and list the host lowers (through `cabi_realloc`), the SDK's request and response,
//! their headers, a JSON value's nodes; nearly all freed when the call returns.
//! dlmalloc's `malloc` and `free` are each a few hundred Wasm instructions, which the
//! wasmi interpreter runs one by one. A freed small block goes onto its size class's
//! list instead and is handed out again with a pop: `GET /hello` went from 91,756 to
//! about 80,000 host instructions a request on wasmi and from 52,541 to about 49,500 on
//! wasmtime (callgrind, whole server), and from 284,603 to 235,284 on the embedded
//! runtime under QEMU. No allocator crate does this on top of dlmalloc (talc, a
//! whole allocator, cost 15 % more than dlmalloc on wasmi), and it is short.
//!
//! Invariant: a block whose layout falls in a class was allocated from dlmalloc at
//! exactly that class's size, so any request of the class fits it, and dlmalloc (which
//! checks a freed block's size against its chunk) takes it back when a list is full.

use core::alloc::Layout;
use core::mem::size_of;
use core::ptr;

use dlmalloc::{Allocator, Dlmalloc};

/// Size classes: 16, 32, … 256 bytes.
const CLASS_BYTES: usize = 16;
const CLASSES: usize = 16;
/// Freed blocks a class keeps; more go back to dlmalloc. A JSON value's nodes are many
/// of one class: with 8, a 1 KiB JSON echo cost 4.6 % more than plain dlmalloc on
/// wasmtime; with 64, 2.1 % less.
const CLASS_KEEP: u8 = 64;
/// Bytes the whole cache keeps away from dlmalloc at most. Blocks parked in one class
/// cannot serve another, and on a microcontroller every instance's parked blocks are
/// heap the others lack: without this bound the Full Example's four plugins held
/// ≈ 24 KB more after loading; with it, ≈ 2 KB.
const KEEP_BYTES: usize = 8192;
/// dlmalloc's own alignment (two words): a class block serves requests up to it.
const CLASS_ALIGN: usize = 2 * size_of::<usize>();

/// The class of a block of `size` bytes at `align`, if the cache serves it.
fn class_of(size: usize, align: usize) -> Option<usize> {
    (size <= CLASS_BYTES * CLASSES && align <= CLASS_ALIGN)
        .then(|| size.max(1).div_ceil(CLASS_BYTES) - 1)
}

fn class_size(class: usize) -> usize {
    (class + 1) * CLASS_BYTES
}

/// dlmalloc with the small-block cache in front; the methods are `GlobalAlloc`'s, with
/// its contracts.
pub(crate) struct Cached<A: Allocator> {
    dl: Dlmalloc<A>,
    /// Per class: the head of an intrusive list of free blocks (each block holds the
    /// next one's address), and its length.
    free: [(*mut u8, u8); CLASSES],
    /// The bytes of all cached blocks.
    kept: usize,
}

impl<A: Allocator> Cached<A> {
    /// The cache, empty, in front of `dl`.
    pub(crate) const fn new(dl: Dlmalloc<A>) -> Cached<A> {
        Cached {
            dl,
            free: [(ptr::null_mut(), 0); CLASSES],
            kept: 0,
        }
    }

    /// A block of class `class`: a cached one, or a new one from dlmalloc.
    unsafe fn take(&mut self, class: usize) -> *mut u8 {
        let (head, len) = &mut self.free[class];
        if head.is_null() {
            return unsafe { self.dl.malloc(class_size(class), CLASS_ALIGN) };
        }
        let block = *head;
        // SAFETY: a cached block is at least 16 bytes, aligned, and holds the next
        // pointer `give` wrote.
        *head = unsafe { block.cast::<*mut u8>().read() };
        *len -= 1;
        self.kept -= class_size(class);
        block
    }

    /// Takes back a block of class `class`: onto its list, or to dlmalloc when the list
    /// is full.
    unsafe fn give(&mut self, block: *mut u8, class: usize) {
        let (head, len) = &mut self.free[class];
        if *len >= CLASS_KEEP || self.kept + class_size(class) > KEEP_BYTES {
            return unsafe { self.dl.free(block, class_size(class), CLASS_ALIGN) };
        }
        // SAFETY: the block is free again (the caller gave it up), large and aligned
        // enough for a pointer.
        unsafe { block.cast::<*mut u8>().write(*head) };
        *head = block;
        *len += 1;
        self.kept += class_size(class);
    }

    /// `GlobalAlloc::alloc`.
    pub(crate) unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        match class_of(layout.size(), layout.align()) {
            Some(class) => unsafe { self.take(class) },
            None => unsafe { self.dl.malloc(layout.size(), layout.align()) },
        }
    }

    /// `GlobalAlloc::alloc_zeroed`.
    pub(crate) unsafe fn alloc_zeroed(&mut self, layout: Layout) -> *mut u8 {
        match class_of(layout.size(), layout.align()) {
            Some(class) => {
                let block = unsafe { self.take(class) };
                if !block.is_null() {
                    // A cached block holds what it held before.
                    unsafe { ptr::write_bytes(block, 0, layout.size()) };
                }
                block
            }
            None => unsafe { self.dl.calloc(layout.size(), layout.align()) },
        }
    }

    /// `GlobalAlloc::dealloc`.
    pub(crate) unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        match class_of(layout.size(), layout.align()) {
            Some(class) => unsafe { self.give(ptr, class) },
            None => unsafe { self.dl.free(ptr, layout.size(), layout.align()) },
        }
    }

    /// `GlobalAlloc::realloc`.
    pub(crate) unsafe fn realloc(
        &mut self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        let old = class_of(layout.size(), layout.align());
        match (old, class_of(new_size, layout.align())) {
            // Both large: dlmalloc may grow or shrink in place.
            (None, None) => unsafe {
                self.dl
                    .realloc(ptr, layout.size(), layout.align(), new_size)
            },
            // The same class: the block already is the new size's.
            (Some(o), Some(n)) if n == o => ptr,
            // Into another class, or between a class and dlmalloc: move (a class's
            // blocks are exactly its size).
            _ => unsafe {
                // SAFETY: `new_size` at the old alignment is a valid layout (the
                // caller's contract).
                let to = Layout::from_size_align_unchecked(new_size, layout.align());
                let moved = self.alloc(to);
                if !moved.is_null() {
                    ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                moved
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: reproducible without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A live block: where, its layout, and the byte it was filled with.
    struct Live {
        ptr: *mut u8,
        layout: Layout,
        fill: u8,
    }

    fn fill(b: &Live) {
        unsafe { ptr::write_bytes(b.ptr, b.fill, b.layout.size()) };
    }

    fn intact(b: &Live, len: usize) -> bool {
        (0..len).all(|i| unsafe { *b.ptr.add(i) } == b.fill)
    }

    /// Random allocations, reallocations and frees of every size around the classes'
    /// edges and every alignment up to 32: each block keeps its bytes until it is
    /// freed (no two live blocks overlap), is aligned, realloc keeps the prefix,
    /// zeroed blocks are zero, and dlmalloc accepts every block that goes back to it.
    #[test]
    fn blocks_stay_distinct_and_intact() {
        let mut heap = Cached::new(Dlmalloc::new());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut live: Vec<Live> = Vec::new();
        for step in 0..200_000u32 {
            let size = match rng.below(4) {
                0 => 1 + rng.below(32) as usize,
                1 => 1 + rng.below(300) as usize,
                2 => [16, 17, 31, 32, 255, 256, 257][rng.below(7) as usize],
                _ => 1 + rng.below(4000) as usize,
            };
            let align = 1 << rng.below(6);
            match rng.below(10) {
                0..=3 if live.len() < 2_000 => {
                    let layout = Layout::from_size_align(size, align).unwrap();
                    let zeroed = rng.below(4) == 0;
                    let ptr = unsafe {
                        if zeroed {
                            heap.alloc_zeroed(layout)
                        } else {
                            heap.alloc(layout)
                        }
                    };
                    assert!(!ptr.is_null());
                    assert_eq!(ptr as usize % align, 0, "step {step}");
                    let b = Live {
                        ptr,
                        layout,
                        fill: step as u8,
                    };
                    if zeroed {
                        assert!((0..size).all(|i| unsafe { *ptr.add(i) } == 0));
                    }
                    fill(&b);
                    live.push(b);
                }
                4..=5 if !live.is_empty() => {
                    let i = rng.below(live.len() as u64) as usize;
                    let b = &mut live[i];
                    let keep = b.layout.size().min(size);
                    let ptr = unsafe { heap.realloc(b.ptr, b.layout, size) };
                    assert!(!ptr.is_null());
                    b.ptr = ptr;
                    b.layout = Layout::from_size_align(size, b.layout.align()).unwrap();
                    assert_eq!(ptr as usize % b.layout.align(), 0);
                    assert!(intact(b, keep), "realloc lost bytes at step {step}");
                    b.fill = b.fill.wrapping_add(1);
                    fill(b);
                }
                _ if !live.is_empty() => {
                    let i = rng.below(live.len() as u64) as usize;
                    let b = live.swap_remove(i);
                    assert!(intact(&b, b.layout.size()), "overwritten at step {step}");
                    unsafe { heap.dealloc(b.ptr, b.layout) };
                }
                _ => {}
            }
        }
        for b in live {
            assert!(intact(&b, b.layout.size()));
            unsafe { heap.dealloc(b.ptr, b.layout) };
        }
    }

    #[test]
    fn classes_cover_sizes_up_to_256_at_dlmallocs_alignment() {
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(16, 8), Some(0));
        assert_eq!(class_of(17, 1), Some(1));
        assert_eq!(class_of(256, 4), Some(15));
        assert_eq!(class_of(257, 1), None);
        assert_eq!(class_of(8, CLASS_ALIGN * 2), None);
        assert_eq!(class_size(15), 256);
    }
}
