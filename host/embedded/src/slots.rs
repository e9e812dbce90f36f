//! The power-safe plugin store: two slots, A and B, over a [`BlockDevice`], each holding
//! one whole [`store`](crate::store) image behind a commit record.
//!
//! ```text
//! device   slot A (first half of the sectors) · slot B (second half)
//! slot     record sector · image sectors (the image, padded to whole sectors)
//! record   "BRTHSLOT" · seq: u32 · image_len: u32 · body_crc: u32 · crc32(the 20 bytes before): u32
//! ```
//!
//! Boot uses the slot with the highest sequence number whose record and image both check
//! out (record CRC; the image's magic, length and body CRC, and the record's `body_crc`
//! equal to the image header's). A change never touches the slot in use: the other slot's
//! record is invalidated first, the new image is written into it, the device is flushed,
//! and only then is its record written with the next sequence number — the commit. A
//! power cut anywhere before the record is whole leaves that slot invalid, so the
//! previous image boots; a cut after it boots the new one. Between writing and
//! committing, the new image can be read back ([`AbStore::read_pending`]) to be
//! validated, and is simply never committed if it fails.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::block::{BlockDevice, BlockError};
use crate::store::{self, HEADER_LEN};

/// The first bytes of a commit record.
pub const RECORD_MAGIC: &[u8; 8] = b"BRTHSLOT";
/// Bytes of a commit record (the rest of its sector is padding).
pub const RECORD_LEN: usize = 24;

/// Why the store cannot be used or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotError {
    /// The device failed.
    Block(BlockError),
    /// The device is too small for two slots of one record and one image sector each.
    TooSmall,
    /// An image does not fit in a slot.
    Full {
        /// Bytes of image a slot holds.
        capacity: usize,
    },
    /// A read past the end of the image.
    OutOfRange,
}

impl fmt::Display for SlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotError::Block(e) => write!(f, "plugin store: {e}"),
            SlotError::TooSmall => {
                f.write_str("plugin store: the device is too small for two slots")
            }
            SlotError::Full { capacity } => {
                write!(
                    f,
                    "plugin store: the image exceeds a slot ({capacity} bytes)"
                )
            }
            SlotError::OutOfRange => f.write_str("plugin store: read past the image"),
        }
    }
}

impl core::error::Error for SlotError {}

impl From<BlockError> for SlotError {
    fn from(e: BlockError) -> SlotError {
        SlotError::Block(e)
    }
}

/// The committed image boot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Active {
    /// 0 for slot A, 1 for slot B.
    pub slot: usize,
    /// Its commit's sequence number.
    pub seq: u32,
    /// Bytes of its image.
    pub len: usize,
}

/// A written, not yet committed image ([`SlotWriter::finish`] → [`AbStore::commit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    slot: usize,
    len: usize,
    body_crc: u32,
}

impl Pending {
    /// Bytes of the image.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the image is empty (never: an image has a header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The two-slot store.
pub struct AbStore<D> {
    dev: D,
    sector: usize,
    slot_sectors: usize,
    active: Option<Active>,
    /// One sector, for reads at any offset.
    scratch: Vec<u8>,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn record_bytes(seq: u32, len: u32, body_crc: u32) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r[..8].copy_from_slice(RECORD_MAGIC);
    r[8..12].copy_from_slice(&seq.to_le_bytes());
    r[12..16].copy_from_slice(&len.to_le_bytes());
    r[16..20].copy_from_slice(&body_crc.to_le_bytes());
    let crc = crc32fast::hash(&r[..20]);
    r[20..24].copy_from_slice(&crc.to_le_bytes());
    r
}

/// (seq, len, body_crc) of a valid record.
fn parse_record(sector: &[u8]) -> Option<(u32, usize, u32)> {
    let r = sector.get(..RECORD_LEN)?;
    if &r[..8] != RECORD_MAGIC || crc32fast::hash(&r[..20]) != le32(&r[20..24]) {
        return None;
    }
    Some((le32(&r[8..12]), le32(&r[12..16]) as usize, le32(&r[16..20])))
}

impl<D: BlockDevice> AbStore<D> {
    /// Opens the store and finds the image to boot (none on a blank device).
    pub fn open(dev: D) -> Result<AbStore<D>, SlotError> {
        let sector = dev.sector_size();
        let slot_sectors = dev.sectors() / 2;
        if slot_sectors < 2 || sector < RECORD_LEN.max(HEADER_LEN) {
            return Err(SlotError::TooSmall);
        }
        let mut store = AbStore {
            dev,
            sector,
            slot_sectors,
            active: None,
            scratch: vec![0; sector],
        };
        let mut found: Vec<Active> = Vec::with_capacity(2);
        for slot in 0..2 {
            let base = store.base(slot);
            store.dev.read(base, &mut store.scratch)?;
            if let Some((seq, len, crc)) = parse_record(&store.scratch) {
                if len <= store.capacity() && store.image_checks(slot, len, crc)? {
                    found.push(Active { slot, seq, len });
                }
            }
        }
        store.active = found.into_iter().max_by_key(|a| a.seq);
        Ok(store)
    }

    /// The committed image in use, if any.
    pub fn active(&self) -> Option<Active> {
        self.active
    }

    /// Bytes of image one slot holds.
    pub fn capacity(&self) -> usize {
        (self.slot_sectors - 1) * self.sector
    }

    /// The device, back.
    pub fn into_inner(self) -> D {
        self.dev
    }

    fn base(&self, slot: usize) -> usize {
        slot * self.slot_sectors
    }

    /// Whether slot `slot` holds a whole image of `len` bytes whose header carries
    /// `crc` and whose body hashes to it, read a sector at a time.
    fn image_checks(&mut self, slot: usize, len: usize, crc: u32) -> Result<bool, SlotError> {
        if len < HEADER_LEN {
            return Ok(false);
        }
        let first = self.base(slot) + 1;
        self.dev.read(first, &mut self.scratch)?;
        let header = &self.scratch[..HEADER_LEN];
        if store::image_len(header) != Ok(len) || le32(&header[16..20]) != crc {
            return Ok(false);
        }
        let mut hasher = crc32fast::Hasher::new();
        let sectors = len.div_ceil(self.sector);
        for i in 0..sectors {
            if i > 0 {
                self.dev.read(first + i, &mut self.scratch)?;
            }
            let from = if i == 0 { HEADER_LEN } else { 0 };
            let to = (len - i * self.sector).min(self.sector);
            hasher.update(&self.scratch[from..to]);
        }
        Ok(hasher.finalize() == crc)
    }

    /// Fills `buf` from `offset` of slot `slot`'s image area (`limit`: its image length).
    fn read_slot(
        &mut self,
        slot: usize,
        limit: usize,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), SlotError> {
        let end = offset.checked_add(buf.len()).ok_or(SlotError::OutOfRange)?;
        if end > limit {
            return Err(SlotError::OutOfRange);
        }
        let first = self.base(slot) + 1;
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done;
            let (sector, skip) = (at / self.sector, at % self.sector);
            let take = (self.sector - skip).min(buf.len() - done);
            if skip == 0 && take == self.sector {
                // Whole sectors go straight into the caller's buffer.
                let whole = (buf.len() - done) / self.sector * self.sector;
                self.dev
                    .read(first + sector, &mut buf[done..done + whole])?;
                done += whole;
                continue;
            }
            self.dev.read(first + sector, &mut self.scratch)?;
            buf[done..done + take].copy_from_slice(&self.scratch[skip..skip + take]);
            done += take;
        }
        Ok(())
    }

    /// Fills `buf` from `offset` of the active image.
    pub fn read(&mut self, offset: usize, buf: &mut [u8]) -> Result<(), SlotError> {
        let active = self.active.ok_or(SlotError::OutOfRange)?;
        self.read_slot(active.slot, active.len, offset, buf)
    }

    /// Fills `buf` from `offset` of a written, uncommitted image.
    pub fn read_pending(
        &mut self,
        pending: &Pending,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), SlotError> {
        self.read_slot(pending.slot, pending.len, offset, buf)
    }

    /// Starts writing a new image into the slot not in use, whose record is invalidated
    /// first (so a half-written image there can never be taken for a committed one).
    pub fn begin(&mut self) -> Result<SlotWriter<'_, D>, SlotError> {
        let slot = match self.active {
            Some(a) => 1 - a.slot,
            None => 0,
        };
        let blank = vec![0u8; self.sector];
        self.dev.write(self.base(slot), &blank)?;
        Ok(SlotWriter {
            slot,
            written: 0,
            first: Vec::new(),
            buf: Vec::with_capacity(self.sector),
            crc: crc32fast::Hasher::new(),
            store: self,
        })
    }

    /// Commits a written image: flush, then its record (the one write that switches
    /// images), then flush again. From here it is the active image.
    pub fn commit(&mut self, pending: Pending) -> Result<Active, SlotError> {
        let seq = self.active.map_or(1, |a| a.seq.wrapping_add(1));
        let len = u32::try_from(pending.len).map_err(|_| SlotError::Full {
            capacity: self.capacity(),
        })?;
        self.dev.flush()?;
        let mut sector = vec![0u8; self.sector];
        sector[..RECORD_LEN].copy_from_slice(&record_bytes(seq, len, pending.body_crc));
        self.dev.write(self.base(pending.slot), &sector)?;
        self.dev.flush()?;
        let active = Active {
            slot: pending.slot,
            seq,
            len: pending.len,
        };
        self.active = Some(active);
        Ok(active)
    }
}

/// Streams a new image into the inactive slot, a sector at a time, hashing its body as
/// it goes. Its first sector is held back until [`SlotWriter::finish`], which writes the
/// image header into it (the body's length and CRC are known only at the end).
pub struct SlotWriter<'s, D> {
    store: &'s mut AbStore<D>,
    slot: usize,
    written: usize,
    /// The image's first sector, once full.
    first: Vec<u8>,
    /// The sector being filled.
    buf: Vec<u8>,
    /// CRC of the body so far (the bytes after the header).
    crc: crc32fast::Hasher,
}

impl<D: BlockDevice> SlotWriter<'_, D> {
    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Appends image bytes (the first [`HEADER_LEN`] are a placeholder for the header).
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), SlotError> {
        let capacity = self.store.capacity();
        if self.written + bytes.len() > capacity {
            return Err(SlotError::Full { capacity });
        }
        let in_header = HEADER_LEN.saturating_sub(self.written).min(bytes.len());
        self.crc.update(&bytes[in_header..]);
        let sector = self.store.sector;
        while !bytes.is_empty() {
            let take = (sector - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            self.written += take;
            if self.buf.len() == sector {
                self.flush_sector()?;
            }
        }
        Ok(())
    }

    fn flush_sector(&mut self) -> Result<(), SlotError> {
        let sector = self.store.sector;
        let index = (self.written - 1) / sector;
        if index == 0 {
            self.first = core::mem::replace(&mut self.buf, Vec::with_capacity(sector));
        } else {
            let at = self.store.base(self.slot) + 1 + index;
            self.store.dev.write(at, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Copies `len` bytes from `offset` of the active image, a sector at a time.
    pub fn copy_active(&mut self, offset: usize, len: usize) -> Result<(), SlotError> {
        let mut chunk = vec![0u8; self.store.sector];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(chunk.len());
            self.store.read(offset + done, &mut chunk[..n])?;
            self.write(&chunk[..n])?;
            done += n;
        }
        Ok(())
    }

    /// The image is whole: its header (`count` plugins, the body's length and CRC)
    /// replaces the placeholder, and the last and the first sector are written. The image
    /// is not in use until [`AbStore::commit`].
    pub fn finish(mut self, count: u32) -> Result<Pending, SlotError> {
        if self.written < HEADER_LEN {
            return Err(SlotError::OutOfRange);
        }
        let body_len = u32::try_from(self.written - HEADER_LEN).map_err(|_| SlotError::Full {
            capacity: self.store.capacity(),
        })?;
        let body_crc = self.crc.clone().finalize();
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(store::MAGIC);
        header[8..12].copy_from_slice(&count.to_le_bytes());
        header[12..16].copy_from_slice(&body_len.to_le_bytes());
        header[16..20].copy_from_slice(&body_crc.to_le_bytes());
        let sector = self.store.sector;
        if !self.buf.is_empty() {
            self.buf.resize(sector, 0xFF);
            // Counted as its sector for `flush_sector`.
            self.flush_sector()?;
        }
        let first_at = self.store.base(self.slot) + 1;
        self.first[..HEADER_LEN].copy_from_slice(&header);
        self.store.dev.write(first_at, &self.first)?;
        Ok(Pending {
            slot: self.slot,
            len: self.written,
            body_crc,
        })
    }
}

/// A device image with `image` committed in slot A: what a drive or partition starts as.
pub fn format<D: BlockDevice>(dev: D, image: &[u8]) -> Result<D, SlotError> {
    let mut store = AbStore::open(dev)?;
    store.active = None;
    // Slot B's record is invalidated too, so a device written before never boots it.
    let slot_b = store.base(1);
    let blank = vec![0u8; store.sector];
    store.dev.write(slot_b, &blank)?;
    let count = image.get(8..12).map(le32).ok_or(SlotError::OutOfRange)?;
    let mut w = store.begin()?;
    w.write(image)?;
    let pending = w.finish(count)?;
    store.commit(pending)?;
    Ok(store.into_inner())
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
