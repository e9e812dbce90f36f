//! `berth new` + `berth build` outside this repository, as a new user would: an empty
//! temporary folder, the SDK the binary carries (unpacked into a fresh cache folder),
//! a cargo target folder of its own (not the repository's), then the built plugin served by `berth serve` and driven
//! by real clients.
//!
//! Cost: the four templates share one cargo target folder (`TARGET`, under this test
//! binary's tmp folder), so the SDK's dependencies (wit-bindgen, serde) are compiled for
//! wasm32 once per checkout and each template after the first costs a few seconds.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use tokio_tungstenite::tungstenite;

/// Serialises the builds: they share one target folder (cargo would wait on its lock
/// anyway; this keeps each test's output readable).
static BUILD: Mutex<()> = Mutex::new(());

fn berth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berth"))
}

fn repo_root() -> PathBuf {
    std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).expect("repository root")
}

/// The cargo target folder every template build shares.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("new-templates-target")
}

/// `berth new NAME --template TEMPLATE` in a fresh folder outside the checkout, then
/// `berth build`; returns the folder holding `NAME.wasm` and what the build printed.
fn new_and_build(name: &str, template: &str) -> (PathBuf, String) {
    let root = std::env::temp_dir().join(format!("berth-new-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("temp folder");
    assert!(
        !root.starts_with(repo_root()),
        "the temp folder must be outside the checkout"
    );
    let cache = root.join("cache");

    let out = berth()
        .args(["new", name, "--template", template])
        .current_dir(&root)
        .env("BERTH_CACHE_DIR", &cache)
        .output()
        .expect("berth new");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let krate = root.join("plugins").join(name);
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).expect("Cargo.toml");
    let repo = repo_root().display().to_string();
    assert!(
        !manifest.contains(&repo),
        "a path into the repository:\n{manifest}"
    );
    assert!(
        manifest.contains(&cache.display().to_string()),
        "the SDK is the unpacked one:\n{manifest}"
    );
    assert!(cache.read_dir().expect("cache").count() >= 1);

    let _serial = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    // The cache is cleared between `new` and `build`: `build` unpacks it again.
    std::fs::remove_dir_all(&cache).expect("clear the cache");
    let out = berth()
        .arg("build")
        .arg(&krate)
        .arg("--target-dir")
        .arg(target_dir())
        .current_dir(&root)
        .env("BERTH_CACHE_DIR", &cache)
        .output()
        .expect("berth build");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The template's own tests, natively, against the SDK's in-memory host.
    let test = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .arg("test")
        .arg("--manifest-path")
        .arg(krate.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo test");
    assert!(
        test.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    // Progress: a line per crate compiled, this one at least.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.trim_start().starts_with('[') && l.contains(&format!("{name} v0.1.0"))),
        "no progress line for {name}: {stderr}"
    );
    let wasm = root.join("plugins").join(format!("{name}.wasm"));
    let size = std::fs::metadata(&wasm).expect("the component").len();
    assert!(
        stdout.contains(&format!("({size} bytes; core module")),
        "the sizes: {stdout}"
    );
    let plugins = root.join("served");
    std::fs::create_dir_all(&plugins).expect("mkdir");
    std::fs::copy(&wasm, plugins.join(format!("{name}.wasm"))).expect("copy");
    (plugins, stdout)
}

/// `berth serve` on port 0 over `plugins`; returns the child and its address.
fn serve(plugins: &Path) -> (Child, String) {
    let mut child = berth()
        .args(["serve", "--port", "0", "--plugins"])
        .arg(plugins)
        .current_dir(plugins)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .expect("line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Stops the server and removes the template's temporary folder (`plugins`' parent).
fn stop(mut child: Child, plugins: &Path) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    if let Some(root) = plugins.parent() {
        let _ = std::fs::remove_dir_all(root);
    }
}

#[test]
fn http_template_builds_and_serves() {
    let (plugins, _) = new_and_build("greet", "http");
    let (child, addr) = serve(&plugins);
    let c = client();
    for n in 1..=2 {
        let r = c
            .get(format!("http://{addr}/greet/Ada"))
            .send()
            .expect("GET");
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().expect("json");
        assert_eq!(v, serde_json::json!({"message": "Hello, Ada!", "count": n}));
    }
    let r = c
        .post(format!("http://{addr}/greet"))
        .body("{not json")
        .send()
        .expect("POST");
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("http://{addr}/greet"))
        .body("[1]")
        .send()
        .expect("POST");
    assert_eq!(r.status(), 201);
    assert_eq!(r.text().expect("body"), r#"{"received":[1]}"#);
    stop(child, &plugins);
}

#[test]
fn websocket_template_builds_and_serves() {
    let (plugins, _) = new_and_build("chatter", "websocket");
    let (child, addr) = serve(&plugins);
    let connect = || {
        let stream = TcpStream::connect(&addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let (ws, resp) =
            tungstenite::client(format!("ws://{addr}/chatter/ws"), stream).expect("upgrade");
        assert_eq!(resp.status(), 101);
        ws
    };
    let text = |ws: &mut tungstenite::WebSocket<TcpStream>| match ws.read().expect("read") {
        tungstenite::Message::Text(t) => t.to_string(),
        other => panic!("not text: {other:?}"),
    };
    let mut a = connect();
    assert_eq!(text(&mut a), "welcome");
    let mut b = connect();
    assert_eq!(text(&mut b), "welcome");
    a.send("hi".into()).expect("send");
    assert_eq!(text(&mut a), "echo 1: hi");
    a.send("/all hello".into()).expect("send");
    assert_eq!(text(&mut a), "sent to 1");
    assert_eq!(text(&mut b), "hello");
    stop(child, &plugins);
}

#[test]
fn middleware_template_builds_and_serves() {
    let (plugins, _) = new_and_build("guard", "middleware");
    let (child, addr) = serve(&plugins);
    let c = client();
    let r = c
        .get(format!("http://{addr}/private/data"))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 401);
    // The layer that stopped skips its own after-phase.
    assert!(r.headers().get("x-path").is_none());
    let r = c
        .get(format!("http://{addr}/private/data"))
        .header("X-Api-Key", "change-me")
        .send()
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-checked-by"], "guard");
    assert_eq!(r.headers()["x-path"], "/private/data");
    assert_eq!(r.text().expect("body"), r#"{"secret":42}"#);
    stop(child, &plugins);
}

#[test]
fn sse_template_builds_and_serves() {
    let (plugins, _) = new_and_build("ticker", "sse");
    let (child, addr) = serve(&plugins);
    let c = client();
    let mut events = c
        .get(format!("http://{addr}/ticker/events"))
        .send()
        .expect("subscribe");
    assert_eq!(events.status(), 200);
    // The timer ticks every second: read until a tick event has arrived.
    let mut seen = String::new();
    let mut buf = [0u8; 512];
    while !(seen.contains("event: tick") && seen.contains("\"tick\":")) {
        let n = events.read(&mut buf).expect("read the stream");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let r = c
        .post(format!("http://{addr}/ticker/publish"))
        .body("hi")
        .send()
        .expect("publish");
    let v: serde_json::Value = r.json().expect("json");
    assert_eq!(v["subscribers"], 1);
    stop(child, &plugins);
}
