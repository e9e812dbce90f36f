//! The compiled-artifact cache: Cranelift's output for each plugin file, kept on disk so
//! a restart loads a plugin in milliseconds instead of compiling it again.
//!
//! An entry is named by the SHA-256 of the component's bytes and of the engine's
//! compatibility hash (wasmtime version, target, every setting that changes code), so a
//! changed plugin, a wasmtime upgrade or a different `plugin_memory` simply misses. A
//! corrupt or stale entry is recompiled and overwritten; the cache never fails a load.
//!
//! An entry is machine code the server runs without checking it (see [`deserialize`]),
//! so the folder must be the server's alone: [`ArtifactCache::open`] creates it `0700`
//! and refuses one that another user owns or that group or others may write (a shared
//! `/tmp/…`, a `0777` folder). The caller then runs without a cache, compiling each
//! plugin at start, rather than load code someone else could have planted.

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

/// Why a cache folder is not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The folder could not be created or inspected.
    #[error("cannot create the cache folder {}: {source}", dir.display())]
    Create {
        /// The folder.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path exists and is not a folder.
    #[error("the cache folder {} is not a folder", dir.display())]
    NotAFolder {
        /// The path.
        dir: PathBuf,
    },
    /// Group or others may write the folder, so they could plant compiled code.
    #[error(
        "the cache folder {} is writable by other users (mode {mode:03o}): they could plant \
         code the server would run; `chmod go-w` it or set another [server] cache_dir",
        dir.display()
    )]
    WritableByOthers {
        /// The folder.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Another user owns the folder.
    #[error(
        "the cache folder {} belongs to another user (uid {owner}, this process runs as \
         {me}): set another [server] cache_dir",
        dir.display()
    )]
    NotOwned {
        /// The folder.
        dir: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// This process's effective uid.
        me: u32,
    },
}

impl ArtifactCache {
    /// A cache in `dir`: created (with its missing parents) as `0700`, and refused when
    /// it is not the server's alone (see the module docs).
    pub fn open(dir: impl Into<PathBuf>) -> Result<ArtifactCache, CacheError> {
        let dir = dir.into();
        create_private(&dir).map_err(|source| CacheError::Create {
            dir: dir.clone(),
            source,
        })?;
        check_private(&dir)?;
        Ok(ArtifactCache { dir })
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
        // `open` made the folder; it may have been removed since.
        create_private(&self.dir)?;
        // Write then rename: a concurrent reader sees the whole entry or none.
        let partial = entry.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&partial, component.serialize()?)?;
        std::fs::rename(&partial, entry)?;
        Ok(())
    }
}

/// Creates `dir` and its missing parents, each `0700` (before the umask) on Unix.
fn create_private(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Refuses a folder that group or others may write or that another user owns.
fn check_private(dir: &Path) -> Result<(), CacheError> {
    let meta = std::fs::metadata(dir).map_err(|source| CacheError::Create {
        dir: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(CacheError::NotAFolder {
            dir: dir.to_path_buf(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(CacheError::WritableByOthers {
                dir: dir.to_path_buf(),
                mode,
            });
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(CacheError::NotOwned {
                dir: dir.to_path_buf(),
                owner: meta.uid(),
                me,
            });
        }
    }
    Ok(())
}

/// Loads a compiled entry without compiling.
#[allow(unsafe_code)]
fn deserialize(engine: &wasmtime::Engine, entry: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output. Entries are
    // written only by `ArtifactCache::store` from `Component::serialize`, in a folder
    // `ArtifactCache::open` checked is this user's alone (owned by it, not writable by
    // group or others); the name binds the entry to the plugin's bytes and to this
    // engine's settings, and wasmtime itself rejects entries from another version or
    // configuration. Only the server's own user can write the folder, and that user can
    // already replace the plugins or the server binary, so it grants nothing new.
    unsafe { Component::deserialize_file(engine, entry) }
}
