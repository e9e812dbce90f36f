//! Making sure the wasm target is installed.

use std::path::PathBuf;
use std::process::Command;

use crate::cargo::scrub_env;
use crate::{BuildError, WASM_TARGET};

/// Checks that the `wasm32-unknown-unknown` standard library is installed for the
/// active toolchain, installing it with rustup when `install` is set.
pub(crate) fn ensure_target(install: bool) -> Result<(), BuildError> {
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"]);
    scrub_env(&mut list);
    match list.output() {
        Ok(out) if out.status.success() => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            if stdout.lines().any(|l| l.trim() == WASM_TARGET) {
                return Ok(());
            }
        }
        // rustup exists but cannot list (e.g. a toolchain it does not manage): fall back
        // to looking at the sysroot.
        Ok(_) => {}
        Err(_) => {
            return if sysroot_has_target() {
                Ok(())
            } else {
                Err(BuildError::NoRustup {
                    target: WASM_TARGET,
                })
            };
        }
    }
    if sysroot_has_target() {
        return Ok(());
    }
    if !install {
        return Err(BuildError::TargetInstall {
            target: WASM_TARGET,
            output: "the target is not installed (and installing was disabled)".into(),
        });
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", WASM_TARGET]);
    scrub_env(&mut add);
    let out = add.output().map_err(|e| BuildError::spawn(&add, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BuildError::TargetInstall {
            target: WASM_TARGET,
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Whether `rustc --print sysroot` has the target's standard library.
fn sysroot_has_target() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.args(["--print", "sysroot"]);
    scrub_env(&mut cmd);
    let Ok(out) = cmd.output() else { return false };
    if !out.status.success() {
        return false;
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    sysroot
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .join("lib")
        .is_dir()
}
