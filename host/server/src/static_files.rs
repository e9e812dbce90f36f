//! Static mounts and file grants: which file a URL or a plugin's `Response::file` names,
//! and whether it may be served.
//!
//! Mounts come from `[[static]]` (the operator's, served as given) and from plugin
//! registrations (`mount_static`), which are honoured only inside the folders that
//! `[grants.<plugin>]` lists. Every lookup refuses, with 403, what could leave its root:
//! berth-core's [`safe_segments`] rule, which the embedded runtime applies too (`..` and
//! `.` segments, also when they arrived percent-encoded: the path is decoded before it
//! gets here; empty segments, `//etc/passwd`; backslashes, NUL bytes), absolute plugin
//! paths, and symbolic links that resolve outside the root.
//!
//! **Mounts never serve dotfiles.** A URL path with a segment starting with `.`
//! (`/static/.env`, `/static/.git/config`) answers 404, as does a name that resolves
//! through a symbolic link to such a path below the root: a folder published whole
//! often holds a `.git`, `.env` or `.htpasswd` nobody meant to publish. 404 and not 403,
//! so the answer does not say whether the file exists. (`.` and `..` segments stay
//! 403: they are attempts to leave the root, not names of files.) A plugin's
//! `Response::file` names its file itself, so it is not filtered.

use std::path::{Path, PathBuf};

use berth_core::files::{is_hidden, safe_segments, strip_prefix};
use berth_core::pipeline::PluginEntry;

use crate::config::StaticConfig;

/// Why start-up refused a static mount or grant.
#[derive(Debug, thiserror::Error)]
#[error("static files: {0}")]
pub struct StaticError(String);

/// One served folder.
#[derive(Debug, Clone)]
struct Mount {
    prefix: String,
    /// Canonical.
    root: PathBuf,
    max_age: u32,
}

/// Where a request for a file ends up.
#[derive(Debug, PartialEq, Eq)]
pub enum Located {
    /// Serve this file (canonical path), with this `max-age` when it came from a mount.
    File(PathBuf, Option<u32>),
    /// A folder named without its trailing slash: redirect to this path.
    AddSlash(String),
    /// Refused: 403 (escapes its root or not granted) or 404.
    Refused(u16),
}

/// The mounts of a running server and the folders each plugin was granted.
#[derive(Debug, Default)]
pub struct StaticFiles {
    /// Longest prefix first.
    mounts: Vec<Mount>,
    /// Per plugin (in plugin order): its granted folders, canonical.
    grants: Vec<Vec<PathBuf>>,
    /// Canonical config folder: plugin paths are relative to it.
    base: PathBuf,
}

fn canonical(dir: &Path, what: &str) -> Result<PathBuf, StaticError> {
    let real = dir
        .canonicalize()
        .map_err(|e| StaticError(format!("{what} {}: {e}", dir.display())))?;
    if !real.is_dir() {
        return Err(StaticError(format!(
            "{what} {} is not a folder",
            dir.display()
        )));
    }
    Ok(real)
}

impl StaticFiles {
    /// Resolves the config's mounts and grants and the plugins' requested mounts. A
    /// missing `[[static]]` or granted folder stops start-up; a plugin mount outside its
    /// grants is skipped with a warning.
    pub fn resolve(
        config: &StaticConfig,
        plugins: &[PluginEntry],
    ) -> Result<StaticFiles, StaticError> {
        let base = config
            .base
            .canonicalize()
            .unwrap_or_else(|_| config.base.clone());
        let mut mounts = Vec::new();
        for m in &config.mounts {
            mounts.push(Mount {
                prefix: m.prefix.clone(),
                root: canonical(&m.dir, "[[static]] dir")?,
                max_age: m.max_age,
            });
        }
        for name in config.grants.keys() {
            if !plugins.iter().any(|p| &p.name == name) {
                tracing::warn!("[grants.{name}] names no loaded plugin");
            }
        }
        let mut grants = Vec::new();
        for plugin in plugins {
            let dirs = config
                .grants
                .get(&plugin.name)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let dirs = dirs
                .iter()
                .map(|d| canonical(d, &format!("[grants.{}] dir", plugin.name)))
                .collect::<Result<Vec<_>, _>>()?;
            for m in &plugin.registration.mounts {
                let prefix = match berth_core::files::mount_prefix(&m.prefix) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(plugin = %plugin.name, "mount skipped: {e}");
                        continue;
                    }
                };
                let root = base.join(&m.dir).canonicalize().ok().filter(|r| r.is_dir());
                match root.filter(|r| dirs.iter().any(|d| r.starts_with(d))) {
                    Some(root) => mounts.push(Mount {
                        prefix,
                        root,
                        max_age: m.max_age,
                    }),
                    None => tracing::warn!(
                        plugin = %plugin.name,
                        "mount {} -> {} skipped: not inside a folder [grants.{}] lists",
                        m.prefix, m.dir, plugin.name
                    ),
                }
            }
            grants.push(dirs);
        }
        // Longest prefix wins; among equal prefixes, the first declared (stable sort).
        mounts.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
        for m in &mounts {
            tracing::info!(
                "static {} -> {} (max-age {})",
                m.prefix,
                m.root.display(),
                m.max_age
            );
        }
        Ok(StaticFiles {
            mounts,
            grants,
            base,
        })
    }

    /// The URL prefixes served, for the pipeline's router fallback.
    pub fn prefixes(&self) -> Vec<String> {
        self.mounts.iter().map(|m| m.prefix.clone()).collect()
    }

    /// The file a URL path (already percent-decoded) names under the mounts.
    pub fn locate_url(&self, path: &str) -> Located {
        let Some((mount, rest)) = self.mounts.iter().find_map(|m| {
            let rest = strip_prefix(path, &m.prefix)?;
            Some((m, rest))
        }) else {
            return Located::Refused(404);
        };
        let Some(segments) = safe_segments(rest) else {
            return Located::Refused(403);
        };
        if is_hidden(&segments) {
            return Located::Refused(404);
        }
        let wants_folder = rest.ends_with('/');
        let found = within(&mount.root, &mount.root.join(segments.join("/")));
        let found = found.and_then(|real| no_dotfile(&mount.root, real));
        match found {
            Ok(real) if real.is_dir() && !wants_folder => Located::AddSlash(format!("{path}/")),
            Ok(real) if real.is_dir() => match within(&mount.root, &real.join("index.html"))
                .and_then(|index| no_dotfile(&mount.root, index))
            {
                Ok(index) if index.is_file() => Located::File(index, Some(mount.max_age)),
                Ok(_) => Located::Refused(404),
                Err(status) => Located::Refused(status),
            },
            Ok(real) if real.is_file() => Located::File(real, Some(mount.max_age)),
            Ok(_) => Located::Refused(404),
            Err(status) => Located::Refused(status),
        }
    }

    /// The file a plugin's `Response::file(path)` names: relative to the config folder
    /// and inside one of the plugin's granted folders.
    pub fn locate_for_plugin(&self, plugin: usize, path: &str) -> Located {
        let dirs = self.grants.get(plugin).map(Vec::as_slice).unwrap_or(&[]);
        if path.starts_with('/') || path.contains(':') {
            return Located::Refused(403);
        }
        let Some(segments) = safe_segments(path) else {
            return Located::Refused(403);
        };
        let candidate = self.base.join(segments.join("/"));
        let Some(root) = dirs.iter().find(|d| candidate.starts_with(d)) else {
            return Located::Refused(403);
        };
        match within(root, &candidate) {
            Ok(real) if real.is_file() => Located::File(real, None),
            Ok(_) => Located::Refused(404),
            Err(status) => Located::Refused(status),
        }
    }
}

/// `real` (canonical, under `root`) unless a component below `root` is a dotfile or
/// dot-folder, reached through a symbolic link with an innocent name: then 404.
fn no_dotfile(root: &Path, real: PathBuf) -> Result<PathBuf, u16> {
    let below = real.strip_prefix(root).map_err(|_| 403u16)?;
    let dotted = below
        .components()
        .any(|c| c.as_os_str().as_encoded_bytes().first() == Some(&b'.'));
    if dotted {
        Err(404)
    } else {
        Ok(real)
    }
}

/// Resolves symbolic links; the result must still lie under `root` (else 403). A path
/// that does not exist is 404.
fn within(root: &Path, candidate: &Path) -> Result<PathBuf, u16> {
    match candidate.canonicalize() {
        Ok(real) if real.starts_with(root) => Ok(real),
        Ok(_) => Err(403),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(403),
        Err(_) => Err(404),
    }
}
