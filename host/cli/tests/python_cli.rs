//! Python plugins through the `berth` binary: `berth new --lang python`, `berth build`,
//! `berth inspect`, `berth serve` (its log lines carry what the plugin prints), and the
//! wasmi engine and embedded runtime refusing a WASI-importing component by name.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{free_port, python, stop_child, temp_dir};

fn berth(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run berth")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A `berth serve` child (stopped by the test with `stop_child`).
struct Served {
    child: std::process::Child,
}

/// `berth serve` on `config` until `path` answers 200.
fn serve(config: &Path, port: u16, path: &str) -> std::process::Child {
    let mut served = Served {
        child: Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["serve", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth serve"),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{port}{path}"))
            .timeout(Duration::from_secs(5))
            .send();
        if r.is_ok_and(|r| r.status() == 200) {
            return served.child;
        }
        if Instant::now() >= deadline {
            let _ = served.child.kill();
            let _ = served.child.wait();
            panic!("berth never answered {path}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn new_build_inspect_and_serve_a_python_plugin() {
    let dir = temp_dir("py-new");
    let out = berth(&["new", "--lang", "python", "greet"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.join("plugins/greet/app.py").is_file());
    let out = berth(&["new", "--lang", "python", "greet"], &dir);
    assert!(!out.status.success(), "a second `new` must not overwrite");
    let out = berth(&["new", "--lang", "python", "no/good"], &dir);
    assert!(text(&out).contains("invalid plugin name"), "{}", text(&out));

    let out = berth(&["build", "plugins/greet"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let wasm = dir.join("plugins/greet.wasm");
    assert!(
        std::fs::metadata(&wasm).is_ok_and(|m| m.len() > 1 << 20),
        "{}",
        text(&out)
    );
    let out = berth(&["inspect", "plugins/greet.wasm"], &dir);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("plugin greet"), "{shown}");
    assert!(shown.contains("GET") && shown.contains("/greet"), "{shown}");

    let port = free_port();
    let config = dir.join("berth.toml");
    std::fs::write(
        &config,
        format!("[server]\nport = {port}\n[plugins]\ndir = \"plugins\"\n"),
    )
    .expect("config");
    let mut child = serve(&config, port, "/greet");
    let get = || {
        let r = reqwest::blocking::get(format!("http://127.0.0.1:{port}/greet")).expect("GET");
        let v: serde_json::Value = serde_json::from_str(&r.text().expect("body")).expect("JSON");
        v
    };
    let second = get();
    assert_eq!(second["plugin"], "greet");
    assert!(second["hits"].as_i64().is_some_and(|n| n >= 2), "{second}");
    stop_child(&mut child);
}

#[test]
fn a_build_error_shows_the_python_traceback() {
    let dir = temp_dir("py-broken");
    let plugin = dir.join("broken");
    std::fs::create_dir_all(&plugin).expect("mkdir");
    std::fs::write(
        plugin.join("app.py"),
        "from berth import get\n\n@get('/x')\ndef x(req):\n    return {}\n\nraise ValueError('no good at import')\n",
    )
    .expect("write");
    let out = berth(&["build", "broken"], &dir);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("plugin broken failed to build"), "{shown}");
    assert!(shown.contains("no good at import"), "{shown}");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = berth(&["build", "empty"], &dir);
    assert!(!out.status.success());
}

#[test]
fn what_a_python_plugin_prints_is_its_log() {
    let dir = temp_dir("py-logs");
    let port = free_port();
    let config = dir.join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nport = {port}\n[plugins]\ndir = {:?}\nload = [\"plugins\", \"quickstart\"]\n",
            python::plugins_dir()
        ),
    )
    .expect("config");
    let mut child = serve(&config, port, "/hello");
    let lines = stop_child(&mut child);
    // LoggerPlugin's print(f"{self.prefix} [{timestamp}] GET {path}") under the plugin's name.
    assert!(
        lines.iter().any(|l| {
            l.starts_with("[INFO] ")
                && l.contains(" [plugins] [LOG] [")
                && l.ends_with("] GET /hello")
        }),
        "{lines:#?}"
    );
}

#[test]
fn wasmi_and_the_embedded_runtime_refuse_python_naming_wasmtime() {
    let dir = temp_dir("py-wasmi");
    let config = dir.join("berth.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nport = {}\n[plugins]\ndir = {:?}\nload = [\"quickstart\"]\n",
            free_port(),
            python::plugins_dir()
        ),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    for args in [
        vec!["serve", "--config", &config, "--engine", "wasmi"],
        vec!["serve", "--config", &config, "--runtime", "embedded"],
    ] {
        let out = berth(&args, &dir);
        let shown = text(&out);
        assert!(!out.status.success(), "{args:?}: {shown}");
        assert!(shown.contains("quickstart"), "names the plugin: {shown}");
        assert!(shown.contains("imports WASI (wasi:"), "{shown}");
        assert!(shown.contains("the wasmi engine"), "{shown}");
        assert!(
            shown.contains("--engine wasmtime"),
            "names the engine to use: {shown}"
        );
    }
}
