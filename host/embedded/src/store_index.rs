//! A plugin store's index: what loading needs of a [`store`](crate::store) image besides
//! the plugins' bytes, owned, and where each plugin's bytes lie in the image.
//!
//! A device reads and checks the whole image once ([`StoreIndex::of`]), keeps this,
//! drops the image, and then reads each plugin's file from flash just before compiling
//! it ([`crate::Server::new_reading`] with a [`crate::PluginReader`] over its flash): the
//! loading peak then holds one plugin's file instead of the whole store.

use alloc::string::String;
use alloc::vec::Vec;

use berth_core::device::GpioGrant;
use berth_core::model::Pairs;

use crate::files::StaticConfig;
use crate::plugins::PluginSource;
use crate::store::{self, StoreError};

/// One plugin of the store, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedPlugin {
    /// Its name.
    pub name: String,
    /// Its `setup` config.
    pub config: Pairs,
    /// The GPIO pins it may use.
    pub gpio: GpioGrant,
    /// Where its component's bytes start in the image.
    pub offset: usize,
    /// How many bytes they are.
    pub len: usize,
}

/// The plugins (in plugin order) and the static files of a store image.
#[derive(Debug, Clone, Default)]
pub struct StoreIndex {
    /// The plugins.
    pub plugins: Vec<IndexedPlugin>,
    /// The folders, mounts and grants, with the files' bytes (they are served from RAM).
    pub statics: StaticConfig,
    /// `[admin]`, when the admin endpoint is on.
    pub admin: Option<store::AdminEntry>,
}

impl StoreIndex {
    /// Checks `image` as [`store::parse`] does and indexes it.
    pub fn of(image: &[u8]) -> Result<StoreIndex, StoreError> {
        let stored = store::parse(image)?;
        let base = image.as_ptr() as usize;
        let plugins = stored
            .plugins
            .iter()
            .map(|e| IndexedPlugin {
                name: e.name.into(),
                config: e.config.clone(),
                gpio: e.gpio,
                // `parse` hands out slices of `image`, so this is their place in it.
                offset: e.wasm.as_ptr() as usize - base,
                len: e.wasm.len(),
            })
            .collect();
        Ok(StoreIndex {
            plugins,
            statics: StaticConfig::from_image(&stored),
            admin: stored.admin,
        })
    }

    /// Moves the plugins' configs out (they are needed only by the sources), leaving the
    /// index's empty.
    pub fn take_configs(&mut self) -> Vec<Pairs> {
        self.plugins
            .iter_mut()
            .map(|p| core::mem::take(&mut p.config))
            .collect()
    }

    /// The plugins as sources to load with a reader (their `bytes` are empty), with the
    /// configs [`StoreIndex::take_configs`] took.
    pub fn sources(&self, configs: Vec<Pairs>) -> Vec<PluginSource<'_>> {
        self.plugins
            .iter()
            .zip(configs)
            .map(|(p, config)| PluginSource {
                name: &p.name,
                bytes: &[],
                config,
                gpio: p.gpio,
            })
            .collect()
    }

    /// Bytes of the largest plugin file (what a reader's buffer must hold).
    pub fn largest(&self) -> usize {
        self.plugins.iter().map(|p| p.len).max().unwrap_or(0)
    }

    /// Every pin some plugin is granted.
    pub fn granted_pins(&self) -> GpioGrant {
        let bits = self.plugins.iter().fold(0, |bits, p| bits | p.gpio.bits());
        GpioGrant::from_bits(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{pack, Entry, Image};

    #[test]
    fn the_index_points_at_each_plugins_bytes() {
        let a = b"\0asm\x0d\0\x01\0first".to_vec();
        let b = b"\0asm\x0d\0\x01\0the second one".to_vec();
        let image = Image {
            plugins: alloc::vec![
                Entry {
                    name: "a",
                    config: alloc::vec![("k".into(), "v".into())],
                    gpio: GpioGrant::from_bits(1 << 2),
                    dirs: Vec::new(),
                    wasm: &a,
                },
                Entry {
                    name: "b",
                    config: Vec::new(),
                    gpio: GpioGrant::from_bits(1 << 5),
                    dirs: Vec::new(),
                    wasm: &b,
                },
            ],
            folders: Vec::new(),
            mounts: Vec::new(),
            admin: None,
        };
        let bytes = pack(&image).expect("pack");
        let index = StoreIndex::of(&bytes).expect("index");
        assert_eq!(index.plugins.len(), 2);
        for (plugin, wasm) in index.plugins.iter().zip([&a, &b]) {
            assert_eq!(&bytes[plugin.offset..plugin.offset + plugin.len], &wasm[..]);
        }
        assert_eq!(
            index.plugins[0].config,
            alloc::vec![("k".into(), "v".into())]
        );
        assert_eq!(index.largest(), b.len());
        assert_eq!(index.granted_pins().bits(), (1 << 2) | (1 << 5));
        let mut index = index;
        let configs = index.take_configs();
        let sources = index.sources(configs);
        assert_eq!((sources[1].name, sources[1].bytes.len()), ("b", 0));
        assert_eq!(sources[0].config, alloc::vec![("k".into(), "v".into())]);
    }

    #[test]
    fn a_damaged_image_is_refused_as_by_parse() {
        let wasm = b"\0asm\x0d\0\x01\0x".to_vec();
        let image = Image {
            plugins: alloc::vec![Entry {
                name: "a",
                config: Vec::new(),
                gpio: GpioGrant::NONE,
                dirs: Vec::new(),
                wasm: &wasm,
            }],
            folders: Vec::new(),
            mounts: Vec::new(),
            admin: None,
        };
        let mut bytes = pack(&image).expect("pack");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert_eq!(StoreIndex::of(&bytes).err(), Some(StoreError::Checksum));
    }
}
