//! berth-embedded's [`Platform`] on the ESP32-C6: embassy-time (driven by esp-rtos) for
//! timeouts, the hardware RNG, the serial console for logs, the granted GPIO pins
//! ([`Gpio`]) and esp-alloc's heap figures.

use core::fmt;

use berth_core::host::Level;
use berth_embedded::{DeviceError, Platform};
use embassy_time::{Instant, Timer};
use esp_hal::rng::Rng;
use esp_println::println;

use crate::gpio::Gpio;
use crate::heap;

/// Clock, randomness, log, pins and heap of the board.
pub struct EspPlatform {
    rng: Rng,
    gpio: Gpio,
}

impl EspPlatform {
    /// The platform over the granted pins; the RNG needs no peripheral handle.
    pub fn new(gpio: Gpio) -> EspPlatform {
        EspPlatform {
            rng: Rng::new(),
            gpio,
        }
    }
}

impl Platform for EspPlatform {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    /// The board has no battery-backed clock and the firmware does not ask a time server
    /// yet, so "wall-clock" time is milliseconds since boot (the trait allows this).
    fn unix_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    /// The hardware RNG. It is a true random source while the radio runs (Wi-Fi mixes RF
    /// noise in); on a board left offline (no credentials) it is only pseudo-random.
    fn random_u64(&self) -> u64 {
        (u64::from(self.rng.random()) << 32) | u64::from(self.rng.random())
    }

    fn log(&self, plugin: &str, level: Level, message: fmt::Arguments<'_>) {
        // Seconds since boot, to the millisecond (integers: float formatting costs flash).
        let ms = Instant::now().as_millis();
        let (s, ms) = (ms / 1000, ms % 1000);
        if plugin.is_empty() {
            println!("[{s:6}.{ms:03}] {level:?} {message}");
        } else {
            println!("[{s:6}.{ms:03}] {level:?} [{plugin}] {message}");
        }
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        Timer::at(Instant::from_millis(deadline_ms)).await
    }

    fn gpio_write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.gpio.write(pin, high)
    }

    fn gpio_read(&self, pin: u8) -> Result<bool, DeviceError> {
        self.gpio.read(pin)
    }

    fn heap_free(&self) -> Option<u64> {
        Some(heap::free() as u64)
    }

    fn heap_used(&self) -> Option<u64> {
        Some(heap::used() as u64)
    }
}
