//! The `berth` binary, driven as a user would from a shell.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::plugins;

fn berth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berth"))
}

fn temp_dir(name: &str) -> PathBuf {
    berth_tests::temp_dir(&format!("cli-{name}"))
}

#[test]
fn inspect_lists_what_a_plugin_registers() {
    let out = berth()
        .args(["inspect", &format!("{}/micro-api.wasm", plugins::DIR)])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("plugin micro-api\n"), "{text}");
    assert!(
        text.contains("route      GET              /users/<user_id>"),
        "{text}"
    );
    assert!(
        text.contains("route      GET,POST         /resource"),
        "{text}"
    );

    let out = berth()
        .args(["inspect", &format!("{}/logger.wasm", plugins::DIR)])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("middleware GET"), "{text}");
    assert!(text.contains("hook       ws:connect"), "{text}");
}

#[test]
fn bad_config_stops_start_up_naming_the_file() {
    let dir = temp_dir("config");
    let file = dir.join("berth.toml");
    for (text, cause) in [
        ("[limits]\nmax_body = 10\n", "max_body"),
        (
            "[grants.device]\ngpio = [2, 64]\n",
            "[grants.device] gpio: pin 64 is out of range (0-63)",
        ),
        ("[grants.device]\npins = [2]\n", "pins"),
    ] {
        std::fs::write(&file, text).expect("write");
        let out = berth()
            .args(["serve", "--config"])
            .arg(&file)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&file.display().to_string()) && err.contains(cause),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn bad_plugin_stops_start_up_naming_the_file() {
    let dir = temp_dir("plugin");
    std::fs::write(dir.join("junk.wasm"), b"not wasm at all").expect("write");
    let out = berth()
        .args(["serve", "--port", "0", "--plugins"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.wasm"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn serve_flags_answer_and_sigterm_stops_cleanly() {
    let dir = temp_dir("serve");
    for name in ["hello", "logger"] {
        std::fs::copy(
            format!("{}/{name}.wasm", plugins::DIR),
            dir.join(format!("{name}.wasm")),
        )
        .expect("copy");
    }
    let mut child = berth()
        .args(["serve", "--port", "0", "--engine", "wasmi", "--plugins"])
        .arg(&dir)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .expect("line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let r = client
        .get(format!("http://{addr}/hello"))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().expect("body"), r#"{"message":"Hello, World!"}"#);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn new_builds_and_inspects_a_fresh_plugin() {
    let dir = temp_dir("new");
    let krate = dir.join("shout");
    let sdk = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../../guest-sdk"))
        .expect("sdk");
    let out = berth()
        .args(["new", "shout", "--path"])
        .arg(&krate)
        .arg("--sdk-path")
        .arg(&sdk)
        .output()
        .expect("new");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Share the plugin target dir with the rest of the suite: the SDK's dependencies
    // are compiled once.
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().unwrap_or(tmp).join("berth-plugins");
    let out = berth()
        .arg("build")
        .arg(&krate)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = dir.join("shout.wasm");
    assert!(wasm.is_file(), "{}", String::from_utf8_lossy(&out.stdout));

    let out = berth().arg("inspect").arg(&wasm).output().expect("inspect");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("plugin shout") && text.contains("/shout"),
        "{text}"
    );
}
