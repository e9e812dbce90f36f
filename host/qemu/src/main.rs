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
use berth_embedded::{Options, PluginReader, PluginSource, Server};
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
    /// Where each plugin's bytes lie on the drive: (offset, length).
    files: &'d [(usize, usize)],
    buf: Vec<u8>,
}

impl<'d> StoreReader<'d> {
    fn new(drive: &'d mut Drive, files: &'d [(usize, usize)]) -> StoreReader<'d> {
        let largest = files.iter().map(|&(_, len)| len).max().unwrap_or(0);
        StoreReader {
            drive,
            files,
            buf: Vec::with_capacity(largest + 2 * SECTOR_SIZE),
        }
    }
}

impl PluginReader for StoreReader<'_> {
    fn read(&mut self, index: usize) -> Result<&[u8], String> {
        let (offset, len) = self.files.get(index).copied().ok_or("no such plugin")?;
        self.drive
            .read_into(offset, len, &mut self.buf)
            .map_err(String::from)
    }
}

/// What loading needs of the store besides the plugins' bytes, owned, so that the image
/// is dropped before the plugins load and each plugin's file is read from the drive
/// just before it is compiled: the loading peak then holds one file, not the store.
struct Index {
    names: Vec<String>,
    configs: Vec<berth_core::model::Pairs>,
    gpio: Vec<berth_embedded::GpioGrant>,
    /// Where each plugin's bytes lie on the drive: (offset, length).
    files: Vec<(usize, usize)>,
    statics: berth_embedded::StaticConfig,
}

/// Reads and checks the whole store once (magic, CRC, every length), keeps its index.
fn read_index(drive: &mut Drive) -> Result<Index, String> {
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
    let stored = berth_embedded::store::parse(&image).map_err(|e| format!("plugin store: {e}"))?;
    let base = image.as_ptr() as usize;
    let index = Index {
        names: stored.plugins.iter().map(|e| e.name.into()).collect(),
        configs: stored.plugins.iter().map(|e| e.config.clone()).collect(),
        gpio: stored.plugins.iter().map(|e| e.gpio).collect(),
        files: stored
            .plugins
            .iter()
            .map(|e| (e.wasm.as_ptr() as usize - base, e.wasm.len()))
            .collect(),
        statics: berth_embedded::StaticConfig::from_image(&stored),
    };
    Ok(index)
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
    let index = match read_index(&mut drive) {
        Ok(index) => index,
        Err(e) => halt(&e),
    };
    let Index {
        names,
        configs,
        gpio,
        files,
        statics,
    } = index;
    let sources: Vec<PluginSource<'_>> = names
        .iter()
        .zip(configs)
        .zip(gpio)
        .map(|((name, config), gpio)| PluginSource {
            name,
            bytes: &[],
            config,
            gpio,
        })
        .collect();
    let mut read = StoreReader::new(&mut drive, &files);
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
