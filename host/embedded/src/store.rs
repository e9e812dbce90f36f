//! The device store: a flash partition holding every plugin, its config, and the static
//! files the device serves.
//!
//! A simple file table, written once by `berth device pack` and read at boot; the
//! device never writes it, so a wear-levelled key-value store (sequential-storage,
//! ekv) would add code for nothing. The image is:
//!
//! ```text
//! header  "BERTHPK4" · count: u32 · body_len: u32 · crc32(body): u32      (little-endian)
//! body    count × plugin · folders: u16 × folder · mounts: u16 × mount · admin
//! plugin  name: str16 · pairs: u16 × (key: str16 · value: str16) · gpio: u64
//!         · dirs: u16 × str16 · wasm_len: u32 · wasm
//! folder  dir: str16 · files: u32 × (path: str16 · content_type: str16 · len: u32 · bytes)
//! mount   prefix: str16 · dir: str16 · max_age: u32
//! admin   len: u8 (0, or 32) · SHA-256 of `[admin] token` · max_upload: u32 (when 32)
//! str16   len: u16 · UTF-8 bytes
//! ```
//!
//! `gpio` is the plugin's `[grants.<plugin>] gpio` as a bit set (bit `n` = pin `n`) and
//! `dirs` its `[grants.<plugin>] dirs`, by folder name. A folder is a directory packed
//! whole (`[[static]]` dirs, granted dirs, `--static`), named by its path relative to
//! the config file; a mount serves one folder at a URL prefix (`[[static]]`). The
//! `Content-Type` of each file is decided when packing, so the device needs no MIME table.
//! `admin` turns the device's admin endpoint on (`/_berth/plugins`, see
//! [`crate::admin`]); only the token's hash is stored, so reading the flash does not give
//! it away. (Versions 1 to 3 had no grants, no files or no admin; their images are
//! refused as [`StoreError::NoImage`] and must be packed again.)
//!
//! On the device the image lives in one of two slots ([`crate::slots`]), so replacing it
//! is power-safe; [`crate::store_edit`] rewrites it a plugin at a time.
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
pub const MAGIC: &[u8; 8] = b"BERTHPK4";
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
    /// The folders (by [`Folder::dir`]) it may mount or send files from.
    pub dirs: Vec<&'a str>,
    /// The component bytes.
    pub wasm: &'a [u8],
}

/// A packed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder<'a> {
    /// Its name: the directory's path relative to the config file (`www`, `data/img`).
    pub dir: &'a str,
    /// Its files, every level below it.
    pub files: Vec<File<'a>>,
}

/// One packed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File<'a> {
    /// Its path inside the folder, `/`-separated (`css/site.css`).
    pub path: &'a str,
    /// The `Content-Type` to serve it with.
    pub content_type: &'a str,
    /// Its contents.
    pub bytes: &'a [u8],
}

/// A folder served at a URL prefix (`[[static]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount<'a> {
    /// The URL prefix (`/static`).
    pub prefix: &'a str,
    /// The folder it serves (a [`Folder::dir`]).
    pub dir: &'a str,
    /// `Cache-Control: max-age`, in seconds.
    pub max_age: u32,
}

/// A whole image: plugins, folders, mounts, and the admin token's hash.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image<'a> {
    /// The plugins, in plugin order.
    pub plugins: Vec<Entry<'a>>,
    /// The packed folders.
    pub folders: Vec<Folder<'a>>,
    /// The `[[static]]` mounts, in config order.
    pub mounts: Vec<Mount<'a>>,
    /// `[admin]`: the admin endpoint is on when it is set.
    pub admin: Option<AdminEntry>,
}

/// What the device's admin endpoint needs of `[admin]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminEntry {
    /// SHA-256 of the token ([`token_hash`]).
    pub token_sha256: [u8; 32],
    /// `[admin] max_upload`: the largest `.wasm` a push may send, in bytes.
    pub max_upload: u32,
}

/// SHA-256 of an admin token, as the image stores it.
pub fn token_hash(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
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
pub fn parse(image: &[u8]) -> Result<Image<'_>, StoreError> {
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
    // Capacities from the image are capped: a count is only a claim until its entries
    // have been read.
    let mut plugins = Vec::with_capacity(count.min(16));
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
        let ndirs = cur.u16("grant count")?;
        let mut dirs = Vec::with_capacity(ndirs.min(16));
        for _ in 0..ndirs {
            dirs.push(cur.str("granted folder")?);
        }
        let len = cur.u32("wasm length")?;
        let wasm = cur.take(len, "wasm bytes")?;
        plugins.push(Entry {
            name,
            config,
            gpio,
            dirs,
            wasm,
        });
    }
    let nfolders = cur.u16("folder count")?;
    let mut folders = Vec::with_capacity(nfolders.min(16));
    for _ in 0..nfolders {
        let dir = cur.str("folder name")?;
        let nfiles = cur.u32("file count")?;
        let mut files = Vec::with_capacity(nfiles.min(64));
        for _ in 0..nfiles {
            let path = cur.str("file path")?;
            let content_type = cur.str("content type")?;
            let len = cur.u32("file length")?;
            let bytes = cur.take(len, "file bytes")?;
            files.push(File {
                path,
                content_type,
                bytes,
            });
        }
        folders.push(Folder { dir, files });
    }
    let nmounts = cur.u16("mount count")?;
    let mut mounts = Vec::with_capacity(nmounts.min(16));
    for _ in 0..nmounts {
        let prefix = cur.str("mount prefix")?;
        let dir = cur.str("mount folder")?;
        let max_age = u32::try_from(cur.u32("max-age")?).unwrap_or(u32::MAX);
        if !folders.iter().any(|f| f.dir == dir) {
            return Err(StoreError::Corrupt("mount of a folder the image lacks"));
        }
        mounts.push(Mount {
            prefix,
            dir,
            max_age,
        });
    }
    let admin = match cur.take(1, "admin")?[0] {
        0 => None,
        32 => {
            let mut token_sha256 = [0u8; 32];
            token_sha256.copy_from_slice(cur.take(32, "admin token hash")?);
            let max_upload = le32(cur.take(4, "admin max_upload")?);
            Some(AdminEntry {
                token_sha256,
                max_upload,
            })
        }
        _ => return Err(StoreError::Corrupt("admin token hash length")),
    };
    if !cur.rest.is_empty() {
        return Err(StoreError::Corrupt("bytes after the last entry"));
    }
    Ok(Image {
        plugins,
        folders,
        mounts,
        admin,
    })
}

/// Whether `name` may name a plugin: 1 to [`MAX_NAME`] of `a-z A-Z 0-9 - _`.
pub fn valid_name(name: &str) -> bool {
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

fn bad(why: alloc::string::String) -> StoreError {
    StoreError::BadPlugin(why)
}

fn put_u16(out: &mut Vec<u8>, n: usize, what: &str) -> Result<(), StoreError> {
    let n = u16::try_from(n).map_err(|_| bad(alloc::format!("more than 65535 {what}")))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, n: usize, what: &str) -> Result<(), StoreError> {
    let n = u32::try_from(n).map_err(|_| bad(alloc::format!("{what} over 4 GiB")))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// Builds an image. Plugins keep their order; every mount and grant must name a folder
/// of the image.
pub fn pack(image: &Image<'_>) -> Result<Vec<u8>, StoreError> {
    let has_folder = |dir: &str| image.folders.iter().any(|f| f.dir == dir);
    let mut body = Vec::new();
    for Entry {
        name,
        config,
        gpio,
        dirs,
        wasm,
    } in &image.plugins
    {
        if !valid_name(name) {
            return Err(bad(alloc::format!(
                "invalid name {name:?} (1-{MAX_NAME} of a-z, 0-9, '-', '_')"
            )));
        }
        if !wasm.starts_with(b"\0asm") {
            return Err(bad(alloc::format!("{name} is not a Wasm file")));
        }
        if image.plugins.iter().filter(|e| e.name == *name).count() > 1 {
            return Err(bad(alloc::format!("{name} given twice")));
        }
        put_str(&mut body, name, "name")?;
        put_u16(&mut body, config.len(), "config keys")?;
        for (k, v) in config.iter() {
            put_str(&mut body, k, "config key")?;
            put_str(&mut body, v, "config value")?;
        }
        body.extend_from_slice(&gpio.bits().to_le_bytes());
        put_u16(&mut body, dirs.len(), "granted folders")?;
        for dir in dirs {
            if !has_folder(dir) {
                return Err(bad(alloc::format!(
                    "{name}: granted folder {dir} is not packed"
                )));
            }
            put_str(&mut body, dir, "granted folder")?;
        }
        put_u32(&mut body, wasm.len(), name)?;
        body.extend_from_slice(wasm);
    }
    put_u16(&mut body, image.folders.len(), "folders")?;
    for folder in &image.folders {
        if image.folders.iter().filter(|f| f.dir == folder.dir).count() > 1 {
            return Err(bad(alloc::format!("folder {} given twice", folder.dir)));
        }
        put_str(&mut body, folder.dir, "folder name")?;
        put_u32(&mut body, folder.files.len(), "files")?;
        for file in &folder.files {
            let segments = berth_core::files::safe_segments(file.path);
            if segments.is_none_or(|s| s.is_empty() || berth_core::files::is_hidden(&s)) {
                return Err(bad(alloc::format!(
                    "{}: unsafe file path {:?}",
                    folder.dir,
                    file.path
                )));
            }
            put_str(&mut body, file.path, "file path")?;
            put_str(&mut body, file.content_type, "content type")?;
            put_u32(&mut body, file.bytes.len(), file.path)?;
            body.extend_from_slice(file.bytes);
        }
    }
    put_u16(&mut body, image.mounts.len(), "mounts")?;
    for mount in &image.mounts {
        if !has_folder(mount.dir) {
            return Err(bad(alloc::format!(
                "mount {}: folder {} is not packed",
                mount.prefix,
                mount.dir
            )));
        }
        put_str(&mut body, mount.prefix, "mount prefix")?;
        put_str(&mut body, mount.dir, "mount folder")?;
        body.extend_from_slice(&mount.max_age.to_le_bytes());
    }
    match &image.admin {
        Some(admin) => {
            body.push(32);
            body.extend_from_slice(&admin.token_sha256);
            body.extend_from_slice(&admin.max_upload.to_le_bytes());
        }
        None => body.push(0),
    }
    let count = u32::try_from(image.plugins.len()).unwrap_or(u32::MAX);
    let body_len = u32::try_from(body.len()).map_err(|_| bad("image over 4 GiB".into()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
