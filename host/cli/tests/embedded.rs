//! The embedded commands as an operator runs them: `berth device pack` writes a plugin
//! store a device can parse, and `berth serve --runtime embedded` serves from the
//! microcontroller's loop on a desktop socket.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{free_port, plugins};

fn temp_dir(name: &str) -> PathBuf {
    berth_tests::temp_dir(&format!("embedded-{name}"))
}

fn plugin(name: &str) -> PathBuf {
    Path::new(plugins::DIR).join(format!("{name}.wasm"))
}

fn berth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run berth")
}

fn text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[test]
fn device_pack_writes_a_store_the_device_parses() {
    let dir = temp_dir("pack");
    let config = dir.join("berth.toml");
    std::fs::write(
        &config,
        "[admin]\ntoken = \"s3cret\"\n[plugin.chat]\nroom = \"lab\"\n[grants.chat]\ndirs = [\"data\"]\n\
         [[static]]\nprefix = \"/s\"\ndir = \"www\"\nmax_age = 7\n",
    )
    .expect("write config");
    for (path, text) in [
        ("www/index.html", "<h1>hi</h1>"),
        ("www/css/site.css", "body{}"),
        ("www/.env", "SECRET=1"),
        ("data/d.json", "{}"),
        ("extra/e.txt", "e"),
    ] {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let out = dir.join("plugins.bin");
    let (hello, chat) = (plugin("hello"), plugin("chat"));
    let extra = format!("/x={}", text(&dir.join("extra")));
    let result = berth(&[
        "device",
        "pack",
        text(&hello),
        text(&chat),
        "-o",
        text(&out),
        "--config",
        text(&config),
        "--static",
        &extra,
    ]);
    assert!(result.status.success(), "{result:?}");

    // The partition (0x160000 bytes by default): slot A holds the image, committed.
    let partition = std::fs::read(&out).expect("the partition image");
    assert_eq!(partition.len(), 0x16_0000);
    let dev = berth_embedded::block::MemDevice::from_bytes(4096, partition);
    let mut slots = berth_embedded::slots::AbStore::open(dev).expect("a store");
    let active = slots.active().expect("a committed image");
    assert_eq!((active.slot, active.seq), (0, 1));
    let mut image = vec![0; active.len];
    slots.read(0, &mut image).expect("read");
    let stored = berth_embedded::store::parse(&image).expect("a valid store");
    let admin = stored.admin.expect("[admin] token packed");
    assert_eq!(
        admin.token_sha256,
        berth_embedded::store::token_hash("s3cret")
    );
    assert_eq!(admin.max_upload, 1 << 20);
    let entries = &stored.plugins;
    let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
    assert_eq!(names, ["hello", "chat"]);
    assert_eq!(
        entries[0].wasm,
        std::fs::read(&hello).expect("hello").as_slice()
    );
    assert_eq!(
        entries[1].wasm,
        std::fs::read(&chat).expect("chat").as_slice()
    );
    assert!(entries[0].config.is_empty(), "{:?}", entries[0].config);
    assert_eq!(entries[1].config, vec![("room".into(), "lab".into())]);
    assert!(entries[0].dirs.is_empty());
    assert_eq!(entries[1].dirs, ["data"]);
    // Folders by their config-relative names, dotfiles left out, types decided here.
    let folder = |name: &str| {
        let f = stored.folders.iter().find(|f| f.dir == name);
        let f = f.unwrap_or_else(|| panic!("folder {name}: {:?}", stored.folders));
        f.files
            .iter()
            .map(|f| (f.path, f.content_type, f.bytes))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        folder("www"),
        [
            ("css/site.css", "text/css; charset=utf-8", &b"body{}"[..]),
            (
                "index.html",
                "text/html; charset=utf-8",
                &b"<h1>hi</h1>"[..]
            ),
        ]
    );
    assert_eq!(folder("data"), [("d.json", "application/json", &b"{}"[..])]);
    assert_eq!(folder("extra").len(), 1);
    let mounts: Vec<_> = stored
        .mounts
        .iter()
        .map(|m| (m.prefix, m.dir, m.max_age))
        .collect();
    assert_eq!(mounts, [("/s", "www", 7), ("/x", "extra", 3600)]);
    // The header announces the whole image's length, as a device reads it first.
    assert_eq!(berth_embedded::store::image_len(&image), Ok(image.len()));
}

#[test]
fn device_pack_refuses_bad_static_arguments() {
    let dir = temp_dir("bad-static");
    let out = dir.join("plugins.bin");
    let hello = plugin("hello");
    for (arg, says) in [
        ("static=www", "must start with /"),
        ("/s", "PREFIX=DIR"),
        ("/s=/nonexistent/folder", "nonexistent"),
    ] {
        let result = berth(&[
            "device",
            "pack",
            text(&hello),
            "-o",
            text(&out),
            "--static",
            arg,
        ]);
        assert!(!result.status.success(), "{arg}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(says), "{arg}: {stderr}");
        assert!(!out.exists(), "no image is written");
    }
}

#[test]
fn device_pack_refuses_a_missing_file() {
    let dir = temp_dir("missing");
    let missing = dir.join("nope.wasm");
    let out = dir.join("plugins.bin");
    let result = berth(&["device", "pack", text(&missing), "-o", text(&out)]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(!out.exists(), "no image is written");
}

struct Served {
    child: Child,
    port: u16,
}

impl Served {
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().ok()?))
    }

    /// Stops the server (SIGTERM) and returns what it printed.
    fn stop(mut self) -> Vec<String> {
        berth_tests::stop_child(&mut self.child)
    }
}

/// A config serving hello and ws-echo on `port`; `extra` lines go in `[server]`.
fn write_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let config = format!(
        "[server]\nport = {port}\n{extra}[plugins]\ndir = {:?}\nload = [\"hello\", \"ws-echo\"]\n[log]\nformat = \"pretty\"\n",
        plugins::DIR
    );
    let file = dir.join("berth.toml");
    std::fs::write(&file, config).expect("write config");
    file
}

#[test]
fn serve_runtime_embedded_answers_and_says_so() {
    let dir = temp_dir("serve");
    let port = free_port();
    let config = write_config(&dir, port, "");
    let child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--runtime", "embedded", "--config", text(&config)])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn berth");
    let served = Served { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    let hello = loop {
        if let Some(r) = served.get("/hello") {
            break r;
        }
        assert!(Instant::now() < deadline, "berth never answered on {port}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // What it serves is the black-box suites' business (their `embedded_wasmi` runs);
    // here, that the binary starts that runtime and logs as it.
    assert_eq!(hello, (200, r#"{"message":"Hello, World!"}"#.to_string()));
    let lines = served.stop();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("loaded") && l.contains("runtime=embedded")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("| GET /hello | 200 |")),
        "{lines:#?}"
    );
}

#[test]
fn serve_runtime_embedded_refuses_a_ws_port() {
    let dir = temp_dir("ws-port");
    let config = write_config(&dir, free_port(), "ws_port = 0\n");
    let result = berth(&["serve", "--runtime", "embedded", "--config", text(&config)]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("drop ws_port"), "{stderr}");
}

#[test]
fn device_pack_refuses_an_empty_admin_token_and_an_image_larger_than_a_slot() {
    let dir = temp_dir("pack-admin");
    let config = dir.join("berth.toml");
    std::fs::write(&config, "[admin]\ntoken = \"\"\n").expect("write config");
    let out = dir.join("plugins.bin");
    let hello = plugin("hello");
    let result = berth(&[
        "device",
        "pack",
        text(&hello),
        "-o",
        text(&out),
        "--config",
        text(&config),
    ]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("[admin]") && stderr.contains("token"),
        "{stderr}"
    );
    // A partition whose slots (half of it each, less a sector) cannot hold the image.
    let result = berth(&[
        "device",
        "pack",
        text(&hello),
        "-o",
        text(&out),
        "--partition-size",
        "0x10000",
    ]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("slot"), "{stderr}");
}
