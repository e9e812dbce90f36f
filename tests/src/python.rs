//! The Python plugins (`examples/python/*`, `tests/python/*`), built once per test run
//! with berth-build's componentize-py path (what `berth build` runs) into
//! `target/berth-python/plugins/`. A build whose inputs did not change is skipped (the
//! digest beside each component), and the server's compiled-artifact cache keeps their
//! machine code, so only a changed plugin costs a build and a compile.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_build::python::{build_python, python_plugins, PythonOptions};

use crate::repo_root;

/// The folder holding every Python plugin as `<name>.wasm` (built on first use).
pub fn plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        let out = target.join("berth-python").join("plugins");
        let mut dirs = Vec::new();
        for parent in ["examples/python", "tests/python"] {
            dirs.extend(python_plugins(&repo_root().join(parent)).expect("list Python plugins"));
        }
        // Two builds at a time: each is one busy componentize-py process.
        let opts = PythonOptions {
            out_dir: Some(out.clone()),
            ..PythonOptions::default()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let queue = std::sync::Mutex::new(dirs.into_iter());
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some(dir) = next else { break };
                    let result =
                        build_python(&dir, &opts).map_err(|e| format!("{}: {e}", dir.display()));
                    let _ = tx.send(result.map(|b| b.name));
                });
            }
        });
        drop(tx);
        for result in rx {
            if let Err(e) = result {
                panic!("building a Python plugin failed:\n{e}");
            }
        }
        out
    })
}

/// A folder with the Python plugins and the bundled Rust ones named in `rust` (copied
/// from [`crate::plugins::DIR`]), for servers that load both.
pub fn mixed_dir(name: &str, rust: &[&str]) -> PathBuf {
    let python = plugins_dir();
    let dir = python
        .parent()
        .unwrap_or(python)
        .join(format!("mixed-{name}"));
    std::fs::create_dir_all(&dir).expect("mixed plugins folder");
    for entry in std::fs::read_dir(python).expect("Python plugins").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let _ = std::fs::remove_file(dir.join(entry.file_name()));
            std::fs::hard_link(&path, dir.join(entry.file_name()))
                .or_else(|_| std::fs::copy(&path, dir.join(entry.file_name())).map(|_| ()))
                .expect("link a Python plugin");
        }
    }
    for plugin in rust {
        let from = Path::new(crate::plugins::DIR).join(format!("{plugin}.wasm"));
        std::fs::copy(&from, dir.join(format!("{plugin}.wasm")))
            .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    dir
}

/// The config of `examples/python/<name>.toml` on the server·wasmtime runtime, its
/// plugins from [`plugins_dir`], port 0 (and `ws_port` 0 when it has one).
pub fn example(name: &str) -> crate::Config {
    let path = repo_root()
        .join("examples/python")
        .join(format!("{name}.toml"));
    let mut config = crate::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    config.plugins_dir = plugins_dir().to_path_buf();
    config.port = 0;
    config.ws_port = config.ws_port.map(|_| 0);
    config.host = "127.0.0.1".into();
    config.engine = crate::EngineKind::Wasmtime;
    config
}
