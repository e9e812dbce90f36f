//! Device access for plugins: GPIO pins and memory figures (`gpio-write`, `gpio-read`,
//! `memory`, `memory-collect` in the WIT).
//!
//! A pin is a capability: a plugin may drive or read only the pins that
//! `[grants.<plugin>] gpio` lists ([`GpioGrant`]). [`crate::host::PluginHost`] checks
//! the grant, in this one place, before any host sees the call; hosts only implement
//! the hardware side ([`crate::host::HostApi::gpio_write`] and friends).
//!
//! Hosts without real pins (the desktop server, QEMU's `virt` board) use
//! [`SimulatedPins`]; the desktop hosts read their memory figures from Linux's `/proc`
//! with [`meminfo_available`] and [`status_rss`].

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

/// Why a device operation did not happen (the WIT's `device-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceError {
    /// `[grants.<plugin>] gpio` does not list the pin.
    NotGranted,
    /// This host has no GPIO (or not this operation).
    Unsupported,
    /// The pin is granted but the board has no such pin.
    NoSuchPin,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceError::NotGranted => "pin not granted to this plugin",
            DeviceError::Unsupported => "this host has no GPIO",
            DeviceError::NoSuchPin => "no such pin on this board",
        })
    }
}

impl core::error::Error for DeviceError {}

/// Memory figures in bytes (the WIT's `memory-stats`); 0 means the host cannot tell.
///
/// What each host reports: the desktop server and `--runtime embedded` on a desktop,
/// `used` = the process's resident set (`VmRSS`), `free` = the machine's available
/// memory (`MemAvailable`); bare-metal hosts, the bytes allocated from and left in
/// their heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStats {
    /// Bytes still available to allocate.
    pub free: u64,
    /// Bytes in use.
    pub used: u64,
}

/// The highest pin number a grant may name. No common microcontroller has more than 64
/// GPIOs, and it keeps a grant one `u64` (it is stored in the device's plugin image).
pub const MAX_PIN: u8 = 63;

/// A pin outside `0..=MAX_PIN` in a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinOutOfRange(pub u8);

impl fmt::Display for PinOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pin {} is out of range (0-{MAX_PIN})", self.0)
    }
}

impl core::error::Error for PinOutOfRange {}

/// The GPIO pins one plugin may use: a set of pin numbers `0..=63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpioGrant(u64);

impl GpioGrant {
    /// No pins at all (every plugin's grant unless the config says otherwise).
    pub const NONE: GpioGrant = GpioGrant(0);

    /// The grant for `pins`; a pin over [`MAX_PIN`] is an error.
    pub fn from_pins(pins: &[u8]) -> Result<GpioGrant, PinOutOfRange> {
        pins.iter().try_fold(GpioGrant::NONE, |g, &pin| {
            if pin > MAX_PIN {
                Err(PinOutOfRange(pin))
            } else {
                Ok(GpioGrant(g.0 | 1 << pin))
            }
        })
    }

    /// The grant from its bit set (bit `n` = pin `n`), as stored in a plugin image.
    pub const fn from_bits(bits: u64) -> GpioGrant {
        GpioGrant(bits)
    }

    /// The bit set (bit `n` = pin `n`).
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `pin` is granted.
    pub fn allows(self, pin: u8) -> bool {
        pin <= MAX_PIN && self.0 & (1 << pin) != 0
    }

    /// Whether no pin is granted.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The granted pins, ascending.
    pub fn pins(self) -> impl Iterator<Item = u8> {
        (0..=MAX_PIN).filter(move |&p| self.allows(p))
    }
}

/// An in-memory bank of [`SimulatedPins::COUNT`] pins, all low at start: the GPIO of
/// hosts that have none (the desktop server, QEMU's `virt` board). A write is seen by
/// every later read, from any plugin or thread.
#[derive(Debug, Default)]
pub struct SimulatedPins {
    levels: AtomicU32,
}

impl SimulatedPins {
    /// Pins `0..COUNT` exist (an ESP32-C6 has GPIO 0–30); others are `no-such-pin`.
    pub const COUNT: u8 = 32;

    /// A bank with every pin low.
    pub const fn new() -> SimulatedPins {
        SimulatedPins {
            levels: AtomicU32::new(0),
        }
    }

    fn bit(pin: u8) -> Result<u32, DeviceError> {
        if pin < Self::COUNT {
            Ok(1 << pin)
        } else {
            Err(DeviceError::NoSuchPin)
        }
    }

    /// Drives `pin` high or low.
    pub fn write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        let bit = Self::bit(pin)?;
        if high {
            self.levels.fetch_or(bit, Ordering::SeqCst);
        } else {
            self.levels.fetch_and(!bit, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The level of `pin`: what was last written (low before any write).
    pub fn read(&self, pin: u8) -> Result<bool, DeviceError> {
        let bit = Self::bit(pin)?;
        Ok(self.levels.load(Ordering::SeqCst) & bit != 0)
    }
}

/// A `<key>: <n> kB` line of a `/proc` file, in bytes.
fn proc_kib(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let kib = rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
        kib.checked_mul(1024)
    })
}

/// `MemAvailable` from the text of Linux's `/proc/meminfo`, in bytes: what the machine
/// can still hand out without swapping.
pub fn meminfo_available(text: &str) -> Option<u64> {
    proc_kib(text, "MemAvailable")
}

/// `VmRSS` from the text of Linux's `/proc/self/status`, in bytes: the process's
/// resident memory.
pub fn status_rss(text: &str) -> Option<u64> {
    proc_kib(text, "VmRSS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_hold_exactly_their_pins() {
        let g = GpioGrant::from_pins(&[2, 8, 63]).unwrap();
        assert!(g.allows(2) && g.allows(8) && g.allows(63));
        assert!(!g.allows(3) && !g.allows(0) && !g.allows(64) && !g.allows(255));
        assert_eq!(g.pins().collect::<alloc::vec::Vec<_>>(), [2, 8, 63]);
        assert_eq!(GpioGrant::from_bits(g.bits()), g);
        assert_eq!(GpioGrant::from_pins(&[2, 64]), Err(PinOutOfRange(64)));
        assert!(GpioGrant::NONE.is_empty() && !GpioGrant::NONE.allows(0));
    }

    #[test]
    fn simulated_pins_remember_levels() {
        let pins = SimulatedPins::new();
        assert_eq!(pins.read(2), Ok(false));
        pins.write(2, true).unwrap();
        pins.write(3, true).unwrap();
        pins.write(3, false).unwrap();
        assert_eq!((pins.read(2), pins.read(3)), (Ok(true), Ok(false)));
        assert_eq!(pins.write(32, true), Err(DeviceError::NoSuchPin));
        assert_eq!(pins.read(40), Err(DeviceError::NoSuchPin));
    }

    #[test]
    fn proc_figures_parse() {
        let meminfo =
            "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   22000000 kB\n";
        assert_eq!(meminfo_available(meminfo), Some(22_000_000 * 1024));
        let status = "Name:\tberth\nVmPeak:\t  9000 kB\nVmRSS:\t    38208 kB\n";
        assert_eq!(status_rss(status), Some(38_208 * 1024));
        assert_eq!(status_rss("VmRSSX: 1 kB\n"), None);
        assert_eq!(meminfo_available("MemAvailable: lots\n"), None);
    }
}
