//! The plugin store: the `plugins` data partition of `partitions.csv`, holding the image
//! `berth device pack` writes (berth-embedded's `store` format).
//!
//! The partition is found by name in the partition table that espflash wrote, so moving
//! or resizing it in `partitions.csv` needs no firmware change. The image is read into
//! the heap once to be checked and indexed ([`berth_embedded::StoreIndex`]) and dropped;
//! each plugin's file is then read again, into one buffer, just before it is compiled
//! ([`StoreFlash::read_at`]), so the loading peak holds one plugin, not the store.

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
    /// Reading a plugin's bytes from flash failed.
    Storage(esp_storage::FlashStorageError),
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
            FlashError::Storage(e) => write!(f, "reading the `{PARTITION}` partition: {e:?}"),
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

/// The `plugins` partition, holding an image header.
pub struct StoreFlash<'d> {
    flash: FlashStorage<'d>,
    /// Where the partition is.
    pub location: Location,
    /// Bytes of the image its header announces (within the partition).
    pub image_len: usize,
}

impl<'d> StoreFlash<'d> {
    /// Finds the partition and reads the image's header.
    pub fn open(flash: FLASH<'d>) -> Result<StoreFlash<'d>, FlashError> {
        let mut flash = FlashStorage::new(flash);
        let mut table_buf = [0u8; PARTITION_TABLE_MAX_LEN];
        let table = partitions::read_partition_table(&mut flash, &mut table_buf)
            .map_err(FlashError::Table)?;
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
        let image_len = store::image_len(&header).map_err(FlashError::Store)?;
        if image_len > region.partition_size() {
            return Err(FlashError::TooLarge {
                image: image_len,
                partition: region.partition_size(),
            });
        }
        Ok(StoreFlash {
            flash,
            location,
            image_len,
        })
    }

    /// The whole image, to check and index.
    pub fn read_image(&mut self) -> Result<Vec<u8>, FlashError> {
        let mut image = Vec::new();
        image
            .try_reserve_exact(self.image_len)
            .map_err(|_| FlashError::OutOfMemory(self.image_len))?;
        image.resize(self.image_len, 0);
        self.read_at(0, &mut image)?;
        Ok(image)
    }

    /// Fills `buf` from `offset` of the image.
    pub fn read_at(&mut self, offset: usize, buf: &mut [u8]) -> Result<(), FlashError> {
        let end = offset
            .checked_add(buf.len())
            .filter(|&e| e <= self.image_len);
        let at = u32::try_from(offset).ok().filter(|_| end.is_some());
        let at =
            at.and_then(|o| self.location.offset.checked_add(o))
                .ok_or(FlashError::Storage(
                    esp_storage::FlashStorageError::OutOfBounds,
                ))?;
        self.flash.read(at, buf).map_err(FlashError::Storage)
    }
}
