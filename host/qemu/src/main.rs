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

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use berth_embedded::embassy_tcp::EmbassyListener;
use berth_embedded::{Options, PluginReader, Server, StoreIndex};
use berth_engine_wasmi::WasmiEngine;
use embassy_net::{Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use static_cell::StaticCell;
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::MmioTransport;
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

/// The plugin store's drive (virtio-blk), read by byte range.
struct Drive(VirtIOBlk<virtio::HalImpl, MmioTransport<'static>>);

impl Drive {
    fn open() -> Result<Drive, &'static str> {
        let transport = virtio::find(DeviceType::Block).ok_or("no virtio-blk drive")?;
        VirtIOBlk::new(transport)
            .map(Drive)
            .map_err(|_| "virtio-blk init")
    }

    /// `len` bytes at `offset`, read (as whole sectors) into `buf`.
    fn read_into<'b>(
        &mut self,
        offset: usize,
        len: usize,
        buf: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], &'static str> {
        let (first, skip) = (offset / SECTOR_SIZE, offset % SECTOR_SIZE);
        let sectors = (skip + len).div_ceil(SECTOR_SIZE);
        if (first + sectors) as u64 > self.0.capacity() {
            return Err("plugin image is larger than the drive");
        }
        buf.clear();
        buf.resize(sectors * SECTOR_SIZE, 0);
        self.0
            .read_blocks(first, buf)
            .map_err(|_| "cannot read the drive")?;
        Ok(&buf[skip..skip + len])
    }

    /// `len` bytes at `offset`.
    fn read(&mut self, offset: usize, len: usize) -> Result<Vec<u8>, &'static str> {
        let mut buf = Vec::new();
        self.read_into(offset, len, &mut buf)?;
        buf.drain(..offset % SECTOR_SIZE);
        buf.truncate(len);
        Ok(buf)
    }
}

/// Reads the plugins' files from the drive at load, one at a time, into one buffer
/// allocated up front for the largest (so the heap gets one hole, not one per plugin).
struct StoreReader<'d> {
    drive: &'d mut Drive,
    index: &'d StoreIndex,
    buf: Vec<u8>,
}

impl<'d> StoreReader<'d> {
    fn new(drive: &'d mut Drive, index: &'d StoreIndex) -> StoreReader<'d> {
        StoreReader {
            drive,
            index,
            buf: Vec::with_capacity(index.largest() + 2 * SECTOR_SIZE),
        }
    }
}

impl PluginReader for StoreReader<'_> {
    fn read(&mut self, i: usize) -> Result<&[u8], String> {
        let plugin = self.index.plugins.get(i).ok_or("no such plugin")?;
        self.drive
            .read_into(plugin.offset, plugin.len, &mut self.buf)
            .map_err(String::from)
    }
}

/// Reads and checks the whole store once (magic, CRC, every length) and keeps its index:
/// the image is dropped before the plugins load.
fn read_index(drive: &mut Drive) -> Result<StoreIndex, String> {
    let header = drive.read(0, SECTOR_SIZE)?;
    let len =
        berth_embedded::store::image_len(&header).map_err(|_| "no plugin image on the drive")?;
    drop(header);
    let image = drive.read(0, len)?;
    println!(
        "berth-qemu: plugin store read: {} bytes; heap used {} bytes",
        image.len(),
        HEAP.used()
    );
    StoreIndex::of(&image).map_err(|e| format!("plugin store: {e}"))
}

#[riscv_rt::entry]
fn main() -> ! {
    let boot = boot::read();
    HEAP.init(boot.heap);
    println!("berth-qemu: booting; heap {} bytes", HEAP.size());
    let mut drive = match Drive::open() {
        Ok(drive) => drive,
        Err(e) => halt(e),
    };
    let mut index = match read_index(&mut drive) {
        Ok(index) => index,
        Err(e) => halt(&e),
    };
    let statics = core::mem::take(&mut index.statics);
    let configs = index.take_configs();
    let sources = index.sources(configs);
    let mut read = StoreReader::new(&mut drive, &index);
    let platform = Arc::new(QemuPlatform::new());
    let options = Options::device();
    let engine = WasmiEngine::new(options.limits.engine());
    if boot.profile {
        profile::run(&engine, &platform, &options, &sources, &mut read);
    }
    let started = board::instret();
    let mut server = match Server::new_reading(&engine, platform, options, &sources, &mut read) {
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
    let count = index.plugins.len();
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
