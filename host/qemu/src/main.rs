//! Berth's embedded host, bare metal on `qemu-system-riscv32 -machine virt`.
//!
//! Boot: heap → plugin store from the virtio-blk drive → wasmi compiles, instantiates and
//! sets up every plugin → embassy-net on virtio-net (10.0.2.15/24, QEMU user networking)
//! → berth-embedded's loop on port 80. The UART reports the heap after loading, and at
//! every connection's end the instructions it cost and the heap's high-water mark.
//! `cargo xtask qemu` builds, packs, boots and tests it.

#![no_std]
#![no_main]

extern crate alloc;

mod board;
mod boot;
mod heap;
mod platform;
mod profile;
mod virtio;

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use berth_embedded::embassy_tcp::EmbassyListener;
use berth_embedded::{Options, PluginSource, Server};
use berth_engine_wasmi::WasmiEngine;
use embassy_net::{Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use static_cell::StaticCell;
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::DeviceType;

use crate::heap::HEAP;
use crate::platform::{ConnStats, QemuPlatform};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!(
        "panic: {info} (heap: {} of {} bytes in use)",
        HEAP.used(),
        HEAP.size()
    );
    loop {
        board::idle(1_000_000);
    }
}

/// Runs `fut` to completion: poll, and when it is pending, sleep until the next timer
/// tick (1 ms). Every future is polled after every wake-up, so wakers are not needed.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        board::idle(1_000);
    }
}

/// Reads the plugin store image from the virtio-blk drive.
fn read_store() -> Result<Vec<u8>, &'static str> {
    let transport = virtio::find(DeviceType::Block).ok_or("no virtio-blk drive")?;
    let mut blk = VirtIOBlk::<virtio::HalImpl, _>::new(transport).map_err(|_| "virtio-blk init")?;
    let mut first = vec![0u8; SECTOR_SIZE];
    blk.read_blocks(0, &mut first)
        .map_err(|_| "read sector 0")?;
    let len =
        berth_embedded::store::image_len(&first).map_err(|_| "no plugin image on the drive")?;
    let sectors = len.div_ceil(SECTOR_SIZE);
    if sectors as u64 > blk.capacity() {
        return Err("plugin image is larger than the drive");
    }
    let mut image = vec![0u8; sectors * SECTOR_SIZE];
    blk.read_blocks(0, &mut image)
        .map_err(|_| "read plugin image")?;
    image.truncate(len);
    Ok(image)
}

#[riscv_rt::entry]
fn main() -> ! {
    let boot = boot::read();
    HEAP.init(boot.heap);
    println!("berth-qemu: booting; heap {} bytes", HEAP.size());
    let image = match read_store() {
        Ok(image) => image,
        Err(e) => halt(e),
    };
    let stored = match berth_embedded::store::parse(&image) {
        Ok(stored) => stored,
        Err(e) => halt_fmt(format_args!("plugin store: {e}")),
    };
    println!(
        "berth-qemu: plugin store read: {} bytes; heap used {} bytes",
        image.len(),
        HEAP.used()
    );
    let sources: Vec<PluginSource<'_>> = stored.plugins.iter().map(PluginSource::from).collect();
    let platform = Arc::new(QemuPlatform::new());
    let options = Options::device();
    let engine = WasmiEngine::new(options.limits.engine());
    if boot.profile {
        profile::run(&engine, &platform, &options, &sources);
    }
    let started = board::instret();
    let mut server = match Server::new(&engine, platform, options, &sources) {
        Ok(s) => s,
        Err(e) => halt_fmt(format_args!("{e}")),
    };
    if let Err(e) = server.serve_static(berth_embedded::StaticConfig::from_image(&stored)) {
        halt_fmt(format_args!("{e}"));
    }
    let load_instructions = board::instret() - started;
    let names: Vec<alloc::string::String> = sources.iter().map(|s| s.name.into()).collect();
    drop(sources);
    drop(stored);
    drop(image);
    println!(
        "berth-qemu: loaded {} plugin(s) {:?} in {} instructions; heap used {} bytes (peak {} while loading)",
        names.len(),
        names,
        load_instructions,
        HEAP.used(),
        HEAP.peak()
    );
    HEAP.reset_peak();

    let Some(nic) = virtio::find(DeviceType::Network).and_then(virtio::NetDriver::new) else {
        halt("no virtio-net device");
    };
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::new(10, 0, 2, 15), 24),
        gateway: Some(Ipv4Address::new(10, 0, 2, 2)),
        dns_servers: Default::default(),
    });
    static RESOURCES: StaticCell<StackResources<8>> = StaticCell::new();
    let seed = board::rtc_ns() ^ board::mtime();
    let (stack, mut runner) =
        embassy_net::new(nic, config, RESOURCES.init(StackResources::new()), seed);
    let listener = EmbassyListener::new(stack, 80, server.options().slots).observed(ConnStats);
    println!("berth-qemu: serving on 10.0.2.15:80");
    block_on(embassy_futures::join::join(
        runner.run(),
        server.run(&listener, "10.0.2.15:80", core::future::pending::<()>()),
    ));
    halt("server stopped")
}

fn halt(why: &str) -> ! {
    halt_fmt(format_args!("{why}"))
}

fn halt_fmt(why: core::fmt::Arguments<'_>) -> ! {
    println!("berth-qemu: fatal: {why}");
    loop {
        board::idle(1_000_000);
    }
}
