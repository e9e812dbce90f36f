//! Python plugins: a folder holding `app.py` (or a `pyproject.toml` whose
//! `[tool.berth] module` names the module) becomes a component with componentize-py,
//! against the host's WIT and the `berth` package (guest-sdk/python), both carried in
//! this crate so `berth build` works anywhere.
//!
//! componentize-py is found as `$BERTH_COMPONENTIZE_PY`, else in a virtualenv under the
//! user's cache folder (`$XDG_CACHE_HOME/berth-tools/componentize-py-<version>`), which
//! is made with `python3 -m venv` and pip on first use. Its build runs the plugin's
//! module once (module-level code: decorators, defaults) and snapshots the result.
//!
//! A build whose inputs (the plugin's files, the SDK, the WIT, the tool's version) are
//! those of the component already written is skipped: each output keeps a digest of
//! its inputs beside it (`.<name>.wasm.inputs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{write_atomically, BuildError, Built};

/// The componentize-py release Berth builds with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The host's contract, as the component is built against it.
const WIT: &str = include_str!("../../../wit/plugin.wit");

/// The `berth` package, file by file.
const SDK: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../../guest-sdk/python/berth/__init__.py"),
    ),
    (
        "_app.py",
        include_str!("../../../guest-sdk/python/berth/_app.py"),
    ),
    (
        "_codec.py",
        include_str!("../../../guest-sdk/python/berth/_codec.py"),
    ),
    (
        "_guest.py",
        include_str!("../../../guest-sdk/python/berth/_guest.py"),
    ),
    (
        "_host.py",
        include_str!("../../../guest-sdk/python/berth/_host.py"),
    ),
    (
        "_http.py",
        include_str!("../../../guest-sdk/python/berth/_http.py"),
    ),
    (
        "_state.py",
        include_str!("../../../guest-sdk/python/berth/_state.py"),
    ),
    (
        "_ws.py",
        include_str!("../../../guest-sdk/python/berth/_ws.py"),
    ),
];

/// The module componentize-py starts from: it names the plugin, imports the plugin's
/// module (running its decorators), and exposes the SDK's `Guest` exports.
const ENTRY_MODULE: &str = "berth_entry";

/// How to build a Python plugin.
#[derive(Debug, Clone, Default)]
pub struct PythonOptions {
    /// Where `<name>.wasm` is written. Default: the plugin folder's parent.
    pub out_dir: Option<PathBuf>,
    /// The componentize-py program. Default: `$BERTH_COMPONENTIZE_PY`, else the cached
    /// virtualenv's (installed when missing).
    pub componentize_py: Option<PathBuf>,
    /// Rebuild even when the inputs match the last build.
    pub force: bool,
}

/// Whether `dir` is a Python plugin folder.
pub fn is_python_plugin(dir: &Path) -> bool {
    !dir.join("Cargo.toml").is_file()
        && (dir.join("app.py").is_file() || pyproject_module(dir).is_some())
}

/// The Python plugin folders directly under `dir`, sorted (`berth build examples/python`).
pub fn python_plugins(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entries = fs::read_dir(dir).map_err(|e| BuildError::io(dir, e))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| BuildError::io(dir, e))?.path();
        if path.is_dir() && is_python_plugin(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// `[tool.berth] module` of the folder's `pyproject.toml`, when it names one.
fn pyproject_module(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join("pyproject.toml")).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    let module = doc.get("tool")?.get("berth")?.get("module")?.as_str()?;
    Some(module.to_string())
}

/// The plugin's name: the folder's name (it becomes `<name>.wasm`, and so the name the
/// host loads it by and the `[plugin.<name>]` table it is given).
fn plugin_name(dir: &Path) -> Result<String, BuildError> {
    let canonical = fs::canonicalize(dir).map_err(|e| BuildError::io(dir, e))?;
    let name = canonical
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(BuildError::PythonPlugin {
            dir: dir.to_path_buf(),
            message: format!(
                "the folder's name {name:?} is not a plugin name (letters, digits, '-', '_')"
            ),
        });
    }
    Ok(name)
}

/// Builds the Python plugin in `dir` into `<out_dir>/<name>.wasm`.
pub fn build_python(dir: &Path, opts: &PythonOptions) -> Result<Built, BuildError> {
    let module = match pyproject_module(dir) {
        Some(m) => m,
        None if dir.join("app.py").is_file() => "app".to_string(),
        None => {
            return Err(BuildError::PythonPlugin {
                dir: dir.to_path_buf(),
                message: "no app.py, and no pyproject.toml with [tool.berth] module".into(),
            })
        }
    };
    if module.is_empty() || !module.split('.').all(is_identifier) {
        return Err(BuildError::PythonPlugin {
            dir: dir.to_path_buf(),
            message: format!("{module:?} is not a Python module name"),
        });
    }
    let name = plugin_name(dir)?;
    let out_dir = match &opts.out_dir {
        Some(d) => d.clone(),
        None => {
            let canonical = fs::canonicalize(dir).map_err(|e| BuildError::io(dir, e))?;
            canonical
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or(canonical)
        }
    };
    fs::create_dir_all(&out_dir).map_err(|e| BuildError::io(&out_dir, e))?;
    let out = out_dir.join(format!("{name}.wasm"));
    let stamp = out_dir.join(format!(".{name}.wasm.inputs"));
    let digest = inputs_digest(dir, &name, &module)?;
    if !opts.force && out.is_file() && fs::read_to_string(&stamp).ok().as_deref() == Some(&digest) {
        let component = fs::read(&out).map_err(|e| BuildError::io(&out, e))?;
        return Ok(Built {
            name,
            path: out,
            core_size: component.len(),
            component,
        });
    }

    // componentize-py's output differs from run to run (its heap snapshot), so builds
    // are also kept by their inputs' digest: another checkout of the same sources reuses
    // the component, and with it the server's compiled-artifact cache entry.
    let cached = crate::python_tool::cached_build(&digest);
    if let Some(component) = cached
        .as_ref()
        .filter(|_| !opts.force)
        .and_then(|p| fs::read(p).ok())
    {
        write_atomically(&out, &component)?;
        fs::write(&stamp, &digest).map_err(|e| BuildError::io(&stamp, e))?;
        return Ok(Built {
            name,
            path: out,
            core_size: component.len(),
            component,
        });
    }

    let tool = match &opts.componentize_py {
        Some(p) => p.clone(),
        None => crate::python_tool::componentize_py()?,
    };
    let staging = staging_dir(dir, &digest)?;
    let result = componentize(&name, &module, &tool, &staging);
    let _ = fs::remove_dir_all(&staging);
    let component = result?;
    if !exports_guest(&component) {
        return Err(BuildError::ComponentizePy {
            name,
            output: "the component does not export berth:plugin/guest".into(),
        });
    }
    write_atomically(&out, &component)?;
    fs::write(&stamp, &digest).map_err(|e| BuildError::io(&stamp, e))?;
    if let Some(path) = cached {
        crate::python_tool::keep_build(&path, &component);
    }
    Ok(Built {
        name,
        path: out,
        core_size: component.len(),
        component,
    })
}

/// Whether a component exports the `guest` interface at its top level.
fn exports_guest(component: &[u8]) -> bool {
    use wasmparser::{Parser, Payload};
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload {
            Ok(Payload::ModuleSection { .. } | Payload::ComponentSection { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentExportSection(exports)) if depth == 0 => {
                if exports
                    .into_iter()
                    .flatten()
                    .any(|e| e.name.name == "berth:plugin/guest@0.1.0")
                {
                    return true;
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A fresh folder holding a copy of everything the build reads: `wit/`, the SDK and
/// the entry module in `sdk/`, the plugin's files in `app/`. Python records source paths
/// in the component, so the folder is named by the inputs' digest: the same sources give
/// the same paths wherever the checkout is.
fn staging_dir(plugin: &Path, digest: &str) -> Result<PathBuf, BuildError> {
    let dir = std::env::temp_dir()
        .join("berth-python")
        .join(digest.get(..16).unwrap_or(digest));
    let _ = fs::remove_dir_all(&dir);
    for sub in ["wit", "sdk/berth", "app"] {
        let path = dir.join(sub);
        fs::create_dir_all(&path).map_err(|e| BuildError::io(&path, e))?;
    }
    let write =
        |path: PathBuf, bytes: &[u8]| fs::write(&path, bytes).map_err(|e| BuildError::io(&path, e));
    write(dir.join("wit/plugin.wit"), WIT.as_bytes())?;
    for (file, text) in SDK {
        write(dir.join("sdk/berth").join(file), text.as_bytes())?;
    }
    let mut files = Vec::new();
    collect_files(plugin, plugin, &mut files)?;
    for (rel, path) in files {
        let to = dir.join("app").join(&rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
        }
        fs::copy(&path, &to).map_err(|e| BuildError::io(&path, e))?;
    }
    Ok(dir)
}

fn componentize(
    name: &str,
    module: &str,
    tool: &Path,
    staging: &Path,
) -> Result<Vec<u8>, BuildError> {
    let entry = format!(
        "# Generated by `berth build`: names the plugin, runs its module, exports the SDK's glue.\n\
         import berth\nberth.app.name = {name:?}\nimport {module}  # noqa: F401\n\
         from berth._guest import Guest  # noqa: F401\n"
    );
    let entry_path = staging.join("sdk").join(format!("{ENTRY_MODULE}.py"));
    fs::write(&entry_path, entry).map_err(|e| BuildError::io(&entry_path, e))?;
    let out = staging.join("plugin.wasm");
    let mut cmd = Command::new(tool);
    cmd.arg("-d")
        .arg(staging.join("wit"))
        .args(["-w", "plugin", "componentize", "-p"])
        .arg(staging.join("app"))
        .arg("-p")
        .arg(staging.join("sdk"))
        .arg(ENTRY_MODULE)
        .arg("-o")
        .arg(&out)
        // Leave the plugin's folder as it was (no __pycache__ in it).
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let output = cmd.output().map_err(|e| BuildError::spawn(&cmd, e))?;
    if !output.status.success() {
        return Err(BuildError::ComponentizePy {
            name: name.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    fs::read(&out).map_err(|e| BuildError::io(&out, e))
}

/// SHA-256 over everything a build reads: the plugin folder's files (sorted, skipping
/// `__pycache__` and dotfiles), the SDK, the WIT, the module, the name and the tool.
fn inputs_digest(dir: &Path, name: &str, module: &str) -> Result<String, BuildError> {
    let mut hash = Sha256::new();
    for part in [COMPONENTIZE_PY_VERSION, name, module, WIT] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    for (file, text) in SDK {
        hash.update(file.as_bytes());
        hash.update(text.as_bytes());
    }
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    for (rel, path) in files {
        let bytes = fs::read(&path).map_err(|e| BuildError::io(&path, e))?;
        hash.update(rel.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn collect_files(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), BuildError> {
    let entries = fs::read_dir(dir).map_err(|e| BuildError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| BuildError::io(dir, e))?;
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with('.') || file_name == "__pycache__" || file_name.ends_with(".wasm")
        {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((rel, path));
        }
    }
    Ok(())
}
