//! The device plugin store: a flash partition holding every plugin and its config.
//!
//! A simple file table, written once by `berth device pack` and read at boot; the
//! device never writes it, so a wear-levelled key-value store (sequential-storage,
//! ekv) would add code for nothing. The image is:
//!
//! ```text
//! header  "BERTHPK2" · count: u32 · body_len: u32 · crc32(body): u32      (little-endian)
//! body    count × entry
//! entry   name: str16 · pairs: u16 × (key: str16 · value: str16) · gpio: u64
//!         · wasm_len: u32 · wasm
//! str16   len: u16 · UTF-8 bytes
//! ```
//!
//! `gpio` is the plugin's `[grants.<plugin>] gpio` as a bit set (bit `n` = pin `n`).
//! (Version 1 had no grants; its images are refused as [`StoreError::NoImage`] and must
//! be packed again.)
//!
//! Entries are in plugin order. [`parse`] checks the magic, the CRC and every length
//! before handing out borrowed entries, so a half-written or foreign partition is a clear
//! error at boot, never a panic or a read past the end.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use berth_core::device::GpioGrant;
use berth_core::model::Pairs;

/// The first bytes of every image.
pub const MAGIC: &[u8; 8] = b"BERTHPK2";
/// Bytes of the header: read these first to learn the image's length.
pub const HEADER_LEN: usize = 20;
/// The longest plugin name accepted.
pub const MAX_NAME: usize = 64;

/// Why an image cannot be used (or built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Not a plugin image (erased flash reads as `0xFF`s).
    NoImage,
    /// Shorter than its header says.
    Truncated,
    /// The body's CRC does not match: a partial write, or corruption.
    Checksum,
    /// A length or string inside the body is invalid.
    Corrupt(&'static str),
    /// A plugin to pack is unusable: bad name, or not a Wasm file.
    BadPlugin(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NoImage => f.write_str("no plugin image (wrong magic; was it flashed?)"),
            StoreError::Truncated => f.write_str("plugin image is truncated"),
            StoreError::Checksum => f.write_str("plugin image checksum mismatch"),
            StoreError::Corrupt(what) => write!(f, "plugin image is corrupt: {what}"),
            StoreError::BadPlugin(why) => write!(f, "cannot pack plugin: {why}"),
        }
    }
}

impl core::error::Error for StoreError {}

/// One stored plugin, borrowed from the image (or, for [`pack`], from the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The plugin's name.
    pub name: &'a str,
    /// Its `setup` config.
    pub config: Pairs,
    /// The GPIO pins it may use.
    pub gpio: GpioGrant,
    /// The component bytes.
    pub wasm: &'a [u8],
}

/// The whole image's length, from its header (to size the read from flash).
pub fn image_len(header: &[u8]) -> Result<usize, StoreError> {
    if header.len() < HEADER_LEN {
        return Err(StoreError::Truncated);
    }
    if &header[..8] != MAGIC {
        return Err(StoreError::NoImage);
    }
    Ok(HEADER_LEN + le32(&header[12..16]) as usize)
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], StoreError> {
        if self.rest.len() < n {
            return Err(StoreError::Corrupt(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u16(&mut self, what: &'static str) -> Result<usize, StoreError> {
        let b = self.take(2, what)?;
        Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
    }
    fn u32(&mut self, what: &'static str) -> Result<usize, StoreError> {
        Ok(le32(self.take(4, what)?) as usize)
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, StoreError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(a))
    }
    fn str(&mut self, what: &'static str) -> Result<&'a str, StoreError> {
        let n = self.u16(what)?;
        core::str::from_utf8(self.take(n, what)?).map_err(|_| StoreError::Corrupt(what))
    }
}

/// Parses a whole image (extra bytes after it, such as erased flash, are ignored).
pub fn parse(image: &[u8]) -> Result<Vec<Entry<'_>>, StoreError> {
    let total = image_len(image)?;
    if image.len() < total {
        return Err(StoreError::Truncated);
    }
    let count = le32(&image[8..12]) as usize;
    let body = &image[HEADER_LEN..total];
    if crc32fast::hash(body) != le32(&image[16..20]) {
        return Err(StoreError::Checksum);
    }
    let mut cur = Cursor { rest: body };
    let mut entries = Vec::new();
    for _ in 0..count {
        let name = cur.str("name")?;
        let pairs = cur.u16("config count")?;
        let mut config = Pairs::with_capacity(pairs.min(64));
        for _ in 0..pairs {
            let key = cur.str("config key")?;
            let value = cur.str("config value")?;
            config.push((key.into(), value.into()));
        }
        let gpio = GpioGrant::from_bits(cur.u64("gpio grant")?);
        let len = cur.u32("wasm length")?;
        let wasm = cur.take(len, "wasm bytes")?;
        entries.push(Entry {
            name,
            config,
            gpio,
            wasm,
        });
    }
    if !cur.rest.is_empty() {
        return Err(StoreError::Corrupt("bytes after the last entry"));
    }
    Ok(entries)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn put_str(out: &mut Vec<u8>, s: &str, what: &str) -> Result<(), StoreError> {
    let len = u16::try_from(s.len())
        .map_err(|_| StoreError::BadPlugin(alloc::format!("{what} longer than 65535 bytes")))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Every pin that some plugin of the image was granted: the pins a board must prepare.
pub fn granted_pins(entries: &[Entry<'_>]) -> GpioGrant {
    GpioGrant::from_bits(entries.iter().fold(0, |pins, e| pins | e.gpio.bits()))
}

/// Builds an image from entries, in plugin order.
pub fn pack(plugins: &[Entry<'_>]) -> Result<Vec<u8>, StoreError> {
    let mut body = Vec::new();
    for Entry {
        name,
        config,
        gpio,
        wasm,
    } in plugins
    {
        if !valid_name(name) {
            return Err(StoreError::BadPlugin(alloc::format!(
                "invalid name {name:?} (1-{MAX_NAME} of a-z, 0-9, '-', '_')"
            )));
        }
        if !wasm.starts_with(b"\0asm") {
            return Err(StoreError::BadPlugin(alloc::format!(
                "{name} is not a Wasm file"
            )));
        }
        if plugins.iter().filter(|e| e.name == *name).count() > 1 {
            return Err(StoreError::BadPlugin(alloc::format!("{name} given twice")));
        }
        put_str(&mut body, name, "name")?;
        let pairs = u16::try_from(config.len())
            .map_err(|_| StoreError::BadPlugin(alloc::format!("{name}: too many config keys")))?;
        body.extend_from_slice(&pairs.to_le_bytes());
        for (k, v) in config.iter() {
            put_str(&mut body, k, "config key")?;
            put_str(&mut body, v, "config value")?;
        }
        body.extend_from_slice(&gpio.bits().to_le_bytes());
        let len = u32::try_from(wasm.len())
            .map_err(|_| StoreError::BadPlugin(alloc::format!("{name} is over 4 GiB")))?;
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(wasm);
    }
    let count = u32::try_from(plugins.len()).unwrap_or(u32::MAX);
    let body_len =
        u32::try_from(body.len()).map_err(|_| StoreError::BadPlugin("image over 4 GiB".into()))?;
    let mut image = Vec::with_capacity(HEADER_LEN + body.len());
    image.extend_from_slice(MAGIC);
    image.extend_from_slice(&count.to_le_bytes());
    image.extend_from_slice(&body_len.to_le_bytes());
    image.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    image.extend_from_slice(&body);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn entry<'a>(name: &'a str, config: Pairs, gpio: &[u8], wasm: &'a [u8]) -> Entry<'a> {
        Entry {
            name,
            config,
            gpio: GpioGrant::from_pins(gpio).unwrap(),
            wasm,
        }
    }

    fn sample() -> Vec<u8> {
        let cfg: Pairs = vec![("greeting".into(), "Ahoy".into())];
        pack(&[
            entry("hello", Pairs::new(), &[], b"\0asm-hello"),
            entry("chat", cfg, &[2, 8], b"\0asm-chat-bytes"),
        ])
        .unwrap()
    }

    #[test]
    fn round_trip_with_trailing_erased_flash() {
        let mut image = sample();
        assert_eq!(image_len(&image[..HEADER_LEN]), Ok(image.len()));
        image.extend_from_slice(&[0xFF; 100]);
        let entries = parse(&image).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "hello");
        assert!(entries[0].config.is_empty());
        assert!(entries[0].gpio.is_empty());
        assert_eq!(entries[0].wasm, b"\0asm-hello");
        assert_eq!(entries[1].config, vec![("greeting".into(), "Ahoy".into())]);
        assert_eq!(entries[1].gpio.pins().collect::<Vec<_>>(), [2, 8]);
    }

    #[test]
    fn damage_is_detected() {
        let image = sample();
        assert_eq!(parse(&[0xFF; 64]), Err(StoreError::NoImage));
        let mut old = image.clone();
        old[..8].copy_from_slice(b"BERTHPK1");
        assert_eq!(parse(&old), Err(StoreError::NoImage));
        assert_eq!(parse(&image[..10]), Err(StoreError::Truncated));
        assert_eq!(parse(&image[..image.len() - 1]), Err(StoreError::Truncated));
        for i in HEADER_LEN..image.len() {
            let mut bad = image.clone();
            bad[i] ^= 0x40;
            assert_eq!(parse(&bad), Err(StoreError::Checksum), "byte {i}");
        }
    }

    #[test]
    fn lengths_are_checked_even_with_a_valid_crc() {
        // A body whose entry claims more wasm than there is, with a matching CRC.
        let mut body = vec![1, 0, b'x', 0, 0];
        body.extend_from_slice(&0u64.to_le_bytes());
        body.extend_from_slice(&100u32.to_le_bytes());
        let mut image = MAGIC.to_vec();
        image.extend_from_slice(&1u32.to_le_bytes());
        image.extend_from_slice(&(body.len() as u32).to_le_bytes());
        image.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        image.extend_from_slice(&body);
        assert_eq!(parse(&image), Err(StoreError::Corrupt("wasm bytes")));
    }

    #[test]
    fn pack_refuses_bad_plugins() {
        let e = |name, wasm| entry(name, Pairs::new(), &[], wasm);
        assert!(pack(&[e("bad name", b"\0asm")]).is_err());
        assert!(pack(&[e("", b"\0asm")]).is_err());
        assert!(pack(&[e("x", b"ELF")]).is_err());
        assert!(pack(&[e("x", b"\0asm"), e("x", b"\0asm")]).is_err());
        assert_eq!(parse(&pack(&[]).unwrap()), Ok(vec![]));
    }
}
