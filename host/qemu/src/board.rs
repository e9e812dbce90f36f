//! The `virt` board: UART 16550 console, CLINT timer, Goldfish RTC, and the
//! embassy-time driver on top of the CLINT's `mtime` (10 MHz).

use core::fmt::{self, Write};
use core::task::Waker;

const UART: *mut u8 = 0x1000_0000 as *mut u8;
const MTIME: *const u32 = 0x0200_BFF8 as *const u32;
const MTIMECMP: *mut u32 = 0x0200_4000 as *mut u32;
const RTC: *const u32 = 0x0010_1000 as *const u32;
/// `mtime` ticks per microsecond (the virt board's timebase is 10 MHz).
const TICKS_PER_US: u64 = 10;

/// Writes to the UART (polled; QEMU's 16550 never makes us wait).
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            // SAFETY: the virt board's UART transmit register.
            unsafe { UART.write_volatile(b) };
        }
        Ok(())
    }
}

/// `println!` on the UART.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::board::Console, $($arg)*);
    }};
}

/// The 64-bit `mtime`.
pub fn mtime() -> u64 {
    loop {
        // SAFETY: CLINT registers of the virt board.
        let (hi, lo, hi2) = unsafe {
            (
                MTIME.add(1).read_volatile(),
                MTIME.read_volatile(),
                MTIME.add(1).read_volatile(),
            )
        };
        if hi == hi2 {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

/// Unix time in nanoseconds from the Goldfish RTC (reading the low word latches the high).
pub fn rtc_ns() -> u64 {
    // SAFETY: Goldfish RTC registers of the virt board.
    unsafe {
        let lo = RTC.read_volatile();
        let hi = RTC.add(1).read_volatile();
        (u64::from(hi) << 32) | u64::from(lo)
    }
}

/// Retired instructions (exact under `-icount`).
pub fn instret() -> u64 {
    riscv::register::minstret::read64()
}

/// Sleeps until the next timer tick (at most `us` microseconds) with `wfi`: the timer
/// interrupt is enabled in `mie` but not globally, so it wakes the hart without a trap.
pub fn idle(us: u64) {
    let at = mtime() + us * TICKS_PER_US;
    // SAFETY: CLINT registers; writing the high word as all-ones first avoids a spurious
    // match while the low word changes.
    unsafe {
        MTIMECMP.add(1).write_volatile(u32::MAX);
        MTIMECMP.write_volatile(at as u32);
        MTIMECMP.add(1).write_volatile((at >> 32) as u32);
        riscv::register::mie::set_mtimer();
        riscv::asm::wfi();
        riscv::register::mie::clear_mtimer();
    }
}

struct Driver;

impl embassy_time_driver::Driver for Driver {
    fn now(&self) -> u64 {
        mtime() / TICKS_PER_US
    }

    // The executor polls every future after every wake-up of the hart (see `main`), so a
    // timer only has to be due, not scheduled.
    fn schedule_wake(&self, _at: u64, _waker: &Waker) {}
}

embassy_time_driver::time_driver_impl!(static DRIVER: Driver = Driver);
