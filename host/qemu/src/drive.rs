//! The plugin store's drive: virtio-blk as berth-embedded's [`BlockDevice`] (512-byte
//! sectors), under its power-safe A/B store ([`berth_embedded::slots`]); and the
//! [`PluginReader`] that reads each plugin from the active image just before it is
//! compiled, into one buffer allocated up front for the largest (so the heap gets one
//! hole, not one per plugin).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use berth_embedded::admin::DeviceStore;
use berth_embedded::block::{BlockDevice, BlockError};
use berth_embedded::slots::AbStore;
use berth_embedded::{PluginReader, StoreIndex};
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::DeviceType;

use crate::heap::HEAP;
use crate::{println, virtio};

/// The virtio-blk drive.
pub struct Drive(VirtIOBlk<virtio::HalImpl, MmioTransport<'static>>);

impl Drive {
    /// The first virtio-blk device.
    pub fn open() -> Result<Drive, &'static str> {
        let transport = virtio::find(DeviceType::Block).ok_or("no virtio-blk drive")?;
        VirtIOBlk::new(transport)
            .map(Drive)
            .map_err(|_| "virtio-blk init")
    }
}

impl BlockDevice for Drive {
    fn sector_size(&self) -> usize {
        SECTOR_SIZE
    }

    fn sectors(&self) -> usize {
        self.0.capacity() as usize
    }

    fn read(&mut self, sector: usize, buf: &mut [u8]) -> Result<(), BlockError> {
        if sector + buf.len() / SECTOR_SIZE > self.sectors() {
            return Err(BlockError::OutOfRange);
        }
        self.0.read_blocks(sector, buf).map_err(|_| BlockError::Io)
    }

    fn write(&mut self, sector: usize, data: &[u8]) -> Result<(), BlockError> {
        if sector + data.len() / SECTOR_SIZE > self.sectors() {
            return Err(BlockError::OutOfRange);
        }
        self.0
            .write_blocks(sector, data)
            .map_err(|_| BlockError::Io)
    }

    fn flush(&mut self) -> Result<(), BlockError> {
        self.0.flush().map_err(|_| BlockError::Io)
    }
}

/// Opens the A/B store on the drive, reads and checks its active image once (magic,
/// CRC, every length) and keeps its index: the image is dropped before the plugins load.
pub fn open_store() -> Result<(DeviceStore, StoreIndex, usize), String> {
    let drive = Drive::open()?;
    let mut store =
        AbStore::open(Box::new(drive) as Box<dyn BlockDevice>).map_err(|e| format!("{e}"))?;
    let active = store
        .active()
        .ok_or("no committed plugin image on the drive (cargo xtask qemu writes one)")?;
    let mut image = vec![0; active.len];
    store.read(0, &mut image).map_err(|e| format!("{e}"))?;
    println!(
        "berth-qemu: plugin store read: slot {} (commit {}), {} bytes; heap used {} bytes",
        ["A", "B"][active.slot],
        active.seq,
        image.len(),
        HEAP.used()
    );
    let index = StoreIndex::of(&image).map_err(|e| format!("plugin store: {e}"))?;
    Ok((store, index, active.len))
}

/// Reads the plugins' files from the active image at load.
pub struct StoreReader<'d> {
    store: &'d mut DeviceStore,
    index: &'d StoreIndex,
    buf: Vec<u8>,
}

impl<'d> StoreReader<'d> {
    /// A reader with room for `index`'s largest plugin.
    pub fn new(store: &'d mut DeviceStore, index: &'d StoreIndex) -> StoreReader<'d> {
        StoreReader {
            store,
            index,
            buf: Vec::with_capacity(index.largest()),
        }
    }
}

impl PluginReader for StoreReader<'_> {
    fn read(&mut self, i: usize) -> Result<&[u8], String> {
        let plugin = self.index.plugins.get(i).ok_or("no such plugin")?;
        self.buf.clear();
        self.buf.resize(plugin.len, 0);
        self.store
            .read(plugin.offset, &mut self.buf)
            .map_err(|e| format!("{e}"))?;
        Ok(&self.buf)
    }
}
