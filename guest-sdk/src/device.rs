//! The device the host runs on: GPIO pins and memory figures (seed 002's
//! `machine.Pin(n).value(v)`, `gc.mem_free()` and `gc.collect()`).
//!
//! Pins are capabilities: the operator grants each plugin its pins in `berth.toml`
//! (`[grants.<plugin>] gpio = [2]`); any other pin is [`DeviceError::NotGranted`], and the
//! host logs the refusal. The desktop server simulates its pins in memory (and logs
//! every write), so a plugin behaves the same on a laptop and on a board.
//!
//! ```no_run
//! use berth_sdk::device::{self, DeviceError};
//!
//! match device::gpio_write(2, true) {
//!     Ok(()) => {}
//!     Err(DeviceError::NotGranted) => { /* ask the operator for [grants.<plugin>] gpio */ }
//!     Err(e) => berth_sdk::warn!("LED: {}", device::error_message(e)),
//! }
//! let on = device::gpio_read(2).unwrap_or(false);
//! let before = device::memory().free;
//! device::collect();
//! let freed = device::memory().free as i64 - before as i64;
//! ```

use crate::host;

pub use crate::bindings::berth::plugin::host::{DeviceError, MemoryStats};

/// Drives GPIO `pin` high (`true`) or low.
///
/// Errors: [`DeviceError::NotGranted`] when the config does not grant `pin` to this
/// plugin, [`DeviceError::NoSuchPin`] when the board has no such pin,
/// [`DeviceError::Unsupported`] on a host without GPIO.
pub fn gpio_write(pin: u8, high: bool) -> Result<(), DeviceError> {
    host::gpio_write(pin, high)
}

/// The level of GPIO `pin` (an output reads back what was last written). Errors as for
/// [`gpio_write`].
pub fn gpio_read(pin: u8) -> Result<bool, DeviceError> {
    host::gpio_read(pin)
}

/// The host's memory figures in bytes (0 where the host cannot tell). On the desktop
/// server `used` is the process's resident set and `free` the machine's available
/// memory; on a board, what is allocated from and left in the heap.
pub fn memory() -> MemoryStats {
    host::memory()
}

/// Asks the host to release what it keeps only for speed (seed 002's `gc.collect()`):
/// the desktop server drops idle warm instances beyond one per plugin. Nothing a plugin
/// relies on goes away.
pub fn collect() {
    host::memory_collect()
}

/// A short English sentence for `e`, for logs and error responses.
pub fn error_message(e: DeviceError) -> &'static str {
    match e {
        DeviceError::NotGranted => "GPIO pin not granted to this plugin",
        DeviceError::Unsupported => "this host has no GPIO",
        DeviceError::NoSuchPin => "no such GPIO pin on this board",
    }
}
