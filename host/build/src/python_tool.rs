//! Finding componentize-py, or installing it with pip into a virtualenv in the user's
//! cache folder (once; later builds reuse it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::python::COMPONENTIZE_PY_VERSION;
use crate::BuildError;

/// The componentize-py to run: `$BERTH_COMPONENTIZE_PY`, else the cached virtualenv's,
/// made with `python3 -m venv` (`$BERTH_PYTHON` names another interpreter) and
/// `pip install componentize-py==<version>` when it is not there yet.
pub(crate) fn componentize_py() -> Result<PathBuf, BuildError> {
    if let Some(path) = std::env::var_os("BERTH_COMPONENTIZE_PY") {
        return Ok(PathBuf::from(path));
    }
    let venv = tools_dir()?.join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
    let program = venv.join("bin").join("componentize-py");
    if has_version(&program) {
        return Ok(program);
    }
    install_once(&venv, &program)?;
    if has_version(&program) {
        Ok(program)
    } else {
        Err(fail(format!(
            "{} does not run after installing",
            program.display()
        )))
    }
}

/// `$XDG_CACHE_HOME/berth-tools`, else `$HOME/.cache/berth-tools`.
fn tools_dir() -> Result<PathBuf, BuildError> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| fail("neither XDG_CACHE_HOME nor HOME is set".into()))?;
    Ok(base.join("berth-tools"))
}

/// Builds kept between checkouts, by their inputs' digest (at most [`KEPT_BUILDS`]).
const KEPT_BUILDS: usize = 32;

/// Where the build with inputs `digest` is kept (it may not exist yet); None without a
/// cache folder.
pub(crate) fn cached_build(digest: &str) -> Option<PathBuf> {
    let dir = tools_dir().ok()?.join("python-builds");
    Some(dir.join(format!("{digest}.wasm")))
}

/// Keeps a build (best effort: a cache that cannot be written is skipped), then drops
/// the oldest beyond [`KEPT_BUILDS`] (each is some 18 MB).
pub(crate) fn keep_build(path: &Path, component: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, component).is_err() || std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut kept: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    kept.sort();
    let excess = kept.len().saturating_sub(KEPT_BUILDS);
    for (_, old) in kept.into_iter().take(excess) {
        let _ = std::fs::remove_file(old);
    }
}

fn has_version(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains(COMPONENTIZE_PY_VERSION)
        })
}

/// Installs under a lock file beside the virtualenv, so concurrent builds (two test
/// threads, two `berth build`s) make it once: the others wait for it. A lock older than
/// ten minutes is taken to be left by a build that died.
fn install_once(venv: &Path, program: &Path) -> Result<(), BuildError> {
    let lock = venv.with_extension("lock");
    if let Some(parent) = lock.parent() {
        std::fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
    }
    let started = std::time::Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => {
                let result = if has_version(program) {
                    Ok(())
                } else {
                    install(venv)
                };
                let _ = std::fs::remove_file(&lock);
                return result;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(600));
                if stale {
                    let _ = std::fs::remove_file(&lock);
                } else if has_version(program) {
                    return Ok(());
                } else if started.elapsed() > std::time::Duration::from_secs(900) {
                    return Err(fail(format!(
                        "{} is held by another install",
                        lock.display()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(e) => return Err(BuildError::io(&lock, e)),
        }
    }
}

fn install(venv: &Path) -> Result<(), BuildError> {
    let python = std::env::var_os("BERTH_PYTHON").unwrap_or_else(|| "python3".into());
    // A half-made virtualenv from an interrupted install is made again.
    let _ = std::fs::remove_dir_all(venv);
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
    }
    run(Command::new(&python).args(["-m", "venv"]).arg(venv))?;
    let pip = venv.join("bin").join("pip");
    run(Command::new(&pip).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("componentize-py=={COMPONENTIZE_PY_VERSION}"),
    ]))
}

fn run(command: &mut Command) -> Result<(), BuildError> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| fail(format!("cannot run {shown}: {e} (is Python 3 installed?)")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(fail(format!(
        "{shown} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

fn fail(message: String) -> BuildError {
    BuildError::PythonTool {
        version: COMPONENTIZE_PY_VERSION,
        message,
    }
}
