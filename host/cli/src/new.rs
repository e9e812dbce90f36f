//! `berth new`: a plugin crate that builds and serves as it is, from a template, with
//! its own `cargo test` (through `berth_sdk::testing`).

use std::path::PathBuf;

use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct Args {
    /// The plugin's name (a crate name: letters, digits, `-`, `_`).
    name: String,
    /// Where to create it [default: ./plugins/<name>].
    #[arg(long)]
    path: Option<PathBuf>,
    /// Path of the berth-sdk crate [default: ./guest-sdk when it exists (a checkout of
    /// Berth), else the SDK this berth carries, unpacked into its cache folder].
    #[arg(long)]
    sdk_path: Option<PathBuf>,
    /// The plugin's language: `rust` (a crate) or `python` (a folder with app.py).
    #[arg(long, default_value = "rust", value_parser = ["rust", "python"])]
    lang: String,
    /// What the plugin starts as.
    #[arg(long, value_enum, default_value_t = Template::Http)]
    template: Template,
}

/// The bundled plugins' release profile: small components (a third of the default's
/// size) that start in one 64 KiB page.
const RELEASE_PROFILE: &str = "[profile.release]\nopt-level = \"s\"\nlto = true\npanic = \"abort\"\nstrip = true\ncodegen-units = 1\n";

/// The starting points of `berth new --template`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Template {
    /// Routes with a path parameter, state and a JSON body.
    Http,
    /// A WebSocket route: greeting, echo, a room broadcast.
    Websocket,
    /// Middleware guarding a prefix, configured with serde.
    Middleware,
    /// Server-Sent Events: a subscribe route, publishing, a timer.
    Sse,
}

impl Template {
    fn source(self) -> &'static str {
        match self {
            Template::Http => include_str!("templates/http.rs"),
            Template::Websocket => include_str!("templates/websocket.rs"),
            Template::Middleware => include_str!("templates/middleware.rs"),
            Template::Sse => include_str!("templates/sse.rs"),
        }
    }
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
    let carried = args.sdk_path.is_none() && local_sdk.is_none();
    let sdk_dir = match args.sdk_path.clone().or(local_sdk) {
        Some(p) => p,
        None => crate::sdk::unpack()?,
    };
    let sdk = format!(
        "berth-sdk = {{ path = {:?} }}",
        sdk_dir.display().to_string()
    );
    let type_name = args
        .name
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<String>();
    // A type name may not start with a digit (`berth new 2fa`).
    let type_name = match type_name.starts_with(|c: char| c.is_ascii_digit()) {
        true => format!("Plugin{type_name}"),
        false => type_name,
    };
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{sdk}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n\n{RELEASE_PROFILE}",
            name = args.name
        ),
    )?;
    let source = args
        .template
        .source()
        .replace("__TYPE__", &type_name)
        .replace("__NAME__", &args.name);
    std::fs::write(dir.join("src/lib.rs"), source)?;
    if carried {
        // The versions the carried SDK was tested with; cargo adds this crate to it.
        if let Some(lock) = crate::sdk::lock_file() {
            std::fs::write(dir.join("Cargo.lock"), lock)?;
        }
    }
    println!(
        "created {}; build it with `berth build {}`",
        dir.display(),
        dir.display()
    );
    Ok(())
}
