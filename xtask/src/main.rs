//! Repository tasks, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! - `demo`: build the release `berth` binary, build the bundled plugins, then serve the
//!   root `berth.toml` (127.0.0.1:8000) in the foreground until Ctrl-C.
//! - `build-plugins`: build the bundled plugins into `plugins/<name>.wasm`.
//! - `test`: install the test clients (`scripts/test-deps.sh`), then run every test: the
//!   host workspace (both engines) and the guest SDK's own workspace.
//! - `bench`: every benchmark scenario against the native baselines, in one run; prints
//!   the tables and writes `BENCHMARKS.md` (see `bench.rs`).
//! - `ci`: what `.ci/run` does: formatting, clippy with warnings denied, then `test`.
//! - `soak [--minutes N] [--engine E] [--release]`: the `berth` binary under mixed HTTP,
//!   WebSocket and SSE traffic plus misbehaving plugins on loopback, 10 minutes by
//!   default; fails on any unexpected error or RSS growth after warm-up (see `soak.rs`).
//! - `fuzz-smoke [--seconds N] [--target T]`: each cargo-fuzz target for 60 s (see
//!   `fuzz.rs`; sets `RUSTC_BOOTSTRAP=1` for the nightly-only fuzz flags).
//! - `qemu [--serve PORT] [--example full|push] [--plugins a,b] [--heap BYTES] [--profile]`:
//!   the bare-metal RISC-V image on QEMU, tested from the host, its heap capped with
//!   `--heap` (see `qemu.rs`).
//! - `firmware`: build the ESP32-C6 firmware and print its image sizes (`firmware.rs`).
//!
//! `soak` and `fuzz-smoke` take minutes, so `ci` does not run them.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

mod bench;
mod elf;
mod firmware;
mod fuzz;
mod qemu;
mod qemu_full;
mod qemu_push;
mod qemu_tests;
mod soak;
mod wasm_opt;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  demo            build the release berth binary and the plugins, then serve ./berth.toml
  build-plugins   build the bundled plugins into plugins/<name>.wasm
  test            install the test clients (Python, Chromium), then run every test
  bench           every benchmark scenario vs native baselines; writes BENCHMARKS.md
  bench-compression  the response compression rows of bench alone (h2load)
  ci              fmt check, clippy -D warnings, then test (as .ci/run)
  swap-bench      [--release]  hot swap: swap time p50/p99 over 100 swaps (SWAPS) and
                  the request latency during swaps vs without, per engine
  soak            [--minutes N] [--engine wasmtime|wasmi] [--release]
                  mixed HTTP/WebSocket/SSE traffic and misbehaving plugins against the
                  berth binary on loopback (10 min by default): no unexpected errors,
                  flat RSS, exit 0 on SIGTERM
  fuzz-smoke      [--seconds N] [--target T]  every fuzz target for 60 s (cargo-fuzz)
  qemu [--serve PORT] [--example full|push] [--plugins a,b] [--heap BYTES] [--profile]
                  build the bare-metal RISC-V image and plugin store, boot them on
                  qemu-system-riscv32 and test them (or leave them serving on PORT)
  firmware        build the ESP32-C6 firmware (release) and print its image sizes;
                  BERTH_WIFI_SSID / BERTH_WIFI_PASSWORD are built in when set";

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = root()?;
    match args.first().map(String::as_str) {
        Some("demo") => demo(&root),
        Some("build-plugins") => build_plugins(&root),
        Some("test") => test(&root),
        Some("bench") => bench::bench(&root),
        Some("bench-ops") => bench::ops::standalone(&root),
        Some("bench-compression") => bench::compression::standalone(&root),
        Some("ci") => ci(&root),
        Some("swap-bench") => swap_bench(&root, args[1..].iter().any(|a| a == "--release")),
        Some("qemu") => qemu::qemu(&root, &args[1..]),
        Some("firmware") => firmware::firmware(&root, &args[1..]),
        Some("soak") => {
            let options = soak::Options::parse(&args[1..])?;
            let berth = build_berth_profile(&root, options.release)?;
            let work = target_dir(&root).join("soak");
            soak::run(&berth, &root, &work, &options)
        }
        Some("fuzz-smoke") => {
            let (seconds, targets) = fuzz::parse(&args[1..])?;
            fuzz::smoke(&root, seconds, &targets)
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => {
            eprintln!("unknown task {other:?}\n\n{USAGE}");
            std::process::exit(2);
        }
        None => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// The repository root: the parent of this crate's folder.
fn root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask must live one level below the repository root")
}

/// The cargo that runs us (so `cargo +toolchain xtask` stays on that toolchain).
fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` in `dir`, failing when it cannot start or exits unsuccessfully.
fn run(mut cmd: Command, dir: &Path) -> Result<()> {
    cmd.current_dir(dir);
    eprintln!("$ {}", shown(&cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("`{}` failed ({status})", shown(&cmd));
    }
    Ok(())
}

fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cargo's target directory for the root workspace.
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        // Cargo resolves a relative CARGO_TARGET_DIR against its working directory,
        // which is `root` for every command run here.
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Builds the release `berth` binary and returns its path.
fn build_berth(root: &Path) -> Result<PathBuf> {
    build_berth_profile(root, true)
}

/// Builds the `berth` binary, release or debug, and returns its path.
fn build_berth_profile(root: &Path, release: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.arg("build");
    if release {
        cmd.arg("--release");
    }
    cmd.args(["--package", "berth", "--bin", "berth"]);
    run(cmd, root)?;
    let exe = target_dir(root)
        .join(if release { "release" } else { "debug" })
        .join(format!("berth{}", env::consts::EXE_SUFFIX));
    if !exe.is_file() {
        bail!("built berth, but {} is not there", exe.display());
    }
    Ok(exe)
}

fn build_plugins(root: &Path) -> Result<()> {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--package",
        "berth",
        "--bin",
        "berth",
        "--",
    ]);
    cmd.args(["build", "plugins"]);
    run(cmd, root)
}

fn demo(root: &Path) -> Result<()> {
    let berth = build_berth(root)?;
    let mut build = Command::new(&berth);
    build.args(["build", "plugins"]);
    run(build, root)?;

    let mut serve = Command::new(&berth);
    serve.args(["serve", "--config", "berth.toml"]);
    serve.current_dir(root);
    eprintln!("$ {}", shown(&serve));
    eprintln!(
        "try: curl localhost:8000/hello, curl localhost:8000/static/, \
         open http://localhost:8000/chat   (Ctrl-C stops the server)"
    );
    foreground(serve)
}

/// Replaces this process with `cmd` (Unix), so Ctrl-C and signals go straight to it.
#[cfg(unix)]
fn foreground(mut cmd: Command) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(err).with_context(|| format!("cannot start {:?}", cmd.get_program()))
}

/// Runs `cmd` to completion and exits with its status.
#[cfg(not(unix))]
fn foreground(mut cmd: Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    std::process::exit(status.code().unwrap_or(1));
}

fn ci(root: &Path) -> Result<()> {
    // Both may already be installed, or rustup may be absent (a distribution toolchain):
    // the steps below then report what is really missing.
    for args in [
        &["target", "add", "wasm32-unknown-unknown"][..],
        &["component", "add", "rustfmt", "clippy"][..],
        &["target", "add", "riscv32imac-unknown-none-elf"][..],
    ] {
        let mut rustup = Command::new("rustup");
        rustup.args(args);
        if let Err(e) = run(rustup, root) {
            eprintln!("warning: {e:#}");
        }
    }

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run(fmt, root)?;
    for manifest in [
        "guest-sdk/Cargo.toml",
        "plugins/Cargo.toml",
        "host/qemu/Cargo.toml",
        "host/firmware-esp32c6/Cargo.toml",
        "bench/wasi-hello/Cargo.toml",
        "tests/guests/Cargo.toml",
    ] {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--check", "--manifest-path", manifest]);
        run(fmt, root)?;
    }

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy, root)?;
    // The shared embassy-net adapter is behind a feature no workspace member enables.
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "-p",
        "berth-embedded",
        "--features",
        "embassy-net",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy, root)?;
    // The bare-metal images are their own workspaces; their target comes from their
    // .cargo/config.toml, so they are linted from their folders.
    for folder in ["host/qemu", "host/firmware-esp32c6"] {
        let mut clippy = cargo();
        clippy.args(["clippy", "--release", "--", "-D", "warnings"]);
        clippy.env("CARGO_TARGET_DIR", target_dir(root));
        run(clippy, &root.join(folder))?;
    }
    test(root)?;
    qemu::qemu(root, &[])?;
    qemu::qemu(root, &qemu::CI_FULL_EXAMPLE.map(String::from))?;
    qemu::qemu(root, &["--example".into(), "push".into()])?;
    firmware::firmware(root, &[])
}

/// Every test: the black-box suites need the Python clients and Chromium.
/// The hot-swap benchmark: an ignored test of berth-tests (the dev profile, whose
/// dependencies are optimised, unless `release`).
fn swap_bench(root: &Path, release: bool) -> Result<()> {
    let mut bench = cargo();
    bench.arg("test");
    if release {
        bench.arg("--release");
    }
    bench.args([
        "-p",
        "berth-tests",
        "--test",
        "swap_bench",
        "--",
        "--ignored",
        "--nocapture",
    ]);
    run(bench, root)
}

fn test(root: &Path) -> Result<()> {
    run(Command::new(root.join("scripts/test-deps.sh")), root)?;

    // Builds the plugins itself (tests/build.rs) and runs every suite once per engine.
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    run(test, root)?;

    // The guest SDK is its own workspace: its unit, runtime and doc tests run natively.
    let mut sdk = cargo();
    sdk.args(["test", "--manifest-path", "guest-sdk/Cargo.toml"]);
    run(sdk, root)?;

    // The bundled plugins' own tests, natively, against the SDK's in-memory host
    // (berth_sdk::testing): seconds once the SDK's dependencies are built.
    let mut plugins = cargo();
    plugins.args(["test", "--manifest-path", "plugins/Cargo.toml"]);
    run(plugins, root)
}
