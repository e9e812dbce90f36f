//! What the operator configured for static files on the embedded runtime — folders,
//! `[[static]]` mounts and folder grants — and how it travels in the device store.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// One file, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticFile {
    /// Its path inside the folder, `/`-separated (`css/site.css`).
    pub path: String,
    /// The `Content-Type` it is served with.
    pub content_type: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// A folder of files, named as the config names it (`www`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticFolder {
    /// The folder's name: its path relative to the config file.
    pub dir: String,
    /// Its files.
    pub files: Vec<StaticFile>,
}

/// What the operator configured: the folders, the `[[static]]` mounts, and the folders
/// each plugin was granted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticConfig {
    /// Every packed folder.
    pub folders: Vec<StaticFolder>,
    /// `[[static]]`: URL prefix, folder name, `max-age`.
    pub mounts: Vec<(String, String, u32)>,
    /// `[grants.<plugin>] dirs`: plugin name, folder names.
    pub grants: Vec<(String, Vec<String>)>,
    /// `[server.compression]`: which precompressed siblings (`app.js.br`, `app.js.gz`)
    /// may be served. A device image does not carry it: there the default holds (on,
    /// `br` then `gzip`), and what is served is what was packed.
    pub compression: berth_core::compression::Policy,
}

impl StaticConfig {
    /// The static part of a device store image.
    pub fn from_image(image: &crate::store::Image<'_>) -> StaticConfig {
        StaticConfig {
            folders: image
                .folders
                .iter()
                .map(|f| StaticFolder {
                    dir: f.dir.into(),
                    files: f
                        .files
                        .iter()
                        .map(|file| StaticFile {
                            path: file.path.into(),
                            content_type: file.content_type.into(),
                            bytes: file.bytes.to_vec(),
                        })
                        .collect(),
                })
                .collect(),
            mounts: image
                .mounts
                .iter()
                .map(|m| (m.prefix.into(), m.dir.into(), m.max_age))
                .collect(),
            grants: image
                .plugins
                .iter()
                .filter(|p| !p.dirs.is_empty())
                .map(|p| {
                    (
                        p.name.into(),
                        p.dirs.iter().map(|d| d.to_string()).collect(),
                    )
                })
                .collect(),
            compression: berth_core::compression::Policy::default(),
        }
    }

    /// The folders, as a store image holds them.
    pub fn store_folders(&self) -> Vec<crate::store::Folder<'_>> {
        self.folders
            .iter()
            .map(|f| crate::store::Folder {
                dir: &f.dir,
                files: f
                    .files
                    .iter()
                    .map(|file| crate::store::File {
                        path: &file.path,
                        content_type: &file.content_type,
                        bytes: &file.bytes,
                    })
                    .collect(),
            })
            .collect()
    }

    /// The `[[static]]` mounts, as a store image holds them.
    pub fn store_mounts(&self) -> Vec<crate::store::Mount<'_>> {
        self.mounts
            .iter()
            .map(|(prefix, dir, max_age)| crate::store::Mount {
                prefix,
                dir,
                max_age: *max_age,
            })
            .collect()
    }

    /// The folders `plugin` was granted.
    pub fn dirs_of(&self, plugin: &str) -> Vec<&str> {
        self.grants
            .iter()
            .filter(|(name, _)| name == plugin)
            .flat_map(|(_, dirs)| dirs.iter().map(String::as_str))
            .collect()
    }
}

/// Why the static configuration cannot be served. Start-up reports it and stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticError(pub String);

impl fmt::Display for StaticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "static files: {}", self.0)
    }
}

impl core::error::Error for StaticError {}
