//! `berth serve --watch-src DIR`: the plugin author's loop. Each crate is built once at
//! start and again whenever a file in it changes (its `target/` aside), through
//! `berth-build` as `berth build` does, into the server's plugins folder; then the
//! server rescans, which hot-swaps the new build in. A build that fails prints the
//! compiler's diagnostics and changes nothing: the last good build keeps serving.

use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_server::reload::Reloader;
use notify::{RecursiveMode, Watcher};

/// How long sources must be quiet before a build starts (an editor's save is often a
/// burst of writes and renames).
const QUIET: Duration = Duration::from_millis(300);

/// The watchers of a `--watch-src` session; dropping it stops the events.
pub struct Dev {
    _watchers: Vec<notify::RecommendedWatcher>,
}

/// Starts one builder thread per crate in `crates` (none: `None`).
pub fn spawn(crates: &[PathBuf], plugins_dir: PathBuf, reloader: Arc<Reloader>) -> Option<Dev> {
    if crates.is_empty() {
        return None;
    }
    let runtime = tokio::runtime::Handle::current();
    let mut watchers = Vec::new();
    for dir in crates {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        let (tx, rx) = mpsc::channel::<()>();
        let root = dir.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            let is_access = matches!(event.kind, notify::EventKind::Access(_));
            if !is_access && event.paths.iter().any(|p| is_source(&root, p)) {
                let _ = tx.send(());
            }
        });
        match watcher {
            Ok(mut w) => match w.watch(&dir, RecursiveMode::Recursive) {
                Ok(()) => watchers.push(w),
                Err(e) => eprintln!("berth: cannot watch {} ({e})", dir.display()),
            },
            Err(e) => eprintln!("berth: cannot watch {} ({e})", dir.display()),
        }
        let (plugins_dir, reloader, runtime) =
            (plugins_dir.clone(), reloader.clone(), runtime.clone());
        std::thread::spawn(move || loop {
            build_and_swap(&dir, &plugins_dir, &reloader, &runtime);
            // Wait for a change, then for the burst of writes to end.
            if rx.recv().is_err() {
                return;
            }
            while rx.recv_timeout(QUIET).is_ok() {}
        });
    }
    Some(Dev {
        _watchers: watchers,
    })
}

/// Whether a change at `path` is to the crate's sources: not under `target/` or a
/// hidden folder, and not a built `.wasm` (the plugins folder may be inside the crate).
fn is_source(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let hidden_or_target = rel.components().any(|c| match c {
        Component::Normal(name) => {
            let name = name.to_string_lossy();
            name == "target" || name.starts_with('.')
        }
        _ => false,
    });
    // `.wasm` and the build's `name.wasm.tmpNNN`: outputs, not sources.
    let output = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains(".wasm"));
    !hidden_or_target && !output
}

fn build_and_swap(
    dir: &Path,
    plugins_dir: &Path,
    reloader: &Reloader,
    runtime: &tokio::runtime::Handle,
) {
    let started = Instant::now();
    let opts = berth_build::BuildOptions {
        out_dir: Some(plugins_dir.to_path_buf()),
        ..Default::default()
    };
    eprintln!("berth: building {}", dir.display());
    match berth_build::build(dir, &opts) {
        Ok(built) => {
            for b in &built {
                eprintln!(
                    "berth: built {} ({} bytes) in {:.1} s",
                    b.name,
                    b.component.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            let report = runtime.block_on(reloader.rescan());
            for s in &report.swapped {
                eprintln!("berth: {} is live ({})", s.plugin, s.new);
            }
            for r in &report.refused {
                eprintln!("berth: refused {r}");
            }
        }
        Err(e) => {
            eprintln!("berth: build failed; still serving the last good build\n{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_exclude_target_hidden_and_wasm() {
        let root = Path::new("/w/greet");
        assert!(is_source(root, Path::new("/w/greet/src/lib.rs")));
        assert!(is_source(root, Path::new("/w/greet/Cargo.toml")));
        assert!(!is_source(root, Path::new("/w/greet/target/release/x.d")));
        assert!(!is_source(root, Path::new("/w/greet/.git/index")));
        assert!(!is_source(root, Path::new("/w/greet/greet.wasm")));
        assert!(!is_source(root, Path::new("/w/other/src/lib.rs")));
    }
}
