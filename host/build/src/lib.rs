//! Builds Berth plugin crates into WebAssembly components.
//!
//! [`build`] runs `cargo build --release --target wasm32-unknown-unknown` for a plugin
//! crate — or, for a workspace root such as `plugins/`, for every `cdylib` member in one
//! cargo invocation — then turns each core module into a component with `wit-component`
//! and writes `<out_dir>/<package-name>.wasm`.
//!
//! It is safe to call from a build script: the environment cargo gives build scripts
//! (target dir, rustflags, jobserver, wrappers, package variables) is removed from the
//! nested cargo, which gets its own `--target-dir` and
//! [`RUSTFLAGS`] (a small stack and one-byte pages, so an instance's memory is the bytes
//! it uses).
//!
//! ```no_run
//! use std::path::Path;
//! let built = berth_build::build(Path::new("plugins"), &berth_build::BuildOptions::default())?;
//! for b in &built {
//!     println!("{} → {} ({} bytes)", b.name, b.path.display(), b.component.len());
//! }
//! # Ok::<(), berth_build::BuildError>(())
//! ```

mod cargo;
mod error;
pub mod python;
mod python_tool;
mod toolchain;

use std::fs;
use std::path::{Path, PathBuf};

pub use error::BuildError;

/// The target plugins are compiled for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The rustflags every plugin is linked with (as `CARGO_ENCODED_RUSTFLAGS`, separated by
/// `\x1f`): a 16 KiB stack instead of 1 MiB, and one-byte pages (the custom-page-sizes
/// proposal, which both engines enable), so that linear memory is the stack, the data
/// and 4 KiB of free heap (`--initial-heap`) rather than a 64 KiB page, and grows in the
/// SDK allocator's 4 KiB steps rather than by 64 KiB. The 4 KiB was measured on the
/// embedded runtime against none, 8, 16 and 32 KiB: wasmi reallocates a memory that
/// grows with room to double, so a plugin's first allocations should fit, but a larger
/// initial heap is held by every instance whether it is used or not.
pub const RUSTFLAGS: &[&str] = &[
    "-C",
    "link-arg=-zstack-size=16384",
    "-C",
    "link-arg=--page-size=1",
    "-C",
    "link-arg=--initial-heap=4096",
];

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Where `<name>.wasm` components are written. Default: the workspace directory
    /// when building a workspace root (`plugins/` → `plugins/`), otherwise the crate's
    /// parent directory (`plugins/hello` → `plugins/`).
    pub out_dir: Option<PathBuf>,
    /// Cargo's `--target-dir`. Default: the crate workspace's own target directory
    /// (normally `<workspace root>/target`).
    pub target_dir: Option<PathBuf>,
    /// Pass `--locked` to cargo.
    pub locked: bool,
    /// Pass `--offline` to cargo.
    pub offline: bool,
    /// Do not install the `wasm32-unknown-unknown` target with rustup when it is
    /// missing (fail instead).
    pub no_install_target: bool,
    /// Print cargo's progress and warnings to stderr.
    pub verbose: bool,
    /// Print one line to stderr per crate compiled (not per crate already built), with
    /// the time so far: what a long first build is doing.
    pub progress: bool,
    /// Binaryen's `wasm-opt` (a recent one: Debian's 108 cannot read one-byte pages;
    /// 132 is what Berth is measured with), run with [`WASM_OPT_FLAGS`] over each core
    /// module before it is componentized. For builds where memory is what counts (a
    /// device, which holds every module's code in RAM). `None` (the default): the
    /// module as cargo built it.
    pub wasm_opt: Option<PathBuf>,
}

/// What [`BuildOptions::wasm_opt`] runs with: the features rustc emits for
/// `wasm32-unknown-unknown` (the plugins' `target_features` section, which `strip`
/// removes) plus one-byte pages; `-O3`, but without Binaryen's own inlining; debug info
/// dropped (custom sections such as the component type stay).
///
/// Measured on the embedded runtime (docs/embedded.md): wasmi translates a function
/// whole on its first call and sizes its translator's buffers by the largest function,
/// so folding functions into their one caller (what `-Oz` does by default) made the Full
/// Example hold 12 KB *more* than no wasm-opt at all, although its modules were 54 KB
/// smaller. Without that inlining, `-O3` held the least of `-O1`/`-O2`/`-O3`/`-Os`/`-Oz`,
/// for the fewest extra instructions. Not `--all-features`: wasm-opt would then use
/// encodings (typed function references) that wasmi does not read.
pub const WASM_OPT_FLAGS: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-call-indirect-overlong",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
    "--enable-custom-page-sizes",
    "-O3",
    "--one-caller-inline-max-function-size",
    "0",
    "--flexible-inline-max-function-size",
    "0",
    "--strip-debug",
];

/// One plugin that was built.
#[derive(Debug, Clone)]
pub struct Built {
    /// The crate's package name (also the file stem of [`Built::path`]).
    pub name: String,
    /// Where the component was written.
    pub path: PathBuf,
    /// The component's bytes.
    pub component: Vec<u8>,
    /// The size of the core module that was componentized: cargo's, or wasm-opt's
    /// output when [`BuildOptions::wasm_opt`] is set.
    pub core_size: usize,
}

/// Builds the crate (or every `cdylib` member of the workspace) at `crate_dir` and
/// writes one component per plugin. Results are sorted by name.
pub fn build(crate_dir: &Path, opts: &BuildOptions) -> Result<Vec<Built>, BuildError> {
    if !crate_dir.join("Cargo.toml").is_file() {
        return Err(BuildError::NotACrate(crate_dir.to_path_buf()));
    }
    toolchain::ensure_target(!opts.no_install_target)?;
    let meta = cargo::metadata(crate_dir, opts)?;
    let selection = meta.select(crate_dir)?;
    let out_dir = match &opts.out_dir {
        Some(dir) => dir.clone(),
        None if selection.whole_workspace => meta.workspace_root.clone(),
        None => {
            let dir = fs::canonicalize(crate_dir).map_err(|e| BuildError::io(crate_dir, e))?;
            dir.parent().map(Path::to_path_buf).unwrap_or(dir)
        }
    };
    let target_dir = opts
        .target_dir
        .clone()
        .unwrap_or_else(|| meta.target_directory.clone());
    let modules = cargo::build(crate_dir, &selection, &target_dir, opts)?;

    fs::create_dir_all(&out_dir).map_err(|e| BuildError::io(&out_dir, e))?;
    let mut built = Vec::new();
    for (name, module_path) in modules {
        let core = match &opts.wasm_opt {
            Some(tool) => optimize(tool, &name, &module_path)?,
            None => fs::read(&module_path).map_err(|e| BuildError::io(&module_path, e))?,
        };
        let component = componentize(&name, &core)?;
        let path = out_dir.join(format!("{name}.wasm"));
        write_atomically(&path, &component)?;
        built.push(Built {
            name,
            path,
            component,
            core_size: core.len(),
        });
    }
    built.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(built)
}

/// Runs `wasm-opt` over the core module at `module`, into a file beside it, and returns
/// the optimized bytes (cargo's own output is left as it was, so it stays fresh).
fn optimize(tool: &Path, name: &str, module: &Path) -> Result<Vec<u8>, BuildError> {
    let out = module.with_extension("opt.wasm");
    let mut cmd = std::process::Command::new(tool);
    cmd.args(WASM_OPT_FLAGS).arg(module).arg("-o").arg(&out);
    let output = cmd.output().map_err(|e| BuildError::spawn(&cmd, e))?;
    if !output.status.success() {
        return Err(BuildError::WasmOpt {
            name: name.to_string(),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    fs::read(&out).map_err(|e| BuildError::io(&out, e))
}

/// The export every plugin module has (from `berth_sdk::export_plugin!`).
pub const SETUP_EXPORT: &str = "berth:plugin/guest@0.1.0#setup";

/// Turns a core module built against the Berth WIT (it embeds its component type) into
/// a component.
pub fn componentize(name: &str, core: &[u8]) -> Result<Vec<u8>, BuildError> {
    if !exports_setup(core) {
        return Err(BuildError::Componentize {
            name: name.to_string(),
            message: format!(
                "the module does not export `{SETUP_EXPORT}`; a plugin must call \
                 `berth_sdk::export_plugin!(YourPlugin);`"
            ),
        });
    }
    fn fail(name: &str) -> impl Fn(&dyn std::fmt::Display) -> BuildError + '_ {
        move |e| BuildError::Componentize {
            name: name.to_string(),
            message: format!("{e:#}"),
        }
    }
    wit_component::ComponentEncoder::default()
        .module(core)
        .map_err(|e| fail(name)(&e))?
        .validate(true)
        .encode()
        .map_err(|e| fail(name)(&e))
}

fn exports_setup(core: &[u8]) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(core) {
        if let Ok(wasmparser::Payload::ExportSection(exports)) = payload {
            return exports
                .into_iter()
                .flatten()
                .any(|e| e.name == SETUP_EXPORT);
        }
    }
    false
}

/// The plugin crates directly under `dir`: its subdirectories holding a `Cargo.toml`,
/// sorted (for `berth build plugins` listings).
pub fn plugin_crates(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entries = fs::read_dir(dir).map_err(|e| BuildError::io(dir, e))?;
    let mut crates = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| BuildError::io(dir, e))?.path();
        if path.is_dir() && path.join("Cargo.toml").is_file() {
            crates.push(path);
        }
    }
    crates.sort();
    Ok(crates)
}

/// Writes through a temporary file and a rename, so a concurrent reader (a server
/// loading plugins, another build) never sees half a component.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let tmp = path.with_extension(format!("wasm.tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| BuildError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        BuildError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_crate_dirs_sorted() {
        let dir = std::env::temp_dir().join(format!("berth-build-list-{}", std::process::id()));
        for name in ["b", "a", "not-a-crate"] {
            fs::create_dir_all(dir.join(name)).expect("mkdir");
        }
        fs::write(dir.join("a/Cargo.toml"), "").expect("write");
        fs::write(dir.join("b/Cargo.toml"), "").expect("write");
        fs::write(dir.join("Cargo.toml"), "").expect("write");
        let crates = plugin_crates(&dir).expect("list");
        assert_eq!(crates, vec![dir.join("a"), dir.join("b")]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn not_a_crate() {
        let err = build(Path::new("/nonexistent/berth"), &BuildOptions::default())
            .expect_err("no crate there");
        assert!(matches!(err, BuildError::NotACrate(_)), "{err}");
    }

    #[test]
    fn componentize_rejects_garbage() {
        let err = componentize("junk", b"\0asm\x01\0\0\0").expect_err("no component type");
        assert!(err.to_string().contains("junk"), "{err}");
    }
}
