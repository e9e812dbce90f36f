//! Running cargo: `metadata` to find the crates, `build` with JSON messages to find
//! their modules and diagnostics.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::{BuildError, BuildOptions, RUSTFLAGS, WASM_TARGET};

/// Variables that cargo (or a parent build) sets and that would misdirect a nested
/// cargo: its target dir, flags and jobserver, wrappers such as clippy-driver, and the
/// per-package variables cargo hands to build scripts.
const SCRUBBED: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "NUM_JOBS",
    "OPT_LEVEL",
    "DEBUG",
    "PROFILE",
    "RUSTC_LINKER",
    "RUSTDOC",
    "__CARGO_FIX_PLZ",
    "__CARGO_DEFAULT_LIB_METADATA",
];

/// Prefixes of the same kind (`CARGO_PKG_NAME`, `CARGO_CFG_TARGET_OS`, …).
const SCRUBBED_PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_CFG_", "CARGO_FEATURE_", "DEP_"];

/// Removes the inherited environment that would break a nested cargo (see
/// [`SCRUBBED`]). `RUSTUP_TOOLCHAIN`, `RUSTC` and `CARGO` are kept so the nested build
/// uses the same toolchain as the parent.
pub(crate) fn scrub_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(k) = key.to_str() else { continue };
        if SCRUBBED.contains(&k) || SCRUBBED_PREFIXES.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

fn cargo_command(opts: &BuildOptions) -> Command {
    // Inside cargo (a build script, `cargo run`), `CARGO` is the cargo in use.
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    scrub_env(&mut cmd);
    if opts.locked {
        cmd.arg("--locked");
    }
    if opts.offline {
        cmd.arg("--offline");
    }
    cmd
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    pub(crate) workspace_root: PathBuf,
    pub(crate) target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    id: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    crate_types: Vec<String>,
}

impl Package {
    fn is_plugin(&self) -> bool {
        self.targets
            .iter()
            .any(|t| t.crate_types.iter().any(|c| c == "cdylib"))
    }
}

/// The packages to build, by manifest path → package name.
pub(crate) struct Selection {
    pub(crate) packages: BTreeMap<PathBuf, String>,
    pub(crate) whole_workspace: bool,
}

impl Metadata {
    /// The crate at `dir`, or every plugin member when `dir` is a workspace root
    /// without a package of its own.
    pub(crate) fn select(&self, dir: &Path) -> Result<Selection, BuildError> {
        let manifest = std::fs::canonicalize(dir.join("Cargo.toml"))
            .map_err(|e| BuildError::io(&dir.join("Cargo.toml"), e))?;
        let members: Vec<&Package> = self
            .packages
            .iter()
            .filter(|p| self.workspace_members.contains(&p.id))
            .collect();
        let own = members
            .iter()
            .find(|p| same_file(&p.manifest_path, &manifest));
        let (chosen, whole_workspace): (Vec<&&Package>, bool) = match own {
            Some(p) => (vec![p], false),
            None => (members.iter().filter(|p| p.is_plugin()).collect(), true),
        };
        let packages: BTreeMap<PathBuf, String> = chosen
            .into_iter()
            .filter(|p| p.is_plugin())
            .map(|p| (canonical(&p.manifest_path), p.name.clone()))
            .collect();
        if packages.is_empty() {
            return Err(BuildError::NothingToBuild(dir.to_path_buf()));
        }
        Ok(Selection {
            packages,
            whole_workspace,
        })
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn same_file(a: &Path, b: &Path) -> bool {
    canonical(a) == canonical(b)
}

/// `cargo metadata --no-deps` for the crate at `dir`.
pub(crate) fn metadata(dir: &Path, opts: &BuildOptions) -> Result<Metadata, BuildError> {
    let mut cmd = cargo_command(opts);
    cmd.args([
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--manifest-path",
    ])
    .arg(dir.join("Cargo.toml"));
    let out = cmd.output().map_err(|e| BuildError::spawn(&cmd, e))?;
    let failed = |stderr: String| BuildError::Metadata {
        dir: dir.to_path_buf(),
        stderr,
    };
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| failed(format!("unexpected output: {e}")))
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    target: Option<ArtifactTarget>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
    #[serde(default)]
    message: Option<Diagnostic>,
    /// Whether cargo reused an earlier build of this artifact.
    #[serde(default)]
    fresh: bool,
    #[serde(default)]
    package_id: Option<String>,
}

#[derive(Deserialize)]
struct ArtifactTarget {
    crate_types: Vec<String>,
    #[serde(default)]
    name: String,
}

/// `name v1.2.3` from a package id (`registry+…#serde@1.0.228`,
/// `path+file:///p/hello#0.1.0`), falling back to the target's name.
fn crate_label(package_id: Option<&str>, target: &str) -> String {
    let Some(tail) = package_id
        .and_then(|id| id.rsplit_once('#'))
        .map(|(_, t)| t)
    else {
        return target.to_string();
    };
    match tail.split_once('@') {
        Some((name, version)) => format!("{name} v{version}"),
        None => format!("{target} v{tail}"),
    }
}

#[derive(Deserialize)]
struct Diagnostic {
    #[serde(default)]
    rendered: Option<String>,
    level: String,
}

/// Builds the selected packages in one cargo invocation; returns package name → the
/// core `.wasm` module.
pub(crate) fn build(
    dir: &Path,
    selection: &Selection,
    target_dir: &Path,
    opts: &BuildOptions,
) -> Result<Vec<(String, PathBuf)>, BuildError> {
    let mut cmd = cargo_command(opts);
    cmd.args([
        "build",
        "--release",
        "--target",
        WASM_TARGET,
        "--message-format=json",
    ])
    .arg("--manifest-path")
    .arg(dir.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(target_dir)
    .env("CARGO_ENCODED_RUSTFLAGS", RUSTFLAGS.join("\x1f"))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for name in selection.packages.values() {
        cmd.arg("-p").arg(name);
    }
    let mut child = cmd.spawn().map_err(|e| BuildError::spawn(&cmd, e))?;

    // Drain stderr on a thread so neither pipe can fill up and block cargo.
    let verbose = opts.verbose;
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        if verbose {
            eprint!("{text}");
        }
        text
    });

    let mut modules = BTreeMap::new();
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let started = std::time::Instant::now();
    let mut compiled = 0usize;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        let package = msg
            .manifest_path
            .as_deref()
            .and_then(|m| selection.packages.get(&canonical(m)))
            .cloned();
        match msg.reason.as_str() {
            "compiler-artifact" => {
                if opts.progress && !msg.fresh {
                    if let Some(target) = &msg.target {
                        compiled += 1;
                        eprintln!(
                            "  [{compiled:>3}] {:<40} {:>6.1} s",
                            crate_label(msg.package_id.as_deref(), &target.name),
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
                let (Some(name), Some(target)) = (package, &msg.target) else {
                    continue;
                };
                if !target.crate_types.iter().any(|c| c == "cdylib") {
                    continue;
                }
                let wasm = msg
                    .filenames
                    .iter()
                    .find(|f| f.extension() == Some(OsStr::new("wasm")));
                if let Some(wasm) = wasm {
                    modules.insert(name, wasm.clone());
                }
            }
            "compiler-message" => {
                let Some(diag) = msg.message else { continue };
                let Some(rendered) = diag.rendered else {
                    continue;
                };
                let is_error = diag.level.starts_with("error");
                if verbose && !is_error {
                    eprint!("{rendered}");
                }
                if is_error {
                    let crate_name = package.unwrap_or_else(|| "(dependency)".into());
                    errors.entry(crate_name).or_default().push(rendered);
                }
            }
            _ => {}
        }
    }
    let status = child.wait().map_err(|e| BuildError::spawn(&cmd, e))?;
    let stderr = stderr_thread.join().unwrap_or_default();

    if !errors.is_empty() {
        let mut diagnostics: String = errors.values().flatten().map(String::as_str).collect();
        diagnostics.push_str(&stderr);
        return Err(BuildError::Compile {
            crates: errors.into_keys().collect(),
            diagnostics,
        });
    }
    if !status.success() {
        return Err(BuildError::Cargo {
            dir: dir.to_path_buf(),
            stderr,
        });
    }
    let mut out = Vec::new();
    for name in selection.packages.values() {
        let module = modules
            .remove(name)
            .ok_or_else(|| BuildError::MissingArtifact(name.clone()))?;
        out.push((name.clone(), module));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_nested_cargo_env() {
        // Only checks the lists are consistent with what cargo sets for build scripts.
        for key in [
            "CARGO_TARGET_DIR",
            "RUSTFLAGS",
            "CARGO_MAKEFLAGS",
            "RUSTC_WORKSPACE_WRAPPER",
        ] {
            assert!(SCRUBBED.contains(&key), "{key}");
        }
        assert!(SCRUBBED_PREFIXES
            .iter()
            .any(|p| "CARGO_PKG_NAME".starts_with(p)));
        assert!(!SCRUBBED.contains(&"RUSTUP_TOOLCHAIN"));
        assert!(!SCRUBBED.contains(&"CARGO_HOME"));
    }

    #[test]
    fn labels_crates_by_package_id() {
        assert_eq!(
            crate_label(
                Some("registry+https://example.invalid/index#serde@1.0.228"),
                "serde"
            ),
            "serde v1.0.228"
        );
        assert_eq!(
            crate_label(Some("path+file:///p/hello#0.1.0"), "hello"),
            "hello v0.1.0"
        );
        assert_eq!(crate_label(None, "hello"), "hello");
    }

    #[test]
    fn parses_artifact_message() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///p/hello#0.1.0","manifest_path":"/p/hello/Cargo.toml","target":{"kind":["cdylib"],"crate_types":["cdylib"],"name":"hello","src_path":"/p/hello/src/lib.rs","edition":"2021","doctest":false,"test":true},"profile":{},"features":[],"filenames":["/t/wasm32-unknown-unknown/release/hello.wasm"],"executable":null,"fresh":false}"#;
        let msg: Message = serde_json::from_str(line).expect("parses");
        assert_eq!(msg.reason, "compiler-artifact");
        assert_eq!(msg.filenames[0].extension(), Some(OsStr::new("wasm")));
        assert_eq!(msg.target.expect("target").crate_types, vec!["cdylib"]);
    }
}
