//! berth-embedded's [`Platform`] on the ESP32-C6: embassy-time (driven by esp-rtos) for
//! timeouts, the hardware RNG, and the serial console for logs.

use core::fmt;

use berth_core::host::Level;
use berth_embedded::Platform;
use embassy_time::{Instant, Timer};
use esp_hal::rng::Rng;
use esp_println::println;

/// Clock, randomness and log of the board.
pub struct EspPlatform {
    rng: Rng,
}

impl EspPlatform {
    /// The platform; the RNG needs no peripheral handle.
    pub fn new() -> EspPlatform {
        EspPlatform { rng: Rng::new() }
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
}
