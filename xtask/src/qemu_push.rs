//! `cargo xtask qemu --example push`: plugins pushed to the running image through its
//! admin endpoint (`/_berth/plugins`), by `berth device push | list | rm` and by raw
//! HTTP, with the store on a virtio-blk drive the image writes — and that drive kept
//! across reboots of the image, and across QEMU killed in the middle of an upload.
//!
//! Boots: (1) hello alone, no `[admin] token`: the endpoint is off (404). (2) hello with
//! a token: 401s, pushes, the list, refusals (422) that leave the old set serving, a
//! replacement. (3) the same drive after a reboot: the pushed plugin still serves; a
//! removal. (4) after QEMU is killed half-way through an upload: the previous set.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::qemu::{boot, build, free_port, read_response, wait_for, BootSettings, Example, Reply};
use crate::{cargo, run as run_cmd, target_dir};

const TOKEN: &str = "qemu-admin-token-7f3a";

/// One booted image.
struct Device {
    child: Child,
    addr: SocketAddr,
    url: String,
}

impl Device {
    fn start(elf: &Path, drive: &Path, log: &Path, settings: &BootSettings) -> Result<Device> {
        let port = free_port()?;
        let _ = std::fs::remove_file(log);
        let mut child = boot(elf, drive, port, log, settings)?;
        if let Err(e) = wait_for(log, "serving on", &mut child, Duration::from_secs(120)) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(Device {
            child,
            addr: format!("127.0.0.1:{port}").parse()?,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Pulls the plug: SIGKILL, as a power cut would (the drive keeps what was written).
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request with a body and an optional bearer token.
fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: d\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    // A refusal may close the connection before the body is read: that is fine.
    let _ = s.write_all(body);
    read_response(&mut BufReader::new(s)).unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.2)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&reply.2)))
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let reply = request(addr, "GET", path, None, b"");
    let value = serde_json::from_slice(&reply.2).unwrap_or(Value::Null);
    (reply.0, value)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The device's list as (name, size, sha256, running).
fn listed(addr: SocketAddr) -> Vec<(String, u64, String, bool)> {
    let reply = request(addr, "GET", "/_berth/plugins", Some(TOKEN), b"");
    assert_eq!(reply.0, 200, "{}", String::from_utf8_lossy(&reply.2));
    json_of(&reply)["plugins"]
        .as_array()
        .expect("a plugin list")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["size"].as_u64().unwrap_or_default(),
                p["sha256"].as_str().unwrap_or_default().to_string(),
                p["running"] == true,
            )
        })
        .collect()
}

/// The device's heap in use, from its list (the QEMU image knows it).
fn heap_used(addr: SocketAddr) -> u64 {
    let reply = request(addr, "GET", "/_berth/plugins", Some(TOKEN), b"");
    json_of(&reply)["heap"]["used"]
        .as_u64()
        .expect("the list gives the heap in use")
}

/// What the checks share: the CLI and the plugin files.
struct Ctx {
    berth: PathBuf,
    plugins: PathBuf,
}

/// Checks run so far.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Ctx {
    fn wasm(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.plugins.join(format!("{name}.wasm"))).expect("plugin file")
    }

    fn berth(&self, device: &Device, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.berth);
        cmd.arg("device").args(args);
        cmd.args(["--url", &device.url]);
        if !args.contains(&"--token") {
            cmd.args(["--token", TOKEN]);
        }
        cmd.output().expect("run berth")
    }
}

impl Tally {
    fn check(&mut self, name: &str, f: impl FnOnce()) {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(()) => {
                self.passed += 1;
                println!("ok     {name}");
            }
            Err(e) => {
                self.failed += 1;
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("FAILED {name}: {why}");
            }
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `cargo xtask qemu --example push`.
pub fn run(root: &Path, settings: &BootSettings) -> Result<()> {
    // The CLI under test, as an operator runs it. Built as `cargo xtask test` builds it
    // (the workspace's test build, whose features differ from `cargo build -p berth`'s):
    // after the suites, as in CI, this is a no-op instead of a second build of the CLI.
    let mut cli = cargo();
    cli.args(["test", "--workspace", "--no-run"]);
    run_cmd(cli, root)?;
    let berth = target_dir(root).join("debug").join("berth");
    let out = target_dir(root).join("qemu");
    let log = out.join("serial-push.log");
    let hello = vec!["hello".to_string()];
    let ctx = Ctx {
        berth,
        plugins: out.join("plugins"),
    };
    let mut suite = Tally::default();

    // (1) No token in the store: the endpoint is off.
    let (elf, drive) = build(root, &hello, Example::Push, None)?;
    let device = Device::start(&elf, &drive, &log, settings)?;
    let addr = device.addr;
    suite.check("admin off without [admin] token: 404", || {
        assert_eq!(get(addr, "/hello").0, 200);
        let reply = request(addr, "GET", "/_berth/plugins", Some(TOKEN), b"");
        assert_eq!(reply.0, 404);
        let reply = request(addr, "PUT", "/_berth/plugins/x", Some(TOKEN), b"\0asm");
        assert_eq!(reply.0, 404);
    });
    device.kill();

    // (2) With a token.
    let admin = berth_embedded::store::AdminEntry {
        token_sha256: berth_embedded::store::token_hash(TOKEN),
        max_upload: 1 << 20,
    };
    let (elf, drive) = build(root, &hello, Example::Push, Some(admin))?;
    let device = Device::start(&elf, &drive, &log, settings)?;
    let addr = device.addr;
    suite.check("wrong or missing token: 401", || {
        for token in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1])] {
            let reply = request(addr, "GET", "/_berth/plugins", token, b"");
            assert_eq!(reply.0, 401, "token {token:?}");
            assert!(crate::qemu_tests::header(&reply.1, "www-authenticate").is_some());
            let reply = request(
                addr,
                "PUT",
                "/_berth/plugins/users",
                token,
                b"\0asm\x01\0\0\0",
            );
            assert_eq!(reply.0, 401, "PUT, token {token:?}");
            let reply = request(addr, "DELETE", "/_berth/plugins/hello", token, b"");
            assert_eq!(reply.0, 401, "DELETE, token {token:?}");
        }
        let out = ctx.berth(&device, &["list", "--token", "wrong"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("401"), "{}", stderr(&out));
        assert_eq!(get(addr, "/hello").0, 200, "hello untouched");
    });
    let users = ctx.wasm("users");
    let hello_wasm = ctx.wasm("hello");
    suite.check("berth device push: the plugin serves at once", || {
        let file = ctx.plugins.join("users.wasm");
        let out = ctx.berth(&device, &["push", file.to_str().expect("path")]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).starts_with("users: added"), "{}", stdout(&out));
        assert_eq!(
            get(addr, "/"),
            (200, json!({"message": "Welcome to the API"}))
        );
        assert_eq!(get(addr, "/api/users"), (200, json!({"users": []})));
        assert_eq!(get(addr, "/hello").0, 200);
    });
    suite.check("berth device list: name, size, SHA-256", || {
        let want = [("hello", &hello_wasm), ("users", &users)];
        let list = listed(addr);
        assert_eq!(list.len(), 2, "{list:?}");
        for ((name, size, hash, running), (want_name, bytes)) in list.iter().zip(want) {
            assert_eq!(
                (name.as_str(), *size, hash.as_str(), *running),
                (want_name, bytes.len() as u64, sha256(bytes).as_str(), true)
            );
        }
        let out = ctx.berth(&device, &["list"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        for (name, bytes) in want {
            let line = text
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} not listed: {text}"));
            assert!(line.contains(&bytes.len().to_string()), "{line}");
            assert!(line.contains(&sha256(bytes)), "{line}");
        }
    });
    suite.check("a bad upload is 422 and the old set keeps serving", || {
        let mut junk = b"\0asm\x0d\0\x01\0".to_vec();
        junk.extend(std::iter::repeat_n(0x5a, 3000));
        for (name, body) in [("broken", &junk[..]), ("text", &b"not wasm at all"[..])] {
            let reply = request(
                addr,
                "PUT",
                &format!("/_berth/plugins/{name}"),
                Some(TOKEN),
                body,
            );
            assert_eq!(
                reply.0,
                422,
                "{name}: {}",
                String::from_utf8_lossy(&reply.2)
            );
            assert!(json_of(&reply)["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()));
        }
        // hello's routes under another name clash with hello's own.
        let reply = request(
            addr,
            "PUT",
            "/_berth/plugins/clash",
            Some(TOKEN),
            &hello_wasm,
        );
        assert_eq!(reply.0, 422);
        let why = json_of(&reply)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(why.contains("/hello"), "{why}");
        // Bad names and framing.
        let reply = request(addr, "PUT", "/_berth/plugins/a%20b", Some(TOKEN), &users);
        assert_eq!(reply.0, 400);
        let names: Vec<String> = listed(addr).into_iter().map(|p| p.0).collect();
        assert_eq!(names, ["hello", "users"]);
        assert_eq!(get(addr, "/hello").0, 200);
        assert_eq!(get(addr, "/").0, 200);
    });
    // Replaces the running hello with the same file: 200, and it serves.
    let push_hello = || {
        let reply = request(
            addr,
            "PUT",
            "/_berth/plugins/hello",
            Some(TOKEN),
            &hello_wasm,
        );
        assert_eq!(reply.0, 200, "{}", String::from_utf8_lossy(&reply.2));
        assert_eq!(get(addr, "/hello").0, 200);
        reply
    };
    suite.check("a push replaces a running plugin in place", || {
        let reply = push_hello();
        assert_eq!(json_of(&reply)["sha256"], sha256(&hello_wasm));
        assert_eq!(listed(addr).len(), 2);
    });
    suite.check(
        "ten pushes of a plugin in a row leave the heap as it was",
        || {
            // A replaced plugin's code must go with it: wasmi keeps a module's functions
            // until its engine is dropped, so an engine shared by every module kept each
            // replaced version's code (85 KB a push of hello on this image).
            push_hello();
            let settled = heap_used(addr);
            // Nine more: an even count of commits, so the last one is in slot A again,
            // where the power-cut check below expects it.
            for _ in 0..9 {
                push_hello();
            }
            let after = heap_used(addr);
            println!("       heap in use after the 1st push {settled} B, after the 10th {after} B");
            assert!(
                after < settled + 8 * 1024,
                "heap in use went from {settled} to {after} bytes over nine pushes"
            );
        },
    );
    device.kill();

    // (3) Reboot on the same drive.
    let device = Device::start(&elf, &drive, &log, settings)?;
    let addr = device.addr;
    suite.check("after a reboot the pushed plugin still serves", || {
        assert_eq!(
            get(addr, "/"),
            (200, json!({"message": "Welcome to the API"}))
        );
        assert_eq!(get(addr, "/hello").0, 200);
        let names: Vec<String> = listed(addr).into_iter().map(|p| p.0).collect();
        assert_eq!(names, ["hello", "users"]);
    });
    suite.check("berth device rm: its routes are 404", || {
        let out = ctx.berth(&device, &["rm", "users"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(get(addr, "/").0, 404);
        assert_eq!(get(addr, "/api/users").0, 404);
        assert_eq!(get(addr, "/hello").0, 200);
        let names: Vec<String> = listed(addr).into_iter().map(|p| p.0).collect();
        assert_eq!(names, ["hello"]);
        let out = ctx.berth(&device, &["rm", "users"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("404"), "{}", stderr(&out));
        // Back to hello + users for the power cut.
        let file = ctx.plugins.join("users.wasm");
        let out = ctx.berth(&device, &["push", file.to_str().expect("path")]);
        assert!(out.status.success(), "{}", stderr(&out));
    });
    // (4) Kill QEMU half-way through an upload.
    let pubsub = ctx.wasm("pubsub");
    let cut = (|| -> Result<()> {
        let mut s = TcpStream::connect(addr)?;
        let head = format!(
            "PUT /_berth/plugins/pubsub HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
            pubsub.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(&pubsub[..pubsub.len() / 2])?;
        s.flush()?;
        // Let the image write what it received into the free slot.
        std::thread::sleep(Duration::from_secs(2));
        Ok(())
    })();
    device.kill();
    cut.context("the half upload")?;
    suite.check("the cut upload was half written to the free slot", || {
        // The drive as the power cut left it: the free slot (B: the last commit went to
        // A) holds the first part of the upload, and no valid commit record.
        let data = std::fs::read(&drive).expect("the drive");
        let slot_b = &data[data.len() / 2..];
        assert_ne!(&slot_b[..8], b"BRTHSLOT", "slot B must not be committed");
        let start = &pubsub[..4096];
        assert!(
            slot_b.windows(start.len()).any(|w| w == start),
            "the upload's first 4 KiB are not in slot B"
        );
    });
    let device = Device::start(&elf, &drive, &log, settings)?;
    let addr = device.addr;
    suite.check("QEMU killed mid-push: the previous set boots", || {
        let list = listed(addr);
        let names: Vec<&str> = list.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, ["hello", "users"]);
        assert_eq!(list[1].2, sha256(&users));
        assert_eq!(
            get(addr, "/"),
            (200, json!({"message": "Welcome to the API"}))
        );
        assert_eq!(get(addr, "/hello").0, 200);
        // And the store still takes a whole push afterwards.
        let reply = request(addr, "PUT", "/_berth/plugins/pubsub", Some(TOKEN), &pubsub);
        assert_eq!(reply.0, 201, "{}", String::from_utf8_lossy(&reply.2));
        assert_eq!(listed(addr).len(), 3);
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if let Some(line) = text.lines().find(|l| l.contains("plugin store read")) {
        println!("{}", line.trim_start_matches("berth-qemu: "));
    }
    drop(device);
    println!(
        "qemu push: {} passed, {} failed",
        suite.passed, suite.failed
    );
    ensure!(
        suite.failed == 0,
        "{} push check(s) failed; serial log: {}",
        suite.failed,
        log.display()
    );
    if suite.passed == 0 {
        bail!("no push check ran");
    }
    Ok(())
}
