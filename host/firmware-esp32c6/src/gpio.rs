//! The board's GPIO behind the device API (`gpio-write`, `gpio-read`).
//!
//! Only pins that a plugin in the store was granted (`[grants.<plugin>] gpio`, packed
//! with it) are touched: at boot each of them becomes a push-pull output with its input
//! buffer on, so a read returns the pad's real level. Every other pin keeps its reset
//! state. berth-core has already checked the calling plugin's own grant before a call
//! gets here.
//!
//! The pins a grant may name are those the ESP32-C6-DevKitC-1 leaves free (see
//! [`take_free_pins`]); a grant for any other pin (the SPI flash, the USB and console pins, a
//! number the chip lacks) answers `no-such-pin`.

use core::cell::RefCell;

use berth_embedded::{DeviceError, GpioGrant};
use critical_section::Mutex;
use esp_hal::gpio::{AnyPin, Flex, Level, OutputConfig};

/// GPIO numbers of the chip: 0–30.
const COUNT: usize = 31;

/// The pins a plugin may be granted, by number.
pub type FreePins = [Option<AnyPin<'static>>; COUNT];

/// Moves the DevKitC-1's free pins out of `esp_hal::init`'s peripherals (the others stay
/// usable): GPIO 0–11, 14, 15 and 18–23. Left out: 12 and 13 (USB), 16 and 17 (UART0,
/// the console), 24–30 (the module's SPI flash).
macro_rules! take_free_pins {
    ($p:ident) => {
        $crate::gpio::take_free_pins!($p:
            0 => GPIO0, 1 => GPIO1, 2 => GPIO2, 3 => GPIO3, 4 => GPIO4, 5 => GPIO5,
            6 => GPIO6, 7 => GPIO7, 8 => GPIO8, 9 => GPIO9, 10 => GPIO10, 11 => GPIO11,
            14 => GPIO14, 15 => GPIO15, 18 => GPIO18, 19 => GPIO19, 20 => GPIO20,
            21 => GPIO21, 22 => GPIO22, 23 => GPIO23,
        )
    };
    ($p:ident: $($n:literal => $field:ident),* $(,)?) => {{
        use esp_hal::gpio::Pin as _;
        let mut pins: $crate::gpio::FreePins = [const { None }; 31];
        $( pins[$n] = Some($p.$field.degrade()); )*
        pins
    }};
}
pub(crate) use take_free_pins;

/// The granted pins, ready to drive and read.
pub struct Gpio {
    pins: Mutex<RefCell<[Option<Flex<'static>>; COUNT]>>,
}

impl Gpio {
    /// Configures every pin of `granted` that is free; the rest of `free` is dropped
    /// untouched.
    pub fn new(mut free: FreePins, granted: GpioGrant) -> Gpio {
        let mut pins = [const { None }; COUNT];
        for n in granted.pins() {
            let Some(pin) = free.get_mut(usize::from(n)).and_then(Option::take) else {
                continue;
            };
            let mut flex = Flex::new(pin);
            flex.apply_output_config(&OutputConfig::default());
            flex.set_level(Level::Low);
            flex.set_output_enable(true);
            flex.set_input_enable(true);
            pins[usize::from(n)] = Some(flex);
        }
        Gpio {
            pins: Mutex::new(RefCell::new(pins)),
        }
    }

    /// Drives `pin` high or low.
    pub fn write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.with(pin, |flex| flex.set_level(Level::from(high)))
    }

    /// The pad's level.
    pub fn read(&self, pin: u8) -> Result<bool, DeviceError> {
        self.with(pin, |flex| flex.is_high())
    }

    fn with<R>(&self, pin: u8, f: impl FnOnce(&mut Flex<'static>) -> R) -> Result<R, DeviceError> {
        critical_section::with(|cs| {
            let mut pins = self.pins.borrow(cs).borrow_mut();
            match pins.get_mut(usize::from(pin)).and_then(Option::as_mut) {
                Some(flex) => Ok(f(flex)),
                None => Err(DeviceError::NoSuchPin),
            }
        })
    }
}
