//! The Rust guest SDK and the WIT this `berth` was built with, carried in the binary
//! (build.rs) and unpacked into a versioned cache folder, so a crate made by `berth
//! new` anywhere builds against the contract of the host that will run it, with no
//! checkout of this repository and no published SDK.
//!
//! The folder is `<cache>/sdk-<version>-<hash>/` holding `guest-sdk/` and `wit/` side
//! by side (the SDK finds the WIT at `../wit`). `<cache>` is `$BERTH_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/berth`, else `~/.cache/berth`.

use std::path::{Path, PathBuf};

use anyhow::Context;

mod carried {
    include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));
}

/// Written last: a folder without it is incomplete and is unpacked again.
const MARKER: &str = ".complete";

/// The cache folder every carried SDK version is unpacked under.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("BERTH_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("berth");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache").join("berth"),
        None => std::env::temp_dir().join("berth-cache"),
    }
}

/// This binary's SDK folder name: `sdk-<version>-<hash>`.
fn folder_name() -> String {
    format!("sdk-{}-{}", env!("CARGO_PKG_VERSION"), carried::HASH)
}

/// The unpacked `guest-sdk/` of this binary, unpacking it first when needed.
pub fn unpack() -> anyhow::Result<PathBuf> {
    let root = cache_root();
    let dir = root.join(folder_name());
    if !dir.join(MARKER).is_file() {
        unpack_into(&root, &dir)
            .with_context(|| format!("cannot unpack the Berth SDK into {}", dir.display()))?;
    }
    Ok(dir.join("guest-sdk"))
}

/// The carried SDK's lock file: the versions of its dependencies this host was tested
/// with, the starting point of a new crate's own lock.
pub fn lock_file() -> Option<&'static [u8]> {
    carried::FILES
        .iter()
        .find(|(path, _)| *path == "guest-sdk/Cargo.lock")
        .map(|(_, bytes)| *bytes)
}

/// Whether `manifest` (a crate's `Cargo.toml` text) depends on an SDK in the cache.
pub fn used_by(manifest: &str) -> bool {
    manifest.contains(&cache_root().display().to_string())
}

fn unpack_into(root: &Path, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(root)?;
    // Unpack beside the final folder, then rename: another `berth` unpacking at the
    // same time never sees half a folder.
    let tmp = root.join(format!(".{}-{}", folder_name(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for (rel, bytes) in carried::FILES {
        let path = tmp.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
    }
    std::fs::write(tmp.join(MARKER), carried::HASH)?;
    if dir.exists() && !dir.join(MARKER).is_file() {
        // A folder left half-written (by hand, or an older berth): replace it.
        std::fs::remove_dir_all(dir)?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        // Someone else finished first: theirs is as good as ours.
        if !dir.join(MARKER).is_file() {
            return Err(e.into());
        }
    }
    Ok(())
}
