//! Carries the Rust guest SDK and the WIT into the `berth` binary: generates
//! `sdk_files.rs`, the list of `guest-sdk/` sources and `wit/` files as
//! `include_bytes!`, and a hash of them all, so `berth new` outside this repository
//! writes a crate built against exactly the contract of this host (src/sdk.rs).
//!
//! Hand-written rather than `include_dir!`: that macro takes a whole folder, and
//! `guest-sdk/` may hold a `target/` of gigabytes; here only the files a build needs
//! are listed (the manifest, the lock file, `src/`, and the `.wit` files).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repo = manifest
        .ancestors()
        .nth(2)
        .expect("host/cli lives two levels under the repository root")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let sdk = repo.join("guest-sdk");
    let mut files = vec![sdk.join("Cargo.toml"), sdk.join("Cargo.lock")];
    walk(&sdk.join("src"), &mut files);
    let mut wit = Vec::new();
    walk(&repo.join("wit"), &mut wit);
    files.extend(
        wit.into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "wit")),
    );
    files.sort();

    let mut hash = Sha256::new();
    let mut code = String::from(
        "/// The carried files: path relative to the repository root, and bytes.\n\
         pub const FILES: &[(&str, &[u8])] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let bytes =
            std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let rel = file
            .strip_prefix(&repo)
            .expect("under the repository")
            .to_string_lossy()
            .replace('\\', "/");
        hash.update(rel.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            file.display().to_string()
        );
    }
    code.push_str("];\n");
    let digest: String = hash
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let _ = writeln!(
        code,
        "/// The first 12 hex digits of a SHA-256 over the carried files.\npub const HASH: &str = {digest:?};"
    );
    // New or removed files change the list.
    println!("cargo:rerun-if-changed={}", sdk.join("src").display());
    println!("cargo:rerun-if-changed={}", repo.join("wit").display());
    std::fs::write(out.join("sdk_files.rs"), code).expect("write sdk_files.rs");
}
