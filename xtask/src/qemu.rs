//! `cargo xtask qemu [--serve PORT] [--example full|push] [--plugins a,b] [--heap BYTES]
//! [--profile]`: build the bare-metal image (host/qemu) and the plugin store, boot them on
//! `qemu-system-riscv32 -machine virt`, and test the device from the host through QEMU's
//! user networking (a loopback port forwarded to :80).
//!
//! `--heap BYTES` caps the image's heap (QEMU's generic loader hands it the figure, see
//! host/qemu/src/boot.rs): a set that does not fit then fails to load or fails its checks.
//! `--example full` is seed 002's Full Example (logger, cors, device, ws-echo with
//! `examples/seed002-full/berth.toml`, plus a `/static` mount) and its own checks.
//! `--example push` pushes plugins to the running image and reboots it (qemu_push.rs).
//! The drive is the plugin store's two-slot layout (host/embedded/src/slots.rs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, run, target_dir};

/// The plugins the image carries, in plugin order (`--plugins a,b` overrides it: the
/// checks that need a missing plugin then fail, which is fine for measuring).
const PLUGINS: &[&str] = &["hello", "chat", "ws-echo", "micro-api"];
const TARGET: &str = "riscv32imac-unknown-none-elf";

/// What CI runs after the default set (`.ci/run` spells it out too): the Full Example
/// with the heap capped at its measured high-water mark plus room for fragmentation.
pub const CI_FULL_EXAMPLE: [&str; 4] = ["--example", "full", "--heap", "839680"];

/// Seed 002's Full Example: its plugins, in its order.
const FULL: &[&str] = &["logger", "cors", "device", "ws-echo"];

/// Which plugin set the store carries and which checks run against it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Example {
    /// hello, chat, ws-echo, micro-api with seed 002 medium's folders (or `--plugins`).
    Default,
    /// Seed 002's Full Example with its berth.toml and a `/static` mount.
    Full,
    /// Plugins pushed to the running image (`--example push`, qemu_push.rs): the store
    /// starts with the given plugins only, no folders.
    Push,
}

/// The static folders and plugin tables of the default set: micro-api's
/// `mount_static("/static", "www")` and `send_file("data/…")` with the folders of seed
/// 002's medium example, granted to it as that example's config does.
fn default_statics(root: &Path) -> Result<berth_embedded::StaticConfig> {
    let example = root.join("examples/seed002-medium");
    let mut budget = 1 << 20;
    let mut statics = berth_embedded::StaticConfig::default();
    for dir in ["www", "data"] {
        let files = berth_embedded::desktop::read_folder(&example.join(dir), &mut budget)
            .with_context(|| format!("reading {dir}"))?;
        statics.folders.push(berth_embedded::StaticFolder {
            dir: dir.into(),
            files,
        });
    }
    statics
        .grants
        .push(("micro-api".into(), vec!["www".into(), "data".into()]));
    Ok(statics)
}

/// Builds everything and returns (kernel ELF, drive): the drive holds the store's two
/// slots (host/embedded/src/slots.rs), the image committed in slot A. With `admin`, the
/// image turns the admin endpoint on.
pub fn build(
    root: &Path,
    plugins: &[String],
    example: Example,
    admin: Option<berth_embedded::store::AdminEntry>,
) -> Result<(PathBuf, PathBuf)> {
    let target = target_dir(root);
    let out = target.join("qemu");
    std::fs::create_dir_all(&out)?;
    // Device plugins go through wasm-opt: on the device a module's code is held in RAM.
    let wasm_opt = crate::wasm_opt::ensure(root)?;
    eprintln!("building the plugins (wasm32-unknown-unknown, 16 KiB stack, wasm-opt)");
    let opts = berth_build::BuildOptions {
        out_dir: Some(out.join("plugins")),
        target_dir: Some(target.join("berth-plugins")),
        wasm_opt: Some(wasm_opt),
        ..Default::default()
    };
    berth_build::build(&root.join("plugins"), &opts).context("building the plugins")?;
    let mut files = Vec::new();
    for name in plugins {
        let path = out.join("plugins").join(format!("{name}.wasm"));
        let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        files.push((name.to_string(), bytes));
    }
    // The Full Example's `[plugin.*]` tables and GPIO grant come from its berth.toml,
    // and seed 002 medium's `www/` is mounted at `/static` (`--static /static=…`).
    let config = match example {
        Example::Full => Some(
            berth_config::Config::load(&root.join("examples/seed002-full/berth.toml"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        Example::Default | Example::Push => None,
    };
    let statics = match &config {
        Some(config) => {
            let mount = berth_config::StaticMountConfig {
                prefix: "/static".into(),
                dir: root.join("examples/seed002-medium/www"),
                max_age: 3600,
            };
            berth_embedded::desktop::static_files(config, &[mount])
                .map_err(|e| anyhow::anyhow!("{e}"))?
        }
        None if example == Example::Push => berth_embedded::StaticConfig::default(),
        None => default_statics(root)?,
    };
    let tables: Vec<_> = files
        .iter()
        .map(|(name, _)| match &config {
            Some(c) => (c.plugin_pairs(name), c.gpio_grant(name)),
            None => (Vec::new(), berth_embedded::GpioGrant::NONE),
        })
        .collect();
    let image = berth_embedded::store::Image {
        plugins: files
            .iter()
            .zip(&tables)
            .map(
                |((name, wasm), (pairs, gpio))| berth_embedded::store::Entry {
                    name,
                    config: pairs.clone(),
                    gpio: *gpio,
                    dirs: statics.dirs_of(name),
                    wasm,
                },
            )
            .collect(),
        folders: statics.store_folders(),
        mounts: statics.store_mounts(),
        admin,
    };
    let image = berth_embedded::store::pack(&image).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Each slot holds twice the image or 1 MiB, whichever is more: room to push plugins.
    let slot_sectors = 1 + (2 * image.len()).max(1 << 20).div_ceil(512);
    let dev = berth_embedded::block::MemDevice::new(512, 2 * slot_sectors);
    let dev = berth_embedded::slots::format(dev, &image).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = out.join(match example {
        Example::Push => "push-drive.bin",
        _ => "plugins.bin",
    });
    std::fs::write(&store, &dev.data)?;
    eprintln!(
        "plugin store: {} ({} bytes of image on a {}-byte drive)",
        store.display(),
        image.len(),
        dev.data.len()
    );

    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", TARGET]);
    cmd.env("CARGO_TARGET_DIR", &target);
    run(cmd, &root.join("host/qemu"))?;
    let elf = target.join(TARGET).join("release").join("berth-qemu");
    Ok((elf, store))
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// What the image is told at boot (host/qemu/src/boot.rs).
pub struct BootSettings {
    /// Heap cap in bytes; 0 for the whole measuring heap.
    pub heap: u32,
    /// Print the per-plugin profile.
    pub profile: bool,
}

/// Boots the image on `store` (the drive, written in place), serial log to `log`, the
/// guest's port 80 forwarded to 127.0.0.1:`port`.
pub fn boot(
    elf: &Path,
    store: &Path,
    port: u16,
    log: &Path,
    settings: &BootSettings,
) -> Result<Child> {
    if Command::new("qemu-system-riscv32")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("qemu-system-riscv32 not found: apt-get install qemu-system-misc");
    }
    let mut cmd = Command::new("qemu-system-riscv32");
    cmd.args([
        "-machine",
        "virt",
        "-m",
        "128M",
        "-nographic",
        "-bios",
        "none",
    ]);
    // Exact instruction counts (minstret) for the per-request numbers.
    cmd.args(["-icount", "shift=0"]);
    cmd.arg("-kernel").arg(elf);
    // The boot settings: magic `BRTH` and the heap cap in one 8-byte write, the flags
    // in the next word (see host/qemu/src/boot.rs for the address).
    let magic = u64::from(u32::from_le_bytes(*b"BRTH"));
    let word = (u64::from(settings.heap) << 32) | magic;
    cmd.arg("-device")
        .arg(format!("loader,addr=0x87800000,data={word:#x},data-len=8"));
    cmd.arg("-device").arg(format!(
        "loader,addr=0x87800008,data={},data-len=4",
        u32::from(settings.profile)
    ));
    cmd.arg("-serial").arg(format!("file:{}", log.display()));
    cmd.args(["-monitor", "none"]);
    cmd.arg("-drive").arg(format!(
        "file={},format=raw,if=none,id=store",
        store.display()
    ));
    cmd.args(["-device", "virtio-blk-device,drive=store"]);
    cmd.arg("-netdev")
        .arg(format!("user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:80"));
    cmd.args(["-device", "virtio-net-device,netdev=net0"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    eprintln!("$ {}", crate::shown(&cmd));
    cmd.spawn().context("cannot start qemu-system-riscv32")
}

/// Waits until the serial log shows `needle` (or the image failed, or QEMU exited).
pub fn wait_for(log: &Path, needle: &str, child: &mut Child, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return Ok(());
        }
        if let Some(at) = text.find("fatal").or_else(|| text.find("panic")) {
            // A panic's message follows its location on the next line.
            let fatal: Vec<&str> = text[at..].lines().take(2).collect();
            bail!("the image failed: {}", fatal.join(" "));
        }
        if let Some(status) = child.try_wait()? {
            bail!("qemu exited ({status}) before serving:\n{text}");
        }
        if Instant::now() > deadline {
            bail!("no {needle:?} within {within:?}; serial log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

const USAGE: &str = "usage: cargo xtask qemu [--serve PORT] [--example full|push] [--plugins a,b,…] [--heap BYTES] [--profile]";

/// `cargo xtask qemu [--serve PORT] [--example full] [--plugins a,b] [--heap BYTES]
/// [--profile]`.
pub fn qemu(root: &Path, args: &[String]) -> Result<()> {
    let mut serve = None;
    let mut plugins: Option<Vec<String>> = None;
    let mut example = Example::Default;
    let mut settings = BootSettings {
        heap: 0,
        profile: false,
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        if flag == "--profile" {
            settings.profile = true;
            continue;
        }
        match (flag.as_str(), rest.next()) {
            ("--serve", Some(port)) => serve = Some(port.parse::<u16>().context("--serve PORT")?),
            ("--plugins", Some(list)) => {
                plugins = Some(list.split(',').map(String::from).collect())
            }
            ("--example", Some(name)) if name == "full" => example = Example::Full,
            ("--example", Some(name)) if name == "push" => example = Example::Push,
            ("--heap", Some(bytes)) => {
                settings.heap = bytes
                    .parse::<u32>()
                    .ok()
                    .filter(|&b| b >= 64 << 10)
                    .context("--heap BYTES: a number of bytes, at least 65536")?
            }
            _ => bail!("{USAGE}"),
        }
    }
    let default: &[&str] = match example {
        Example::Default => PLUGINS,
        Example::Full => FULL,
        Example::Push => return crate::qemu_push::run(root, &settings),
    };
    let plugins =
        plugins.unwrap_or_else(|| default.iter().map(|p| p.to_string()).collect::<Vec<_>>());
    let (elf, store) = build(root, &plugins, example, None)?;
    let sizes = crate::elf::sizes(&elf)?;
    println!(
        "qemu image: .text {} B, .data {} B, .bss {} B (16 MiB of .bss is the measuring heap)",
        sizes.text, sizes.data, sizes.bss
    );
    let port = match serve {
        Some(p) => p,
        None => free_port()?,
    };
    let log = target_dir(root).join("qemu").join("serial.log");
    let _ = std::fs::remove_file(&log);
    let mut child = boot(&elf, &store, port, &log, &settings)?;
    let outcome = (|| -> Result<()> {
        wait_for(&log, "serving on", &mut child, Duration::from_secs(120))?;
        if serve.is_some() {
            println!(
                "serving on http://127.0.0.1:{port} (serial log: {}); Ctrl-C stops it",
                log.display()
            );
            child.wait()?;
            return Ok(());
        }
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let (passed, failed) = match example {
            Example::Default => crate::qemu_tests::run_all(addr),
            Example::Full => crate::qemu_full::run_full(addr),
            Example::Push => unreachable!("--example push returned above"),
        };
        // An allocation the capped heap could not serve stops the image.
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let crashed = text
            .find("\npanic")
            .map(|at| text[at + 1..].lines().take(2).collect::<Vec<_>>().join(" "));
        report(&log, &plugins, settings.heap)?;
        if let Some(line) = crashed {
            bail!("the image stopped while serving: {line}");
        }
        println!("qemu: {passed} passed, {failed} failed");
        if failed > 0 {
            bail!(
                "{failed} QEMU test(s) failed; serial log: {}",
                log.display()
            );
        }
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// The number after `key` in `line` (`"heap used 123 bytes"`, key `"heap used "`).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let (_, rest) = line.split_once(key)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Heap and instruction numbers from the serial log, and the heap table's row.
fn report(log: &Path, plugins: &[String], cap: u32) -> Result<()> {
    let text = std::fs::read_to_string(log)?;
    for line in text.lines().filter(|l| l.starts_with("profile: ")) {
        println!("{line}");
    }
    let loaded = text.lines().find(|l| l.contains("loaded"));
    if let Some(line) = loaded {
        println!("{}", line.trim_start_matches("berth-qemu: "));
    }
    if let Some(line) = text.lines().find(|l| l.contains("serving on")) {
        println!("{}", line.trim_start_matches("berth-qemu: "));
    }
    let last_conn = text.lines().rev().find(|l| l.starts_with("conn: "));
    if let Some(line) = last_conn {
        if let Some((_, heap)) = line.split_once("; ") {
            println!("{heap} (since boot finished, after every check)");
        }
    }
    let after = loaded.and_then(|l| number_after(l, "heap used "));
    let peak = loaded.and_then(|l| number_after(l, "(peak "));
    let high = last_conn.and_then(|l| number_after(l, "high-water mark "));
    let shown = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
    println!(
        "heap table: {} | after loading {} B | peak while loading {} B | high-water mark {} B | cap {}",
        plugins.join("+"),
        shown(after),
        shown(peak),
        shown(high),
        if cap == 0 {
            "none".to_string()
        } else {
            format!("{cap} B")
        }
    );
    // Each `conn:` line closes a connection; the access line before it names its request.
    let mut hello = Vec::new();
    let mut last_access = "";
    for line in text.lines() {
        if line.contains(" | ") {
            last_access = line;
        } else if let Some(rest) = line.strip_prefix("conn: ") {
            let n: u64 = rest.split(' ').next().unwrap_or("0").parse().unwrap_or(0);
            if last_access.contains("GET /hello |") {
                hello.push(n);
            }
            last_access = "";
        }
    }
    hello.sort_unstable();
    if let Some(median) = hello.get(hello.len() / 2) {
        println!(
            "GET /hello: median {median} instructions per request (accept → response written, TCP and idle polling included; {} samples)",
            hello.len()
        );
    }
    Ok(())
}

/// A response: status, lower-case headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// A raw HTTP exchange for the tests.
pub fn http(addr: SocketAddr, request: &str) -> Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request.as_bytes())?;
    read_response(&mut BufReader::new(s))
}

/// Reads one response (content-length bodies).
pub fn read_response<R: Read>(r: &mut BufReader<R>) -> Result<Reply> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').context("header without colon")?;
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(Ok(0), |(_, v)| v.parse::<usize>())?;
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((status, headers, body))
}
