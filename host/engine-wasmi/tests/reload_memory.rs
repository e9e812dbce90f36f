//! A module replaced many times — a live reload on the server, a push to a device —
//! must give its memory back: what the engine holds after the 40th compile-and-drop
//! is what it held after the 4th.
//!
//! wasmi's engine keeps every function it compiled (or will translate lazily) until
//! the engine itself is dropped, so this fails when one engine is shared by every
//! module.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use berth_core::engine::Engine;
use berth_engine_wasmi::WasmiEngine;
use common::{get, guest_component, host, limits};
use futures_lite::future::block_on;

/// Counts the bytes live on the heap of this test binary.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is kept.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Compiles the guest, instantiates it, serves one request (so functions get
/// translated), and drops it all.
fn load_serve_drop(engine: &WasmiEngine) {
    let module = engine.compile(guest_component()).expect("compile");
    let (_, plugin_host) = host();
    let mut instance = module.instantiate(plugin_host).expect("instantiate");
    let _registration = block_on(instance.setup(&Vec::new())).expect("setup");
    block_on(instance.handle(1, &get("/hello"))).expect("hello");
}

#[test]
fn a_replaced_module_gives_its_memory_back() {
    let component_len = guest_component().len() as isize;
    let engine = WasmiEngine::new(limits());
    for _ in 0..4 {
        load_serve_drop(&engine);
    }
    let settled = LIVE.load(Ordering::Relaxed);
    for _ in 0..36 {
        load_serve_drop(&engine);
    }
    let grown = LIVE.load(Ordering::Relaxed) - settled;
    // 36 leaked modules would be dozens of times the component; allow a fraction of one
    // for the allocator's and the test harness's own noise.
    assert!(
        grown < component_len / 4,
        "36 more loads kept {grown} more bytes (the component is {component_len} bytes)"
    );
}
