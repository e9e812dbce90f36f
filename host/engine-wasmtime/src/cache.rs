//! The compiled-artifact cache: Cranelift's output for each plugin file, kept on disk so
//! a restart loads a plugin in milliseconds instead of compiling it again.
//!
//! An entry is named by the SHA-256 of the component's bytes and of the engine's
//! compatibility hash (wasmtime version, target, every setting that changes code), so a
//! changed plugin, a wasmtime upgrade or a different `plugin_memory` simply misses. A
//! corrupt or stale entry is recompiled and overwritten; the cache never fails a load.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

/// Feeds `Hash` implementations into SHA-256, so the engine's compatibility hash has a
/// stable digest (std's `DefaultHasher` may change between Rust releases).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Only `write` is used: the digest is taken from the inner state.
        0
    }
}

/// Where compiled plugins live between runs.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// A cache in `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> ArtifactCache {
        ArtifactCache { dir: dir.into() }
    }

    /// The folder the entries are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, engine: &wasmtime::Engine, bytes: &[u8]) -> PathBuf {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.0.update(Sha256::digest(bytes));
        let key: String = hasher
            .0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The component for `bytes`: from the cache when an entry exists and loads, else
    /// compiled and then stored.
    pub fn load(&self, engine: &wasmtime::Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
        let entry = self.entry(engine, bytes);
        if entry.is_file() {
            match deserialize(engine, &entry) {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!("recompiling {}: {e:#}", entry.display()),
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&entry, &component) {
            tracing::warn!(
                "cannot cache compiled plugin in {}: {e:#}",
                self.dir.display()
            );
        }
        Ok(component)
    }

    fn store(&self, entry: &Path, component: &Component) -> wasmtime::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Write then rename: a concurrent reader sees the whole entry or none.
        let partial = entry.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&partial, component.serialize()?)?;
        std::fs::rename(&partial, entry)?;
        Ok(())
    }
}

/// Loads a compiled entry without compiling.
#[allow(unsafe_code)]
fn deserialize(engine: &wasmtime::Engine, entry: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output. Entries are
    // written only by `ArtifactCache::store` from `Component::serialize`, in a folder
    // the operator gives the server for its own use; the name binds the entry to the
    // plugin's bytes and to this engine's settings, and wasmtime itself rejects entries
    // from another version or configuration. Whoever can write that folder can already
    // replace the plugins or the server binary, so it grants nothing new.
    unsafe { Component::deserialize_file(engine, entry) }
}
