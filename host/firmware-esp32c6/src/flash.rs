//! The plugin store: the `plugins` data partition of `partitions.csv`, holding the image
//! `berth device pack` writes (berth-embedded's `store` format).
//!
//! The partition is found by name in the partition table that espflash wrote, so moving
//! or resizing it in `partitions.csv` needs no firmware change. The image is copied into
//! the heap (wasmi compiles from a byte slice); the caller drops it once the plugins are
//! loaded.

use alloc::vec::Vec;
use core::fmt;

use berth_embedded::store::{self, StoreError, HEADER_LEN};
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
    /// Reading the partition failed.
    Read(partitions::Error),
    /// The partition holds no valid image (erased flash, or a foreign one).
    Store(StoreError),
    /// The image's header claims more bytes than the partition has.
    TooLarge {
        /// Bytes the header claims.
        image: usize,
        /// Bytes of the partition.
        partition: usize,
    },
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
            FlashError::Read(e) => write!(f, "reading the `{PARTITION}` partition: {e}"),
            FlashError::Store(StoreError::NoImage) => write!(
                f,
                "the `{PARTITION}` partition holds no plugin image (write plugins.bin to it with espflash write-bin)"
            ),
            FlashError::Store(e) => write!(f, "the `{PARTITION}` partition: {e}"),
            FlashError::TooLarge { image, partition } => write!(
                f,
                "plugin image header says {image} bytes, the partition has {partition}"
            ),
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

/// Reads the whole plugin image from the `plugins` partition.
pub fn read_store(flash: FLASH<'_>) -> Result<(Location, Vec<u8>), FlashError> {
    let mut flash = FlashStorage::new(flash);
    let mut table_buf = [0u8; PARTITION_TABLE_MAX_LEN];
    let table =
        partitions::read_partition_table(&mut flash, &mut table_buf).map_err(FlashError::Table)?;
    let entry: PartitionEntry = table
        .iter()
        // Type 1 is "data"; the raw number avoids decoding every entry's subtype.
        .find(|p| p.raw_type() == 1 && p.label_as_str() == PARTITION)
        .ok_or(FlashError::NoPartition)?;
    let location = Location {
        offset: entry.offset(),
        size: entry.len(),
    };
    let mut region = entry.as_flash_region(&mut flash);

    let mut header = [0u8; HEADER_LEN];
    region.read(0, &mut header).map_err(FlashError::Read)?;
    let len = store::image_len(&header).map_err(FlashError::Store)?;
    if len > region.partition_size() {
        return Err(FlashError::TooLarge {
            image: len,
            partition: region.partition_size(),
        });
    }
    let mut image = Vec::new();
    image
        .try_reserve_exact(len)
        .map_err(|_| FlashError::OutOfMemory(len))?;
    image.resize(len, 0);
    region.read(0, &mut image).map_err(FlashError::Read)?;
    Ok((location, image))
}
