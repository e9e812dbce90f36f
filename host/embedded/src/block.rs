//! The storage a device keeps its plugin store on, as whole sectors: a virtio-blk drive
//! under QEMU (512-byte sectors), a flash partition on the ESP32-C6 (4 KiB erase
//! sectors), or RAM in tests ([`MemDevice`], which can also cut the power mid-write).
//!
//! A sector is the unit a write replaces: on flash, [`BlockDevice::write`] erases the
//! sectors before programming them. [`crate::slots`] builds the power-safe A/B store on
//! top of this trait.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Why a sector could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The sectors lie past the end of the device.
    OutOfRange,
    /// The device reported a failure.
    Io,
    /// A test device's power was cut ([`MemDevice::cut_after`]): nothing more is written.
    PowerCut,
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlockError::OutOfRange => "sector out of range",
            BlockError::Io => "storage I/O error",
            BlockError::PowerCut => "power cut",
        })
    }
}

impl core::error::Error for BlockError {}

/// A device of equal sectors, read and written whole.
pub trait BlockDevice {
    /// Bytes per sector (the write and erase unit).
    fn sector_size(&self) -> usize;
    /// Sectors on the device.
    fn sectors(&self) -> usize;
    /// Reads `buf.len() / sector_size()` sectors from `sector` on (`buf` is whole sectors).
    fn read(&mut self, sector: usize, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Replaces sectors from `sector` on with `data` (whole sectors), erasing them first
    /// where the medium needs it. A power cut may leave any of them half-written.
    fn write(&mut self, sector: usize, data: &[u8]) -> Result<(), BlockError>;
    /// Makes every completed write durable (a drive's write cache). Default: writes are
    /// durable when `write` returns.
    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
}

impl<D: BlockDevice + ?Sized> BlockDevice for Box<D> {
    fn sector_size(&self) -> usize {
        (**self).sector_size()
    }
    fn sectors(&self) -> usize {
        (**self).sectors()
    }
    fn read(&mut self, sector: usize, buf: &mut [u8]) -> Result<(), BlockError> {
        (**self).read(sector, buf)
    }
    fn write(&mut self, sector: usize, data: &[u8]) -> Result<(), BlockError> {
        (**self).write(sector, data)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        (**self).flush()
    }
}

impl<D: BlockDevice + ?Sized> BlockDevice for &mut D {
    fn sector_size(&self) -> usize {
        (**self).sector_size()
    }
    fn sectors(&self) -> usize {
        (**self).sectors()
    }
    fn read(&mut self, sector: usize, buf: &mut [u8]) -> Result<(), BlockError> {
        (**self).read(sector, buf)
    }
    fn write(&mut self, sector: usize, data: &[u8]) -> Result<(), BlockError> {
        (**self).write(sector, data)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        (**self).flush()
    }
}

/// A device in RAM. With [`MemDevice::cut_after`] it loses power after a number of
/// sector writes: the next sector is left torn (its first [`MemDevice::torn_bytes`]
/// new, the rest as it was) and every later write fails, as if the board had been
/// unplugged there.
#[derive(Debug, Clone)]
pub struct MemDevice {
    sector: usize,
    /// The device's contents (erased flash reads as `0xFF`).
    pub data: Vec<u8>,
    /// Sector writes left before the power cut (`None`: never).
    budget: Option<usize>,
    /// Sector writes done so far.
    pub writes: usize,
    /// The power is off: every write fails.
    dead: bool,
    /// How much of the sector being written when the power goes makes it.
    pub torn_bytes: usize,
}

impl MemDevice {
    /// `sectors` erased sectors of `sector` bytes.
    pub fn new(sector: usize, sectors: usize) -> MemDevice {
        MemDevice {
            sector,
            data: vec![0xFF; sector * sectors],
            budget: None,
            writes: 0,
            dead: false,
            torn_bytes: sector / 2,
        }
    }

    /// A device holding `data` (a drive or partition file), in sectors of `sector` bytes
    /// (a partial last sector is dropped).
    pub fn from_bytes(sector: usize, mut data: Vec<u8>) -> MemDevice {
        data.truncate(data.len() / sector * sector);
        MemDevice {
            data,
            ..MemDevice::new(sector, 0)
        }
    }

    /// Cuts the power after `writes` more sector writes.
    pub fn cut_after(&mut self, writes: usize) {
        self.budget = Some(writes);
    }

    /// Power back on: the contents stay, writes work again.
    pub fn restore_power(&mut self) {
        self.budget = None;
        self.dead = false;
    }

    fn range(&self, sector: usize, len: usize) -> Result<core::ops::Range<usize>, BlockError> {
        let start = sector
            .checked_mul(self.sector)
            .ok_or(BlockError::OutOfRange)?;
        let end = start.checked_add(len).ok_or(BlockError::OutOfRange)?;
        if !len.is_multiple_of(self.sector) || end > self.data.len() {
            return Err(BlockError::OutOfRange);
        }
        Ok(start..end)
    }
}

impl BlockDevice for MemDevice {
    fn sector_size(&self) -> usize {
        self.sector
    }
    fn sectors(&self) -> usize {
        self.data.len() / self.sector
    }
    fn read(&mut self, sector: usize, buf: &mut [u8]) -> Result<(), BlockError> {
        let range = self.range(sector, buf.len())?;
        buf.copy_from_slice(&self.data[range]);
        Ok(())
    }
    fn write(&mut self, sector: usize, data: &[u8]) -> Result<(), BlockError> {
        let range = self.range(sector, data.len())?;
        for (i, chunk) in data.chunks(self.sector).enumerate() {
            let at = range.start + i * self.sector;
            if self.dead {
                return Err(BlockError::PowerCut);
            }
            match self.budget {
                Some(0) => {
                    // The torn sector: its first bytes made it.
                    let torn = self.torn_bytes.min(self.sector);
                    self.data[at..at + torn].copy_from_slice(&chunk[..torn]);
                    self.dead = true;
                    return Err(BlockError::PowerCut);
                }
                Some(n) => self.budget = Some(n - 1),
                None => {}
            }
            self.data[at..at + self.sector].copy_from_slice(chunk);
            self.writes += 1;
        }
        Ok(())
    }
}
