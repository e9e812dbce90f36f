//! The heap: esp-alloc over two regions of the ESP32-C6's 512 KiB of SRAM, and the
//! numbers the boot log and the device API report.
//!
//! - 64 KiB that the second-stage bootloader used (`dram2`, reclaimed once it is done);
//! - [`MAIN_HEAP`] bytes in `.bss`, as much as leaves the stack room (see docs/embedded.md's
//!   memory table).
//!
//! Everything dynamic lives here: the Wi-Fi driver's buffers and tasks (≈ 50 KiB), the
//! socket buffers (4 KiB per connection slot), and the plugins — each compiled wasmi
//! module, its instance and its linear memory (the bytes it uses: plugins are linked with
//! one-byte pages; see docs/embedded.md's tables).

/// Bytes of the main heap region, in `.bss`.
pub const MAIN_HEAP: usize = 352 * 1024;
/// Bytes reclaimed from the bootloader (`dram2_seg` in esp-hal's `memory.x`).
const RECLAIMED_HEAP: usize = 64 * 1024;

/// Hands both regions to esp-alloc. Call once, before anything allocates.
pub fn init() {
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: RECLAIMED_HEAP);
    esp_alloc::heap_allocator!(size: MAIN_HEAP);
}

/// Bytes allocated now.
pub fn used() -> usize {
    esp_alloc::HEAP.used()
}

/// Bytes free now (in all regions together: one allocation gets at most one region's
/// largest free block).
pub fn free() -> usize {
    esp_alloc::HEAP.free()
}

/// The most bytes ever allocated at once (esp-alloc's `internal-heap-stats`).
pub fn peak() -> usize {
    esp_alloc::HEAP.stats().max_usage
}
