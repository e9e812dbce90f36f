//! When to rescan: file events in the plugins folder and on `berth.toml` (the `notify`
//! crate: inotify, FSEvents, …), and SIGHUP.
//!
//! Events are coalesced: a rescan starts once no event has come for `[reload] settle`,
//! so a file copied in many writes is read once, whole. A rescan that met a file still
//! being written asks for another one, after another quiet `settle`. SIGHUP rescans at
//! once and also retries files refused before (a bad file is otherwise tried again only
//! when it changes).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::Reloader;

/// What to watch.
#[derive(Debug, Clone)]
pub struct WatchPaths {
    /// The plugins folder: its `*.wasm` files.
    pub plugins_dir: PathBuf,
    /// The configuration file, when there is one.
    pub config_file: Option<PathBuf>,
}

/// The folder to watch for `path` and the file name in it that matters (`None`: any
/// `*.wasm`). A file is watched through its folder: editors replace a file by
/// renaming a new one over it, which a watch on the file itself would lose.
fn targets(paths: &WatchPaths) -> Vec<(PathBuf, Option<std::ffi::OsString>)> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = vec![(canonical(&paths.plugins_dir), None)];
    if let Some(file) = &paths.config_file {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        out.push((canonical(dir), file.file_name().map(|n| n.to_os_string())));
    }
    out
}

/// Whether an event on `path` is one a rescan should see.
fn relevant(path: &Path, targets: &[(PathBuf, Option<std::ffi::OsString>)]) -> bool {
    let Some(parent) = path.parent() else {
        return false;
    };
    targets.iter().any(|(dir, name)| {
        parent == dir
            && match name {
                Some(name) => path.file_name() == Some(name.as_os_str()),
                None => path.extension().is_some_and(|x| x == "wasm"),
            }
    })
}

/// Rescans through `reloader` on SIGHUP and, with `paths`, when they change, until the
/// task is aborted. The watch is in place when this returns (a file dropped in right
/// after is seen), and a first rescan catches what changed while the server started.
pub fn spawn(reloader: Arc<Reloader>, paths: Option<WatchPaths>) -> JoinHandle<()> {
    let kick = Arc::new(Notify::new());
    let watcher = paths.map(|paths| start_watcher(&targets(&paths), kick.clone()));
    if watcher.is_some() {
        kick.notify_one();
    }
    // Registered before `run` says it listens, so an early SIGHUP cannot kill the server.
    let mut hangup = crate::hangup::Hangup::new();
    tokio::spawn(async move {
        // Kept alive for as long as the task runs; dropping it stops the events.
        let _watcher = watcher;
        let settle = reloader.settle();
        loop {
            tokio::select! {
                () = kick.notified() => {
                    // Coalesce: rescan once the events have stopped for `settle`.
                    loop {
                        tokio::select! {
                            () = kick.notified() => {}
                            () = tokio::time::sleep(settle) => break,
                        }
                    }
                }
                () = hangup.next() => {
                    tracing::info!("SIGHUP: rescanning the plugins");
                    reloader.forget_refused();
                }
            }
            let report = reloader.rescan().await;
            if report.retry {
                kick.notify_one();
            }
        }
    })
}

fn start_watcher(
    targets: &[(PathBuf, Option<std::ffi::OsString>)],
    kick: Arc<Notify>,
) -> Option<notify::RecommendedWatcher> {
    let filter = targets.to_vec();
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(event) => {
            let counts = !matches!(
                event.kind,
                EventKind::Access(notify::event::AccessKind::Open(_))
            ) && event.paths.iter().any(|p| relevant(p, &filter));
            if counts {
                kick.notify_one();
            }
        }
        Err(e) => tracing::warn!("file watcher: {e}"),
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot watch for plugin changes ({e}); SIGHUP still rescans");
            return None;
        }
    };
    for (dir, _) in targets {
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => tracing::info!("watching {} for plugin changes", dir.display()),
            Err(e) => tracing::warn!("cannot watch {} ({e}); SIGHUP still rescans", dir.display()),
        }
    }
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plugin_files_and_the_config_count() {
        let paths = WatchPaths {
            plugins_dir: PathBuf::from("/nonexistent/app/plugins"),
            config_file: Some(PathBuf::from("/nonexistent/app/berth.toml")),
        };
        let t = targets(&paths);
        assert!(relevant(
            Path::new("/nonexistent/app/plugins/hello.wasm"),
            &t
        ));
        assert!(relevant(Path::new("/nonexistent/app/berth.toml"), &t));
        assert!(!relevant(
            Path::new("/nonexistent/app/plugins/.hello.wasm.swp"),
            &t
        ));
        assert!(!relevant(
            Path::new("/nonexistent/app/plugins/sub/x.wasm"),
            &t
        ));
        assert!(!relevant(Path::new("/nonexistent/app/other.toml"), &t));
        assert!(!relevant(Path::new("/nonexistent/app/hello.wasm"), &t));
    }
}
