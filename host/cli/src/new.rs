//! `berth new`: a plugin crate that builds and serves as it is.

use std::path::PathBuf;

use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct Args {
    /// The plugin's name (a crate name: letters, digits, `-`, `_`).
    name: String,
    /// Where to create it [default: ./plugins/<name>].
    #[arg(long)]
    path: Option<PathBuf>,
    /// Path of the berth-sdk crate [default: ./guest-sdk when it exists, else the
    /// published version].
    #[arg(long)]
    sdk_path: Option<PathBuf>,
    /// The plugin's language: `rust` (a crate) or `python` (a folder with app.py).
    #[arg(long, default_value = "rust", value_parser = ["rust", "python"])]
    lang: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.lang == "python" {
        return crate::python::new(&args.name, args.path);
    }
    let valid = !args.name.is_empty()
        && args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "invalid plugin name {:?}: use letters, digits, '-' and '_'",
            args.name
        );
    }
    let dir = args
        .path
        .unwrap_or_else(|| PathBuf::from("plugins").join(&args.name));
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let local_sdk = std::fs::canonicalize("guest-sdk")
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file());
    let sdk = match args.sdk_path.as_ref().or(local_sdk.as_ref()) {
        Some(p) => format!("berth-sdk = {{ path = {:?} }}", p.display().to_string()),
        None => format!("berth-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    let type_name: String = args
        .name
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{sdk}\n",
            name = args.name
        ),
    )?;
    std::fs::write(
        dir.join("src/lib.rs"),
        format!(
            "use berth_sdk::prelude::*;\n\nstruct {type_name};\n\nimpl Plugin for {type_name} {{\n    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {{\n        app.get(\"/{name}\", |_req| Response::json(&json!({{\"plugin\": \"{name}\"}})));\n        Ok(())\n    }}\n}}\n\nberth_sdk::export_plugin!({type_name});\n",
            name = args.name
        ),
    )?;
    println!(
        "created {}; build it with `berth build {}`",
        dir.display(),
        dir.display()
    );
    Ok(())
}
