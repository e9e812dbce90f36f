//! berth-embedded's [`Platform`] on this board: embassy-time for timeouts, the Goldfish
//! RTC for wall-clock time, the UART for logs, the counting allocator's figures for
//! `memory`, a simulated pin bank for `gpio-*` (the `virt` board has no GPIO
//! controller); and the per-connection measurements it hangs on berth-embedded's shared
//! embassy-net listener.

use core::cell::Cell;
use core::fmt;

use berth_core::device::SimulatedPins;
use berth_core::host::Level;
use berth_embedded::embassy_tcp::ConnObserver;
use berth_embedded::{DeviceError, Platform};
use embassy_time::{Instant, Timer};

use crate::board;
use crate::heap::HEAP;
use crate::println;

/// Clock, log, randomness, heap figures and (simulated) pins of the virt board.
pub struct QemuPlatform {
    /// xorshift64* state.
    rng: critical_section::Mutex<Cell<u64>>,
    /// GPIO 0–31, in memory: `virt` has no GPIO controller to drive.
    pins: SimulatedPins,
}

impl QemuPlatform {
    /// Seeds the generator from the RTC and the timer.
    pub fn new() -> QemuPlatform {
        QemuPlatform {
            rng: critical_section::Mutex::new(Cell::new(
                (board::rtc_ns() ^ board::mtime().rotate_left(32)) | 1,
            )),
            pins: SimulatedPins::new(),
        }
    }
}

impl Platform for QemuPlatform {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    fn unix_ms(&self) -> u64 {
        board::rtc_ns() / 1_000_000
    }

    /// The virt board has no entropy source without virtio-rng: this is xorshift64*
    /// seeded from the RTC and the timer — fine for ids in tests, not for secrets.
    fn random_u64(&self) -> u64 {
        critical_section::with(|cs| {
            let cell = self.rng.borrow(cs);
            let mut x = cell.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            cell.set(x);
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        })
    }

    fn log(&self, plugin: &str, level: Level, message: fmt::Arguments<'_>) {
        if plugin.is_empty() {
            println!("{level:?} {message}");
        } else {
            println!("{level:?} {plugin}: {message}");
        }
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        Timer::at(Instant::from_millis(deadline_ms)).await
    }

    fn gpio_write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.pins.write(pin, high)
    }

    fn gpio_read(&self, pin: u8) -> Result<bool, DeviceError> {
        self.pins.read(pin)
    }

    fn heap_free(&self) -> Option<u64> {
        Some(HEAP.free() as u64)
    }

    fn heap_used(&self) -> Option<u64> {
        Some(HEAP.used() as u64)
    }
}

/// Reports, as each connection closes, the instructions it cost from accept to the last
/// byte of the response, and the heap's high-water mark: numbers `cargo xtask qemu` prints.
pub struct ConnStats;

impl ConnObserver for ConnStats {
    fn accepted(&self) -> u64 {
        board::instret()
    }

    fn closing(&self, started: u64) {
        let spent = board::instret() - started;
        println!(
            "conn: {spent} instructions from accept to response; heap {} bytes in use, high-water mark {} bytes",
            HEAP.used(),
            HEAP.peak()
        );
    }
}
