//! Builds every bundled plugin (`../plugins`) into components and generates
//! `plugins.rs`: one constant per plugin with its bytes, and the folder they are in.
//! Tests therefore always run against plugins built from the current sources.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn rerun_if_changed(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().ends_with(".wasm") {
            continue;
        }
        if path.is_dir() {
            rerun_if_changed(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .expect("tests/ lives in the workspace root");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for dir in ["plugins", "guest-sdk", "wit"] {
        rerun_if_changed(&root.join(dir));
    }
    rerun_if_changed(&manifest.join("guests"));

    // OUT_DIR is <target>/<profile>/build/<pkg>/out: share one plugin target dir per
    // workspace target dir, so rebuilding the tests does not rebuild every plugin.
    let target = out
        .ancestors()
        .nth(4)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out.join("t"));
    let plugins_out = out.join("plugins");
    let opts = berth_build::BuildOptions {
        out_dir: Some(plugins_out.clone()),
        target_dir: Some(target.join("berth-plugins")),
        ..Default::default()
    };
    let built = match berth_build::build(&root.join("plugins"), &opts) {
        Ok(built) => built,
        Err(e) => panic!("building the bundled plugins failed:\n{e}"),
    };

    let mut code = String::new();
    let _ = writeln!(
        code,
        "/// The folder holding every built plugin as `<name>.wasm`."
    );
    let _ = writeln!(
        code,
        "pub const DIR: &str = {:?};",
        plugins_out.display().to_string()
    );
    let mut all = String::from("/// Every bundled plugin: name and component bytes.\npub const ALL: &[(&str, &[u8])] = &[\n");
    for b in &built {
        let ident = b.name.to_uppercase().replace('-', "_");
        let path = b.path.display().to_string();
        let _ = writeln!(code, "/// The `{}` plugin component.", b.name);
        let _ = writeln!(code, "pub const {ident}: &[u8] = include_bytes!({path:?});");
        let _ = writeln!(all, "    ({:?}, {ident}),", b.name);
    }
    all.push_str("];\n");
    code.push_str(&all);
    std::fs::write(out.join("plugins.rs"), code).expect("write plugins.rs");

    // The test-only guests (tests/guests): into a folder of their own, so a server of
    // `plugins::DIR` never loads them by accident.
    let guests_out = out.join("guests");
    let opts = berth_build::BuildOptions {
        out_dir: Some(guests_out.clone()),
        ..opts
    };
    let built = match berth_build::build(&manifest.join("guests"), &opts) {
        Ok(built) => built,
        Err(e) => panic!("building the test guests failed:\n{e}"),
    };
    let mut code = String::new();
    for b in &built {
        let ident = b.name.to_uppercase().replace('-', "_");
        let _ = writeln!(code, "/// The `{}` test guest component.", b.name);
        let _ = writeln!(
            code,
            "pub const {ident}: &[u8] = include_bytes!({:?});",
            b.path.display().to_string()
        );
    }
    std::fs::write(out.join("guests.rs"), code).expect("write guests.rs");
}
