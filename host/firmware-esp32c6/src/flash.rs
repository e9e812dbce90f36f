//! The plugin store: the `plugins` data partition of `partitions.csv`, holding the two
//! slots `berth device pack` writes (berth-embedded's `slots` over its `store` format),
//! and written by the admin endpoint when plugins are pushed.
//!
//! The partition is found by name in the partition table that espflash wrote, so moving
//! or resizing it in `partitions.csv` needs no firmware change. The committed image is
//! read into the heap once to be checked and indexed ([`berth_embedded::StoreIndex`])
//! and dropped; each plugin's file is then read again, into one buffer, just before it
//! is compiled, so the loading peak holds one plugin, not the store.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use berth_embedded::admin::DeviceStore;
use berth_embedded::block::{BlockDevice, BlockError};
use berth_embedded::slots::{AbStore, SlotError};
use berth_embedded::store::StoreError;
use esp_bootloader_esp_idf::partitions::{self, PartitionEntry, PARTITION_TABLE_MAX_LEN};
use esp_hal::peripherals::FLASH;
use esp_storage::FlashStorage;

/// The partition's name in `partitions.csv`.
pub const PARTITION: &str = "plugins";

/// Why no plugins could be read.
#[derive(Debug)]
pub enum FlashError {
    /// The partition table is missing or invalid.
    Table(partitions::Error),
    /// No data partition is named [`PARTITION`].
    NoPartition,
    /// The A/B store failed (the flash, or a slot).
    Slots(SlotError),
    /// The partition holds no committed image (erased flash, or a foreign one).
    Store(StoreError),
    /// The heap cannot hold an image of this many bytes.
    OutOfMemory(usize),
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::Table(e) => write!(f, "partition table: {e}"),
            FlashError::NoPartition => write!(
                f,
                "no data partition named `{PARTITION}` (flash with --partition-table partitions.csv)"
            ),
            FlashError::Slots(e) => write!(f, "the `{PARTITION}` partition: {e}"),
            FlashError::Store(StoreError::NoImage) => write!(
                f,
                "the `{PARTITION}` partition holds no committed plugin image (write plugins.bin to it with espflash write-bin)"
            ),
            FlashError::Store(e) => write!(f, "the `{PARTITION}` partition: {e}"),
            FlashError::OutOfMemory(len) => {
                write!(f, "no room in the heap for the {len}-byte plugin image")
            }
        }
    }
}

/// Where the store is in flash.
pub struct Location {
    /// Offset of the partition in flash.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
}

/// The `plugins` partition as berth-embedded's [`BlockDevice`]: 4 KiB erase sectors,
/// each erased before it is programmed. The A/B store ([`berth_embedded::slots`]) on top
/// makes pushes power-safe.
pub struct PartitionFlash<'d> {
    flash: FlashStorage<'d>,
    /// Where the partition is.
    pub location: Location,
}

/// The flash's erase sector.
const SECTOR: usize = FlashStorage::SECTOR_SIZE as usize;

impl<'d> PartitionFlash<'d> {
    /// Finds the partition in the table espflash wrote.
    pub fn open(flash: FLASH<'d>) -> Result<PartitionFlash<'d>, FlashError> {
        let mut flash = FlashStorage::new(flash);
        let mut table_buf = [0u8; PARTITION_TABLE_MAX_LEN];
        let table = partitions::read_partition_table(&mut flash, &mut table_buf)
            .map_err(FlashError::Table)?;
        let entry: PartitionEntry = table
            .iter()
            // Type 1 is "data"; the raw number avoids decoding every entry's subtype.
            .find(|p| p.raw_type() == 1 && p.label_as_str() == PARTITION)
            .ok_or(FlashError::NoPartition)?;
        Ok(PartitionFlash {
            flash,
            location: Location {
                offset: entry.offset(),
                size: entry.len(),
            },
        })
    }

    /// Where sectors `sector..` of `len` bytes lie in flash, if inside the partition.
    fn at(&self, sector: usize, len: usize) -> Result<u32, BlockError> {
        let start = sector.checked_mul(SECTOR).ok_or(BlockError::OutOfRange)?;
        let end = start.checked_add(len).ok_or(BlockError::OutOfRange)?;
        if !len.is_multiple_of(SECTOR) || end > self.location.size as usize {
            return Err(BlockError::OutOfRange);
        }
        u32::try_from(start)
            .ok()
            .and_then(|s| self.location.offset.checked_add(s))
            .ok_or(BlockError::OutOfRange)
    }
}

impl BlockDevice for PartitionFlash<'_> {
    fn sector_size(&self) -> usize {
        SECTOR
    }

    fn sectors(&self) -> usize {
        self.location.size as usize / SECTOR
    }

    fn read(&mut self, sector: usize, buf: &mut [u8]) -> Result<(), BlockError> {
        let at = self.at(sector, buf.len())?;
        self.flash.read(at, buf).map_err(|_| BlockError::Io)
    }

    fn write(&mut self, sector: usize, data: &[u8]) -> Result<(), BlockError> {
        let at = self.at(sector, data.len())?;
        let end = at + data.len() as u32;
        self.flash.erase(at, end).map_err(|_| BlockError::Io)?;
        self.flash.write_nor(at, data).map_err(|_| BlockError::Io)
    }
}

/// Opens the A/B store on the partition and reads its committed image whole (to check
/// and index it; the caller drops it before loading). Returns the store, the image and
/// the partition's place.
pub fn open_store(flash: FLASH<'static>) -> Result<(DeviceStore, Vec<u8>, u32, u32), FlashError> {
    let part = PartitionFlash::open(flash)?;
    let (offset, size) = (part.location.offset, part.location.size);
    let mut store =
        AbStore::open(Box::new(part) as Box<dyn BlockDevice>).map_err(FlashError::Slots)?;
    let active = store
        .active()
        .ok_or(FlashError::Store(StoreError::NoImage))?;
    let mut image = Vec::new();
    image
        .try_reserve_exact(active.len)
        .map_err(|_| FlashError::OutOfMemory(active.len))?;
    image.resize(active.len, 0);
    store.read(0, &mut image).map_err(FlashError::Slots)?;
    Ok((store, image, offset, size))
}
