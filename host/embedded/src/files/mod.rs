//! Static files on the embedded runtime: seed 002's `mount_static`, `[[static]]` mounts
//! and `Response::file`, served from folders packed into the device store (or read from
//! disk once at start by the desktop adapter).
//!
//! The rules are berth-core's [`files`](berth_core::files), the same the desktop server
//! applies to its disk: what a path may name (`..` and empty segments → 403, dotfiles
//! under a mount → 404), `ETag` and `If-None-Match` (304), one byte range (206/416),
//! `Cache-Control: max-age` for mounts, and a plugin's `Response::file` only inside the
//! folders its `[grants.<plugin>] dirs` lists. What differs is only where the bytes are:
//! here, in memory, so a file is written straight from its slice and never copied per
//! request ([`send`]). The `ETag` is the contents' CRC-32 and length (the files cannot
//! change while served); there is no `Last-Modified`, since a device has no calendar.
//! What is served comes from a [`StaticConfig`] ([`config`]).
//!
//! **Compression**: this runtime never compresses on the fly (a microcontroller has
//! neither the CPU nor the memory to spare), but serves a precompressed sibling —
//! `app.js.br` or `app.js.gz` next to `app.js`, packed with it — when the client's
//! `Accept-Encoding` takes it, with the original's `Content-Type`, its own `ETag` and
//! `Vary: Accept-Encoding`, by berth-core's [`compression`](berth_core::compression)
//! rules (the server's too). A range request gets the original.

mod config;
mod send;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use berth_core::compression::{Coding, Policy};
use berth_core::files;
use berth_core::host::Level;
use berth_core::model::Registration;

use crate::net::Platform;

pub use config::{StaticConfig, StaticError, StaticFile, StaticFolder};
pub(crate) use send::{send, FileRequest};

struct Served {
    path: String,
    content_type: String,
    etag: String,
    bytes: Vec<u8>,
    /// Its precompressed siblings, by coding: indices into the folder's files.
    siblings: Vec<(Coding, usize)>,
}

struct Folder {
    dir: String,
    /// Sorted by path, for binary search.
    files: Vec<Served>,
}

struct Mount {
    prefix: String,
    folder: usize,
    /// Path inside the folder that the prefix maps to (`""`: the folder itself).
    sub: String,
    max_age: u32,
}

/// A file found for a request.
pub(crate) struct Found<'a> {
    file: &'a Served,
    /// The files of its folder (where its siblings are).
    folder: &'a [Served],
    max_age: Option<u32>,
}

impl<'a> Found<'a> {
    /// The codings a precompressed sibling exists for.
    fn precompressed(&self) -> Vec<Coding> {
        self.file.siblings.iter().map(|(c, _)| *c).collect()
    }

    /// The sibling for `coding`.
    fn sibling(&self, coding: Coding) -> Option<&'a Served> {
        let (_, at) = self.file.siblings.iter().find(|(c, _)| *c == coding)?;
        self.folder.get(*at)
    }
}

/// Where a request for a file ends up.
pub(crate) enum Located<'a> {
    /// Serve this file.
    File(Found<'a>),
    /// A folder named without its trailing slash: redirect to this path.
    AddSlash(String),
    /// Refused: 403 (escapes its root, a dotfile, not granted) or 404.
    Refused(u16),
}

/// The folders a running server serves, its mounts, and each plugin's grants.
#[derive(Default)]
pub struct StaticFiles {
    folders: Vec<Folder>,
    /// Longest prefix first.
    mounts: Vec<Mount>,
    /// Per plugin, in plugin order: indices into `folders`.
    grants: Vec<Vec<usize>>,
    /// `[server.compression]`.
    compression: Policy,
}

/// `path` split into the folder it lies in (among `candidates`) and the rest.
fn split_folder<'p>(
    folders: &[Folder],
    candidates: impl Iterator<Item = usize>,
    path: &'p str,
) -> Option<(usize, &'p str)> {
    candidates
        .filter_map(|i| {
            let dir = folders.get(i)?.dir.as_str();
            let rest = path.strip_prefix(dir)?;
            match rest.strip_prefix('/') {
                Some(rest) => Some((i, rest)),
                None if rest.is_empty() => Some((i, rest)),
                None => None,
            }
        })
        // The deepest folder wins (`www/img` over `www`).
        .max_by_key(|(i, _)| folders.get(*i).map_or(0, |f| f.dir.len()))
}

impl StaticFiles {
    /// Resolves the configuration against the loaded plugins (`plugins[i]` is plugin `i`,
    /// with its name). A `[[static]]` mount or grant that names a missing folder stops
    /// start-up; a plugin's `mount_static` outside its grants is skipped with a warning,
    /// exactly as on the desktop server.
    pub fn resolve<P: Platform>(
        config: StaticConfig,
        plugins: &[(&str, &Registration)],
        platform: &P,
    ) -> Result<StaticFiles, StaticError> {
        let mut folders = Vec::with_capacity(config.folders.len());
        for f in config.folders {
            let dir = f
                .dir
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string();
            if files::safe_segments(&dir).is_none() {
                return Err(StaticError(alloc::format!(
                    "unsafe folder name {:?}",
                    f.dir
                )));
            }
            let mut served: Vec<Served> = f
                .files
                .into_iter()
                .map(|file| Served {
                    etag: files::content_etag(
                        crc32fast::hash(&file.bytes),
                        file.bytes.len() as u64,
                    ),
                    path: file.path,
                    content_type: file.content_type,
                    bytes: file.bytes,
                    siblings: Vec::new(),
                })
                .collect();
            served.sort_by(|a, b| a.path.cmp(&b.path));
            link_siblings(&mut served);
            folders.push(Folder { dir, files: served });
        }
        let find = |name: &str| {
            let name = name.trim_start_matches("./").trim_end_matches('/');
            folders.iter().position(|f| f.dir == name)
        };
        let mut mounts = Vec::new();
        for (prefix, dir, max_age) in &config.mounts {
            let prefix = files::mount_prefix(prefix).map_err(StaticError)?;
            let folder = find(dir).ok_or_else(|| {
                StaticError(alloc::format!(
                    "[[static]] {prefix}: folder {dir} is not packed"
                ))
            })?;
            mounts.push(Mount {
                prefix,
                folder,
                sub: String::new(),
                max_age: *max_age,
            });
        }
        let mut grants = Vec::with_capacity(plugins.len());
        for (name, registration) in plugins {
            let dirs = config
                .grants
                .iter()
                .filter(|(plugin, _)| plugin == name)
                .flat_map(|(_, dirs)| dirs.iter())
                .map(|dir| {
                    find(dir).ok_or_else(|| {
                        StaticError(alloc::format!("[grants.{name}] dir {dir} is not packed"))
                    })
                })
                .collect::<Result<Vec<usize>, StaticError>>()?;
            for m in &registration.mounts {
                let wanted = m.dir.trim_start_matches("./").trim_end_matches('/');
                let inside = files::safe_segments(wanted)
                    .and_then(|_| split_folder(&folders, dirs.iter().copied(), wanted));
                match (files::mount_prefix(&m.prefix), inside) {
                    (Ok(prefix), Some((folder, sub))) => mounts.push(Mount {
                        prefix,
                        folder,
                        sub: sub.to_string(),
                        max_age: m.max_age,
                    }),
                    (Err(e), _) => platform.log(
                        name,
                        Level::Warn,
                        format_args!("mount {} skipped: {e}", m.prefix),
                    ),
                    (Ok(_), None) => platform.log(
                        name,
                        Level::Warn,
                        format_args!(
                            "mount {} -> {} skipped: not inside a folder [grants.{name}] lists",
                            m.prefix, m.dir
                        ),
                    ),
                }
            }
            grants.push(dirs);
        }
        // Longest prefix wins; among equal prefixes, the first declared (stable sort).
        mounts.sort_by_key(|m| core::cmp::Reverse(m.prefix.len()));
        Ok(StaticFiles {
            folders,
            mounts,
            grants,
            compression: config.compression,
        })
    }

    /// `[server.compression]`, as configured.
    pub(crate) fn compression(&self) -> &Policy {
        &self.compression
    }

    /// The URL prefixes served, for the pipeline's router fallback.
    pub fn prefixes(&self) -> Vec<String> {
        self.mounts.iter().map(|m| m.prefix.clone()).collect()
    }

    /// Files and bytes held, for the start-up log.
    pub fn size(&self) -> (usize, usize) {
        let files = self.folders.iter().map(|f| f.files.len()).sum();
        let bytes = self
            .folders
            .iter()
            .flat_map(|f| f.files.iter())
            .map(|f| f.bytes.len())
            .sum();
        (files, bytes)
    }

    fn file(&self, folder: usize, path: &str) -> Option<Found<'_>> {
        let files = &self.folders.get(folder)?.files;
        let at = files.binary_search_by(|f| f.path.as_str().cmp(path)).ok()?;
        Some(Found {
            file: files.get(at)?,
            folder: files,
            max_age: None,
        })
    }

    fn is_folder(&self, folder: usize, path: &str) -> bool {
        let Some(f) = self.folders.get(folder) else {
            return false;
        };
        if path.is_empty() {
            return true;
        }
        // Sorted: the first path after `path/` (if any) starts with it.
        let below = alloc::format!("{path}/");
        let at = f.files.partition_point(|x| x.path < below);
        f.files.get(at).is_some_and(|x| x.path.starts_with(&below))
    }

    /// The file a URL path (already percent-decoded) names under the mounts.
    pub(crate) fn locate_url<'a>(&'a self, url: &str) -> Located<'a> {
        let Some((mount, rest)) = self
            .mounts
            .iter()
            .find_map(|m| Some((m, files::strip_prefix(url, &m.prefix)?)))
        else {
            return Located::Refused(404);
        };
        let Some(segments) = files::safe_segments(rest) else {
            return Located::Refused(403);
        };
        if files::is_hidden(&segments) {
            return Located::Refused(404);
        }
        let mut path = mount.sub.clone();
        for s in segments {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(s);
        }
        let found = |file: Found<'a>| -> Located<'a> {
            Located::File(Found {
                max_age: Some(mount.max_age),
                ..file
            })
        };
        if let Some(file) = self.file(mount.folder, &path) {
            return found(file);
        }
        if !self.is_folder(mount.folder, &path) {
            return Located::Refused(404);
        }
        if !rest.ends_with('/') {
            return Located::AddSlash(alloc::format!("{url}/"));
        }
        let index = if path.is_empty() {
            String::from("index.html")
        } else {
            alloc::format!("{path}/index.html")
        };
        self.file(mount.folder, &index)
            .map_or(Located::Refused(404), found)
    }

    /// The file a plugin's `Response::file(path)` names: relative to the config folder
    /// and inside one of the plugin's granted folders.
    pub(crate) fn locate_for_plugin(&self, plugin: usize, path: &str) -> Located<'_> {
        let dirs = self.grants.get(plugin).map(Vec::as_slice).unwrap_or(&[]);
        if path.starts_with('/') || path.contains(':') {
            return Located::Refused(403);
        }
        let path = path.trim_start_matches("./");
        if files::safe_segments(path).is_none() {
            return Located::Refused(403);
        }
        let Some((folder, rest)) = split_folder(&self.folders, dirs.iter().copied(), path) else {
            return Located::Refused(403);
        };
        match self.file(folder, rest) {
            Some(found) => Located::File(found),
            None => Located::Refused(404),
        }
    }
}

/// Links each file (sorted by path) to its precompressed siblings: `a.css.br` and
/// `a.css.gz` for `a.css`. The siblings stay files of their own too.
fn link_siblings(files: &mut [Served]) {
    for i in 0..files.len() {
        let mut siblings = Vec::new();
        for coding in Coding::ALL {
            let Some(file) = files.get(i) else { break };
            let name = alloc::format!("{}.{}", file.path, coding.extension());
            if let Ok(at) = files.binary_search_by(|f| f.path.as_str().cmp(&name)) {
                siblings.push((coding, at));
            }
        }
        if let Some(file) = files.get_mut(i) {
            file.siblings = siblings;
        }
    }
}

#[cfg(test)]
mod tests;
