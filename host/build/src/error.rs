//! [`BuildError`].

use std::io;
use std::path::{Path, PathBuf};

/// Why a plugin build failed. The `Display` text is meant for users: it names the
/// crate and includes the compiler's own diagnostics.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A Python plugin folder is not usable (no module to build, a bad name).
    #[error("{}: {message}", .dir.display())]
    PythonPlugin {
        /// The folder.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// componentize-py could not be installed (no Python 3 with venv and pip, or pip
    /// failed).
    #[error("cannot install componentize-py {version}: {message}")]
    PythonTool {
        /// The version Berth builds with.
        version: &'static str,
        /// What failed, with the tool's output.
        message: String,
    },
    /// componentize-py failed: the plugin's Python does not import, or does not fit.
    #[error("plugin {name} failed to build:\n{output}")]
    ComponentizePy {
        /// The plugin.
        name: String,
        /// componentize-py's output (Python's traceback included).
        output: String,
    },
    /// `wasm-opt` ([`BuildOptions::wasm_opt`](crate::BuildOptions)) refused a module
    /// (an old Binaryen, such as Debian's 108, cannot read one-byte pages).
    #[error("wasm-opt failed on plugin {name}:\n{output}")]
    WasmOpt {
        /// The plugin.
        name: String,
        /// What wasm-opt printed.
        output: String,
    },
    /// The directory has no `Cargo.toml`.
    #[error("{}: not a cargo crate or workspace (no Cargo.toml)", .0.display())]
    NotACrate(PathBuf),
    /// The directory has no `cdylib` crate to build.
    #[error("{}: no plugin crates (crate-type = [\"cdylib\"]) to build", .0.display())]
    NothingToBuild(PathBuf),
    /// A program (`cargo`, `rustup`, `rustc`) could not be started.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The wasm target is missing and rustup is not there to install it.
    #[error(
        "the {target} target is not installed and rustup was not found; install rustup \
         (https://rustup.rs) or add the target to your Rust toolchain by other means"
    )]
    NoRustup {
        /// The missing target.
        target: &'static str,
    },
    /// `rustup target add` failed.
    #[error("`rustup target add {target}` failed:\n{output}")]
    TargetInstall {
        /// The target.
        target: &'static str,
        /// What rustup printed.
        output: String,
    },
    /// `cargo metadata` failed (bad manifest, unknown workspace, …).
    #[error("cannot read the cargo workspace at {}:\n{stderr}", .dir.display())]
    Metadata {
        /// The crate directory.
        dir: PathBuf,
        /// What cargo printed.
        stderr: String,
    },
    /// One or more plugin crates did not compile.
    #[error("plugin {} failed to compile:\n{diagnostics}", .crates.join(", "))]
    Compile {
        /// The crates with errors (package names).
        crates: Vec<String>,
        /// The compiler's rendered diagnostics (errors, then cargo's own output).
        diagnostics: String,
    },
    /// Cargo failed without a compiler error (resolution, network, a build script…).
    #[error("cargo build failed in {}:\n{stderr}", .dir.display())]
    Cargo {
        /// The crate directory.
        dir: PathBuf,
        /// What cargo printed.
        stderr: String,
    },
    /// Cargo succeeded but did not report a `.wasm` for a plugin.
    #[error("cargo built no .wasm module for plugin {0}")]
    MissingArtifact(String),
    /// The module could not be turned into a component (e.g. it was not built with the
    /// Berth SDK, or imports something the contract does not offer).
    #[error("cannot componentize plugin {name}: {message}")]
    Componentize {
        /// The plugin.
        name: String,
        /// wit-component's explanation.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl BuildError {
    /// `cmd` could not be started.
    pub(crate) fn spawn(cmd: &std::process::Command, source: io::Error) -> BuildError {
        BuildError::Spawn {
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> BuildError {
        BuildError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
