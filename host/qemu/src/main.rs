//! Berth's embedded host, bare metal on `qemu-system-riscv32 -machine virt`.
//!
//! Boot: heap → plugin store from the virtio-blk drive (its A/B slots: the last
//! committed image) → wasmi compiles, instantiates and sets up every plugin (one that
//! fails is skipped with a log line) → the admin endpoint when the store has an `[admin]
//! token` (plugins pushed to the drive) → embassy-net on virtio-net (10.0.2.15/24, QEMU
//! user networking) → berth-embedded's loop on port 80. The UART reports the heap after loading, and at
//! every connection's end the instructions it cost and the heap's high-water mark.
//! `cargo xtask qemu` builds, packs, boots and tests it.

#![no_std]
#![no_main]

extern crate alloc;

mod board;
mod boot;
mod drive;
mod heap;
mod platform;
mod profile;
mod virtio;

use alloc::sync::Arc;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use alloc::boxed::Box;
use berth_embedded::embassy_tcp::EmbassyListener;
use berth_embedded::store_edit::Catalog;
use berth_embedded::{Admin, Options, Server};
use berth_engine_wasmi::WasmiEngine;
use embassy_net::{Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use static_cell::StaticCell;
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

#[riscv_rt::entry]
fn main() -> ! {
    let boot = boot::read();
    HEAP.init(boot.heap);
    println!("berth-qemu: booting; heap {} bytes", HEAP.size());
    let (mut store, mut index, image_len) = match drive::open_store() {
        Ok(opened) => opened,
        Err(e) => halt(&e),
    };
    let statics = core::mem::take(&mut index.statics);
    // What the admin endpoint needs to rewrite the image (configs included).
    let catalog = index.admin.map(|_| Catalog::of(&index, image_len));
    let configs = index.take_configs();
    let sources = index.sources(configs);
    let mut read = drive::StoreReader::new(&mut store, &index);
    let platform = Arc::new(QemuPlatform::new());
    let options = Options::device();
    let engine = Box::new(WasmiEngine::new(options.limits.engine()));
    if boot.profile {
        profile::run(&*engine, &platform, &options, &sources, &mut read);
    }
    let started = board::instret();
    let mut server = match Server::boot_reading(&*engine, platform, options, &sources, &mut read) {
        Ok(s) => s,
        Err(e) => halt_fmt(format_args!("{e}")),
    };
    if let Err(e) = server.serve_static(statics) {
        halt_fmt(format_args!("{e}"));
    }
    let load_instructions = board::instret() - started;
    drop(read);
    drop(sources);
    for plugin in &index.plugins {
        println!(
            "berth-qemu: plugin {} ({} bytes of Wasm)",
            plugin.name, plugin.len
        );
    }
    let count = server.app().plugins().len();
    if let (Some(admin), Some(catalog)) = (index.admin, catalog) {
        let max = admin.max_upload as usize;
        let admin = Admin::new(admin.token_sha256, max, engine, store, catalog);
        server.enable_admin(admin);
        println!("berth-qemu: admin endpoint on (/_berth/plugins), uploads up to {max} bytes");
    } else {
        // Nothing writes the store without the admin endpoint: its buffers go.
        drop(store);
    }
    drop(index);
    println!(
        "berth-qemu: loaded {count} plugin(s) in {load_instructions} instructions; heap used {} bytes (peak {} while loading)",
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
    println!(
        "berth-qemu: serving on 10.0.2.15:80; heap used {} bytes (network and sockets included)",
        HEAP.used()
    );
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
