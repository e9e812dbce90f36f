//! Berth's embedded host on an ESP32-C6.
//!
//! Boot: esp-hal and the heap → esp-rtos (scheduler, embassy time) → the plugin store
//! from the `plugins` flash partition (the committed one of its A/B slots) → wasmi
//! compiles, instantiates and sets up every plugin (logged one by one, then the free
//! heap; one that fails is skipped) → the admin endpoint when the store has an `[admin]
//! token` (plugins pushed over Wi-Fi are written to the partition) → Wi-Fi station with the credentials
//! built in (`BERTH_WIFI_SSID`, `BERTH_WIFI_PASSWORD`) and DHCP → berth-embedded's loop
//! on port 80, over the embassy-net adapter it shares with the QEMU image.
//!
//! Built without credentials, it loads the plugins, says so, and stays offline.

#![no_std]
#![no_main]

extern crate alloc;

mod flash;
mod gpio;
mod heap;
mod platform;
mod wifi;

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use berth_embedded::admin::DeviceStore;
use berth_embedded::embassy_tcp::EmbassyListener;
use berth_embedded::store_edit::Catalog;
use berth_embedded::{Admin, Options, PluginReader, Server, StoreIndex};
use berth_engine_wasmi::WasmiEngine;
use embassy_executor::Spawner;
use embassy_time::{Duration, Timer};
use esp_hal::clock::CpuClock;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;

use crate::gpio::Gpio;
use crate::platform::EspPlatform;

esp_bootloader_esp_idf::esp_app_desc!();

/// The HTTP port.
const PORT: u16 = 80;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("berth: panic: {info}");
    // Leave the message on the console for a moment, then start over.
    esp_hal::delay::Delay::new().delay_millis(5_000);
    esp_hal::system::software_reset()
}

#[esp_hal::main]
async fn main(spawner: Spawner) {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    heap::init();
    println!(
        "berth: {} on the ESP32-C6; heap {} bytes",
        env!("CARGO_PKG_VERSION"),
        heap::free()
    );
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    let free_pins = gpio::take_free_pins!(peripherals);
    let server = match load_plugins(peripherals.FLASH, free_pins) {
        Ok(server) => server,
        Err(why) => halt(&why).await,
    };

    let Some(creds) = wifi::credentials() else {
        println!(
            "berth: no Wi-Fi credentials were built in (set BERTH_WIFI_SSID and BERTH_WIFI_PASSWORD \
             when building); staying offline"
        );
        idle().await
    };
    let stack = match wifi::start(&spawner, peripherals.WIFI, &creds) {
        Ok(stack) => stack,
        Err(e) => halt(&format!("{e}")).await,
    };
    println!("berth: joining Wi-Fi network \"{}\"", creds.ssid);
    stack.wait_config_up().await;
    let addr = match stack.config_v4() {
        Some(config) => format!("{}:{PORT}", config.address.address()),
        None => format!("0.0.0.0:{PORT}"),
    };
    println!(
        "berth: serving on http://{addr}/; heap {} bytes used, {} free",
        heap::used(),
        heap::free()
    );
    let listener = EmbassyListener::new(stack, PORT, server.options().slots);
    server
        .run(&listener, &addr, core::future::pending::<()>())
        .await;
    halt("server stopped").await
}

/// Reads each plugin's file from the committed image just before it is compiled, into
/// one buffer sized for the largest.
struct FlashReader<'a> {
    store: &'a mut DeviceStore,
    index: &'a StoreIndex,
    buf: Vec<u8>,
}

impl PluginReader for FlashReader<'_> {
    fn read(&mut self, i: usize) -> Result<&[u8], alloc::string::String> {
        let plugin = self.index.plugins.get(i).ok_or("no such plugin")?;
        self.buf.clear();
        self.buf.resize(plugin.len, 0);
        self.store
            .read(plugin.offset, &mut self.buf)
            .map_err(|e| format!("{e}"))?;
        Ok(&self.buf)
    }
}

/// Reads the plugin store, prepares the pins its grants name, loads every plugin (one
/// that fails is skipped with a log line), turns the admin endpoint on when the store
/// has an `[admin] token`, logs them and the heap.
fn load_plugins(
    flash: esp_hal::peripherals::FLASH<'static>,
    free_pins: gpio::FreePins,
) -> Result<Server<EspPlatform>, alloc::string::String> {
    let (mut store, image, offset, size) = flash::open_store(flash).map_err(|e| format!("{e}"))?;
    let mut index = StoreIndex::of(&image).map_err(|e| format!("plugin store: {e}"))?;
    let image_len = image.len();
    println!(
        "berth: plugin store at {:#x} ({} of {} bytes): {} plugin(s)",
        offset,
        image_len,
        size,
        index.plugins.len()
    );
    drop(image);
    let gpio = Gpio::new(free_pins, index.granted_pins());
    let statics = core::mem::take(&mut index.statics);
    let catalog = index.admin.map(|_| Catalog::of(&index, image_len));
    let configs = index.take_configs();
    let sources = index.sources(configs);
    let mut read = FlashReader {
        store: &mut store,
        index: &index,
        buf: Vec::with_capacity(index.largest()),
    };
    let options = Options::device();
    let engine = Box::new(WasmiEngine::new(options.limits.engine()));
    let mut server = Server::boot_reading(
        &*engine,
        Arc::new(EspPlatform::new(gpio)),
        options,
        &sources,
        &mut read,
    )
    .map_err(|e| format!("{e}"))?;
    server.serve_static(statics).map_err(|e| format!("{e}"))?;
    drop(read);
    drop(sources);
    for plugin in &index.plugins {
        println!(
            "berth: stored plugin {} ({} bytes of Wasm)",
            plugin.name, plugin.len
        );
    }
    if let (Some(admin), Some(catalog)) = (index.admin, catalog) {
        let max = admin.max_upload as usize;
        server.enable_admin(Admin::new(admin.token_sha256, max, engine, store, catalog));
        println!("berth: admin endpoint on (/_berth/plugins), uploads up to {max} bytes");
    } else {
        // Nothing writes the store without the admin endpoint: its buffers go.
        drop(store);
    }
    let peak = heap::peak();
    drop(index);
    println!(
        "berth: heap after loading: {} bytes used, {} free (peak {} while loading)",
        heap::used(),
        heap::free(),
        peak
    );
    Ok(server)
}

/// Keeps the board alive without doing anything (no network, or a fatal error).
async fn idle() -> ! {
    loop {
        Timer::after(Duration::from_secs(3600)).await;
    }
}

/// Logs why the firmware cannot go on, then idles (the log stays readable on the console).
async fn halt(why: &str) -> ! {
    println!("berth: fatal: {why}");
    idle().await
}
