//! Python plugins in the CLI: `berth build` of a Python plugin folder (or a folder of
//! them), and `berth new --lang python`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use berth_build::python::{self, PythonOptions};
use berth_build::Built;

/// Builds `path` when it is a Python plugin folder, or a folder holding Python plugin
/// folders and no Cargo.toml; `None` when it is neither (a crate: cargo builds it).
pub fn build(path: &Path, out: Option<&Path>) -> anyhow::Result<Option<Vec<Built>>> {
    let opts = PythonOptions {
        out_dir: out.map(Path::to_path_buf),
        ..PythonOptions::default()
    };
    let dirs = if python::is_python_plugin(path) {
        vec![path.to_path_buf()]
    } else if path.is_dir() && !path.join("Cargo.toml").is_file() {
        python::python_plugins(path)?
    } else {
        Vec::new()
    };
    if dirs.is_empty() {
        return Ok(None);
    }
    let mut built = Vec::new();
    for dir in dirs {
        eprintln!("building {} (componentize-py)", dir.display());
        built.push(python::build_python(&dir, &opts)?);
    }
    Ok(Some(built))
}

/// `berth new --lang python NAME`: a folder with `app.py` that builds and serves as it is.
pub fn new(name: &str, path: Option<PathBuf>) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("invalid plugin name {name:?}: use letters, digits, '-' and '_'");
    }
    let dir = path.unwrap_or_else(|| PathBuf::from("plugins").join(name));
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join("app.py"),
        format!(
            "\"\"\"The {name} plugin. `berth build` turns this folder into {name}.wasm.\"\"\"\n\n\
             from berth import app, get\n\n\
             # A default: stored in the host's shared state only when it has none.\n\
             app.state.{ident}_hits = 0\n\n\n\
             @get(\"/{name}\")\n\
             def index(req):\n\
             \x20   app.state.{ident}_hits += 1\n\
             \x20   return {{\"body\": {{\"plugin\": \"{name}\", \"hits\": app.state.{ident}_hits}}}}\n",
            ident = name.replace('-', "_"),
        ),
    )?;
    println!(
        "created {}; build it with `berth build {}`",
        dir.display(),
        dir.display()
    );
    Ok(())
}
