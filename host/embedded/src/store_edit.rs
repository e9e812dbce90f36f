//! Rewriting the committed store image a plugin at a time, for the admin endpoint: the
//! new image is streamed into the other slot ([`crate::slots`]) — the entries that do
//! not change copied sector by sector from the active image, an uploaded plugin's bytes
//! straight from the socket — so an upload never has to fit in RAM whole.
//!
//! [`Catalog`] is what this needs of the active image: where each plugin's entry, and
//! the folders-and-mounts tail, lie in it. A replaced plugin keeps its entry's config,
//! pins and folder grants (only its Wasm changes); a new one is appended with none.

use alloc::string::String;
use alloc::vec::Vec;

use berth_core::device::GpioGrant;
use berth_core::model::Pairs;

use crate::block::BlockDevice;
use crate::slots::{AbStore, Pending, SlotError, SlotWriter};
use crate::store::HEADER_LEN;
use crate::store_index::StoreIndex;

/// One plugin of the committed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Its name.
    pub name: String,
    /// Its `setup` config.
    pub config: Pairs,
    /// Its pins.
    pub gpio: GpioGrant,
    /// Where its entry starts in the image.
    pub start: usize,
    /// Where its Wasm bytes start.
    pub wasm_at: usize,
    /// How many Wasm bytes it has.
    pub wasm_len: usize,
}

impl CatalogEntry {
    /// Where its entry ends.
    pub fn end(&self) -> usize {
        self.wasm_at + self.wasm_len
    }
}

/// The plugins of the committed image and where its folders-and-mounts tail lies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// The plugins, in plugin order.
    pub plugins: Vec<CatalogEntry>,
    /// Where the tail (folders, mounts, admin) starts.
    pub tail_at: usize,
    /// The image's length.
    pub len: usize,
}

impl Catalog {
    /// From a checked image's index (before its configs are taken) and its length.
    pub fn of(index: &StoreIndex, len: usize) -> Catalog {
        let mut at = HEADER_LEN;
        let plugins = index
            .plugins
            .iter()
            .map(|p| {
                let entry = CatalogEntry {
                    name: p.name.clone(),
                    config: p.config.clone(),
                    gpio: p.gpio,
                    start: at,
                    wasm_at: p.offset,
                    wasm_len: p.len,
                };
                at = p.offset + p.len;
                entry
            })
            .collect();
        Catalog {
            plugins,
            tail_at: at,
            len,
        }
    }

    /// The plugin named `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.plugins.iter().find(|p| p.name == name)
    }
}

/// A piece of the new image.
enum Piece {
    /// Bytes of the active image.
    Copy { from: usize, len: usize },
    /// New bytes.
    Bytes(Vec<u8>),
}

/// An image being rewritten: the pieces before the upload are written, the upload's
/// bytes come through [`Edit::upload`], and [`Edit::finish`] writes the rest.
pub struct Edit<'s, D> {
    writer: SlotWriter<'s, D>,
    after: Vec<Piece>,
    /// Upload bytes still expected.
    remaining: usize,
    count: u32,
    /// The new image's catalog.
    catalog: Catalog,
}

fn entry_head(name: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 18);
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // config pairs
    out.extend_from_slice(&0u64.to_le_bytes()); // gpio
    out.extend_from_slice(&0u16.to_le_bytes()); // granted folders
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

fn write_pieces<D: BlockDevice>(
    w: &mut SlotWriter<'_, D>,
    pieces: &[Piece],
) -> Result<(), SlotError> {
    for piece in pieces {
        match piece {
            Piece::Copy { from, len } => w.copy_active(*from, *len)?,
            Piece::Bytes(b) => w.write(b)?,
        }
    }
    Ok(())
}

impl<'s, D: BlockDevice> Edit<'s, D> {
    /// Starts an image in which plugin `name` has `len` bytes of new Wasm (replacing its
    /// old ones, or appended as a new last plugin). `name` must be a valid plugin name.
    pub fn put(
        store: &'s mut AbStore<D>,
        old: &Catalog,
        name: &str,
        len: usize,
    ) -> Result<Edit<'s, D>, SlotError> {
        Edit::start(store, old, name, Some(len))
    }

    /// An image without plugin `name` (written whole; [`Edit::finish`] it).
    pub fn remove(
        store: &'s mut AbStore<D>,
        old: &Catalog,
        name: &str,
    ) -> Result<Edit<'s, D>, SlotError> {
        Edit::start(store, old, name, None)
    }

    fn start(
        store: &'s mut AbStore<D>,
        old: &Catalog,
        name: &str,
        upload: Option<usize>,
    ) -> Result<Edit<'s, D>, SlotError> {
        if u32::try_from(upload.unwrap_or(0)).is_err() {
            return Err(SlotError::Full {
                capacity: store.capacity(),
            });
        }
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut catalog = Catalog::default();
        // Where the next piece lands in the new image.
        let mut at = HEADER_LEN;
        let mut uploaded = false;
        for e in &old.plugins {
            let pieces = if uploaded { &mut after } else { &mut before };
            if e.name != name {
                pieces.push(Piece::Copy {
                    from: e.start,
                    len: e.end() - e.start,
                });
                let shift = at as isize - e.start as isize;
                catalog.plugins.push(CatalogEntry {
                    start: at,
                    wasm_at: (e.wasm_at as isize + shift) as usize,
                    ..e.clone()
                });
                at += e.end() - e.start;
                continue;
            }
            let Some(len) = upload else { continue };
            // The entry's name, config, pins and grants stay; its length and Wasm change.
            let head = e.wasm_at - 4 - e.start;
            pieces.push(Piece::Copy {
                from: e.start,
                len: head,
            });
            pieces.push(Piece::Bytes((len as u32).to_le_bytes().to_vec()));
            catalog.plugins.push(CatalogEntry {
                start: at,
                wasm_at: at + head + 4,
                wasm_len: len,
                ..e.clone()
            });
            at += head + 4 + len;
            uploaded = true;
        }
        if let (Some(len), false) = (upload, uploaded) {
            let head = entry_head(name, len);
            catalog.plugins.push(CatalogEntry {
                name: name.into(),
                config: Pairs::new(),
                gpio: GpioGrant::NONE,
                start: at,
                wasm_at: at + head.len(),
                wasm_len: len,
            });
            at += head.len() + len;
            before.push(Piece::Bytes(head));
        }
        let tail = old.len - old.tail_at;
        after.push(Piece::Copy {
            from: old.tail_at,
            len: tail,
        });
        catalog.tail_at = at;
        catalog.len = at + tail;
        let count = catalog.plugins.len() as u32;
        let mut writer = store.begin()?;
        writer.write(&[0u8; HEADER_LEN])?;
        write_pieces(&mut writer, &before)?;
        Ok(Edit {
            writer,
            after,
            remaining: upload.unwrap_or(0),
            count,
            catalog,
        })
    }

    /// Upload bytes still expected.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The next bytes of the uploaded Wasm (at most [`Edit::remaining`]).
    pub fn upload(&mut self, bytes: &[u8]) -> Result<(), SlotError> {
        if bytes.len() > self.remaining {
            return Err(SlotError::OutOfRange);
        }
        self.writer.write(bytes)?;
        self.remaining -= bytes.len();
        Ok(())
    }

    /// Writes the rest of the image; it is read back with [`AbStore::read_pending`] and
    /// used once [`AbStore::commit`]ted. Returns it and its catalog.
    pub fn finish(mut self) -> Result<(Pending, Catalog), SlotError> {
        if self.remaining > 0 {
            return Err(SlotError::OutOfRange);
        }
        write_pieces(&mut self.writer, &self.after)?;
        let pending = self.writer.finish(self.count)?;
        Ok((pending, self.catalog))
    }
}
