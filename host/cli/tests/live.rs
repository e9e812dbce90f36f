//! Hot swap, driven as an operator and a plugin author would: the real `berth serve`,
//! files dropped into, replaced in and deleted from its plugins folder while clients
//! are connected. Both engines of the server runtime; the embedded runtime loads its
//! plugins from its store once, at start, and is skipped.
//!
//! The plugin is the test guest `live` (tests/guests): every answer names its version.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_tests::{guests, plugins, Runtime};
use tokio_tungstenite::tungstenite::{self, Message};

berth_tests::per_runtime!(
    embedded_skip = "the embedded runtime loads its plugins from its store once, at start";
    a_dropped_plugin_answers_within_two_seconds_and_a_deleted_one_is_gone,
    replacing_under_64_keep_alive_clients_fails_no_request,
    a_websocket_stays_open_across_a_swap_and_closes_1001_on_removal,
    bad_files_leave_the_old_version_serving,
    sighup_rescans_when_watching_is_off,
    a_config_change_applies_while_serving,
);

/// A `berth serve` child on its own plugins folder, its log lines collected.
struct Served {
    child: Child,
    addr: String,
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

/// Drops ANSI colour codes, so log lines compare as text.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Served {
    /// Serves `files` (name → bytes) from a fresh folder on `runtime`'s engine, with
    /// `config` as its berth.toml.
    fn start(name: &str, runtime: Runtime, files: &[(&str, &[u8])], config: &str) -> Served {
        let engine = match runtime.engine() {
            berth_tests::EngineKind::Wasmtime => "wasmtime",
            berth_tests::EngineKind::Wasmi => "wasmi",
        };
        let dir = berth_tests::temp_dir(&format!("live-{name}-{engine}"));
        let plugins_dir = dir.join("plugins");
        std::fs::create_dir_all(&plugins_dir).expect("plugins dir");
        for (file, bytes) in files {
            std::fs::write(plugins_dir.join(file), bytes).expect("write plugin");
        }
        std::fs::write(dir.join("berth.toml"), config).expect("config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["serve", "--port", "0", "--engine", engine])
            .current_dir(&dir)
            .env("RUST_LOG", "info")
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn berth");
        let out = child.stdout.take().expect("stdout");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let line = plain(&line);
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed its address");
        Served {
            child,
            addr,
            dir,
            log,
        }
    }

    fn plugin_path(&self, file: &str) -> PathBuf {
        self.dir.join("plugins").join(file)
    }

    /// Writes a plugin file in place, as `cp` does.
    fn drop_file(&self, file: &str, bytes: &[u8]) {
        std::fs::write(self.plugin_path(file), bytes).expect("write plugin");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` → (status, body); `(0, error)` when the request failed.
    fn get(&self, path: &str) -> (u16, String) {
        match reqwest::blocking::get(self.url(path)) {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// Polls `GET path` until `want` holds for its answer, for up to `within`; returns
    /// the time it took, or `None`.
    fn until(
        &self,
        path: &str,
        within: Duration,
        want: impl Fn(u16, &str) -> bool,
    ) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < within {
            let (status, body) = self.get(path);
            if want(status, &body) {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The first log line containing every one of `parts`, waiting up to `within`.
    fn logged(&self, parts: &[&str], within: Duration) -> Option<String> {
        let started = Instant::now();
        loop {
            let found = self
                .log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .cloned();
            if found.is_some() || started.elapsed() > within {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

const V1: &str = r#"{"version":1}"#;
const V2: &str = r#"{"version":2}"#;

fn a_dropped_plugin_answers_within_two_seconds_and_a_deleted_one_is_gone(runtime: Runtime) {
    let served = Served::start("drop", runtime, &[("hello.wasm", plugins::HELLO)], "");
    assert_eq!(served.get("/live").0, 404);
    // Copied in two writes with a pause, as a slow copy would: never loaded half-done.
    let (head, tail) = guests::LIVE_V1.split_at(guests::LIVE_V1.len() / 2);
    std::fs::write(served.plugin_path("live.wasm"), head).expect("write");
    std::thread::sleep(Duration::from_millis(50));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(served.plugin_path("live.wasm"))
        .expect("open");
    std::io::Write::write_all(&mut file, tail).expect("write");
    drop(file);
    let took = served.until("/live", Duration::from_secs(2), |s, b| s == 200 && b == V1);
    assert!(
        took.is_some(),
        "not served within 2 s:\n{}",
        served.log_text()
    );
    assert_eq!(
        served.get("/hello").0,
        200,
        "the other plugin goes on serving"
    );
    assert!(
        served
            .logged(&["plugin live swapped: none ->"], Duration::from_secs(1))
            .is_some(),
        "{}",
        served.log_text()
    );
    assert!(
        served
            .logged(&["live v1 started"], Duration::from_secs(2))
            .is_some(),
        "a new plugin's server:start hooks run:\n{}",
        served.log_text()
    );

    std::fs::remove_file(served.plugin_path("live.wasm")).expect("remove");
    let gone = served.until("/live", Duration::from_secs(2), |s, _| s == 404);
    assert!(gone.is_some(), "its route is gone:\n{}", served.log_text());
    assert!(served
        .logged(&["plugin live unloaded"], Duration::from_secs(1))
        .is_some());
    assert!(served
        .logged(&["live v1 stopped"], Duration::from_secs(1))
        .is_some());
    assert_eq!(served.get("/hello").0, 200);
}

fn replacing_under_64_keep_alive_clients_fails_no_request(runtime: Runtime) {
    // A generous call deadline: this counts requests that a swap fails, and on a loaded
    // machine a busy core alone could push a call past the default second (504).
    let config = "[limits]\nplugin_timeout = 10.0\nrequest_timeout = 10.0\n";
    let served = Served::start("load", runtime, &[("live.wasm", guests::LIVE_V1)], config);
    let url = served.url("/live");
    let stop = Arc::new(AtomicBool::new(false));
    let on_v2 = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..64)
        .map(|_| {
            let (url, stop, on_v2) = (url.clone(), stop.clone(), on_v2.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("client");
                // (requests, failures, answers seen in order: 1s then 2s)
                let (mut n, mut failures, mut versions) = (0u64, Vec::new(), Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match client
                        .get(&url)
                        .send()
                        .and_then(|r| Ok((r.status(), r.text()?)))
                    {
                        Ok((status, body)) if status == 200 && (body == V1 || body == V2) => {
                            let v = if body == V1 { 1 } else { 2 };
                            if versions.last() != Some(&v) {
                                if v == 2 {
                                    on_v2.fetch_add(1, Ordering::Relaxed);
                                }
                                versions.push(v);
                            }
                        }
                        Ok((status, body)) => failures.push(format!("{status} {body}")),
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                (n, failures, versions)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    served.drop_file("live.wasm", guests::LIVE_V2);
    let started = Instant::now();
    while on_v2.load(Ordering::Relaxed) < 64 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Keep hammering a little on v2.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for client in clients {
        let (n, failures, versions) = client.join().expect("client thread");
        total += n;
        assert!(failures.is_empty(), "failed requests: {failures:?}");
        assert_eq!(versions, [1, 2], "every client saw v1, then only v2");
    }
    assert!(total > 64 * 3, "the clients kept requesting ({total})");
    let line = served
        .logged(&["plugin live swapped:"], Duration::from_secs(1))
        .expect("the swap is logged");
    let v1 = &sha256_hex(guests::LIVE_V1)[..12];
    let v2 = &sha256_hex(guests::LIVE_V2)[..12];
    assert!(line.contains(&format!("{v1} -> {v2} in ")), "{line}");
}

fn a_websocket_stays_open_across_a_swap_and_closes_1001_on_removal(runtime: Runtime) {
    let served = Served::start("ws", runtime, &[("live.wasm", guests::LIVE_V1)], "");
    let stream = std::net::TcpStream::connect(&served.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let url = format!("ws://{}/live/ws", served.addr);
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("handshake");
    let mut ask = |text: &str| -> String {
        ws.send(Message::text(text)).expect("send");
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => return t.as_str().to_string(),
                Ok(_) => continue,
                Err(e) => panic!("no reply to {text:?}: {e}"),
            }
        }
    };
    assert_eq!(ask("a"), "v1: a");
    served.drop_file("live.wasm", guests::LIVE_V2);
    let swapped = served.until("/live", Duration::from_secs(5), |s, b| s == 200 && b == V2);
    assert!(swapped.is_some(), "{}", served.log_text());
    // The same connection, now answered by v2, with the data the host kept for it.
    assert_eq!(ask("count"), "v2: 1");
    assert_eq!(ask("b"), "v2: b");
    assert!(served
        .logged(&["live v1 stopped"], Duration::from_secs(1))
        .is_some());
    assert!(served
        .logged(&["live v2 started"], Duration::from_secs(1))
        .is_some());
    // The timer moved to the new version too.
    let ticked = served.until("/live/tick", Duration::from_secs(2), |_, b| {
        b.contains("\"v2\"")
    });
    assert!(ticked.is_some(), "{}", served.log_text());

    std::fs::remove_file(served.plugin_path("live.wasm")).expect("remove");
    let code = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}\n{}", served.log_text()),
        }
    };
    assert_eq!(code, Some(1001));
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bad_files_leave_the_old_version_serving(runtime: Runtime) {
    let served = Served::start("bad", runtime, &[("live.wasm", guests::LIVE_V1)], "");
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "live.wasm",
            b"\0asm\x0d\0\x01\0 this is no component",
            "not a valid plugin component",
        ),
        ("live.wasm", guests::LIVE_TRAP, "setup failed"),
        (
            "other.wasm",
            guests::LIVE_V2,
            "GET /live is already routed by plugin live",
        ),
    ];
    for (file, bytes, why) in cases {
        served.drop_file(file, bytes);
        let refused = format!("plugins/{file} refused: ");
        let line = served.logged(&[&refused, why], Duration::from_secs(5));
        assert!(
            line.is_some(),
            "{file}: no refusal logged:\n{}",
            served.log_text()
        );
        assert_eq!(served.get("/live"), (200, V1.to_string()), "{file}");
    }
    let refusals = served.log_text().matches("refused: ").count();
    assert_eq!(refusals, 3, "one line per refusal:\n{}", served.log_text());
    // A good file then swaps in as usual.
    std::fs::remove_file(served.plugin_path("other.wasm")).expect("remove");
    served.drop_file("live.wasm", guests::LIVE_V2);
    let swapped = served.until("/live", Duration::from_secs(5), |s, b| s == 200 && b == V2);
    assert!(swapped.is_some(), "{}", served.log_text());
}

fn sighup_rescans_when_watching_is_off(runtime: Runtime) {
    let served = Served::start(
        "hup",
        runtime,
        &[("hello.wasm", plugins::HELLO)],
        "[reload]\nwatch = false\n",
    );
    served.drop_file("live.wasm", guests::LIVE_V1);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        served.get("/live").0,
        404,
        "not watching: nothing changes by itself"
    );
    let hup = Command::new("kill")
        .args(["-HUP", &served.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(hup.success());
    let took = served.until("/live", Duration::from_secs(2), |s, b| s == 200 && b == V1);
    assert!(took.is_some(), "{}", served.log_text());
}

fn a_config_change_applies_while_serving(runtime: Runtime) {
    let served = Served::start(
        "config",
        runtime,
        &[
            ("hello.wasm", plugins::HELLO),
            ("live.wasm", guests::LIVE_V1),
        ],
        "[plugins]\nload = [\"hello\", \"live\"]\n",
    );
    assert_eq!(served.get("/live"), (200, V1.to_string()));
    let config = served.dir.join("berth.toml");
    std::fs::write(&config, "[plugins]\nload = [\"hello\"]\n").expect("config");
    let gone = served.until("/live", Duration::from_secs(3), |s, _| s == 404);
    assert!(
        gone.is_some(),
        "left out of load: unloaded\n{}",
        served.log_text()
    );
    // A config that does not parse changes nothing.
    std::fs::write(&config, "[plugins]\nlod = []\n").expect("config");
    let invalid = served.logged(
        &["lod", "the running plugins keep serving"],
        Duration::from_secs(3),
    );
    assert!(invalid.is_some(), "{}", served.log_text());
    assert_eq!(served.get("/hello").0, 200);
    std::fs::write(&config, "[plugins]\nload = [\"live\", \"hello\"]\n").expect("config");
    let back = served.until("/live", Duration::from_secs(3), |s, b| s == 200 && b == V1);
    assert!(back.is_some(), "{}", served.log_text());
    assert_eq!(served.get("/hello").0, 200);
}

/// `serve --watch-src`: a crate rebuilt on save and swapped in; a compile error is
/// printed and the last good build keeps serving. (The server runtime on wasmtime
/// only: what is tested here is the loop, not the engine.)
#[test]
fn watch_src_rebuilds_on_save_and_survives_compile_errors() {
    let dir = berth_tests::temp_dir("live-watch-src");
    let krate = dir.join("live");
    let repo = berth_tests::repo_root();
    std::fs::create_dir_all(krate.join("src")).expect("mkdir");
    // Cargo reads its config from the folder it runs in (the server's) upwards.
    std::fs::create_dir_all(dir.join(".cargo")).expect("mkdir");
    std::fs::create_dir_all(dir.join("plugins")).expect("mkdir");
    let guests_dir = repo.join("tests/guests");
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"live\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n\
             [dependencies]\nberth-sdk = {{ path = {:?} }}\n\n[profile.release]\nopt-level = \"s\"\nlto = true\npanic = \"abort\"\nstrip = true\ncodegen-units = 1\n\n[workspace]\n",
            repo.join("guest-sdk").display().to_string()
        ),
    )
    .expect("manifest");
    std::fs::copy(guests_dir.join("Cargo.lock"), krate.join("Cargo.lock")).expect("lock");
    // Share the suite's plugin target dir: the SDK's dependencies are compiled once.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().unwrap_or(tmp).join("berth-plugins");
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!("[build]\ntarget-dir = {:?}\n", target.display().to_string()),
    )
    .expect("cargo config");
    let source = |version: u32, extra: &str| {
        let shared = std::fs::read_to_string(guests_dir.join("live.rs")).expect("live.rs");
        format!("const VERSION: u32 = {version};\nconst TRAP: bool = false;\n{extra}\n{shared}")
    };
    std::fs::write(krate.join("src/lib.rs"), source(1, "")).expect("source");

    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "serve",
            "--port",
            "0",
            "--engine",
            "wasmtime",
            "--watch-src",
        ])
        .arg(&krate)
        .current_dir(&dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    for (stream, tx) in [
        (Box::new(out) as Box<dyn std::io::Read + Send>, Some(tx)),
        (Box::new(err), None),
    ] {
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let line = plain(&line);
                if let (Some(tx), Some(rest)) = (&tx, line.split("listening on http://").nth(1)) {
                    let _ = tx.send(rest.trim().to_string());
                }
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
    }
    let served = Served {
        child,
        addr: rx.recv_timeout(Duration::from_secs(60)).expect("listening"),
        dir: dir.clone(),
        log,
    };
    let build = Duration::from_secs(240);
    let v1 = served.until("/live", build, |s, b| s == 200 && b == V1);
    assert!(
        v1.is_some(),
        "the first build is served:\n{}",
        served.log_text()
    );

    std::fs::write(krate.join("src/lib.rs"), source(1, "this is not rust;")).expect("source");
    let failed = served.logged(&["build failed; still serving the last good build"], build);
    assert!(failed.is_some(), "{}", served.log_text());
    assert!(served.logged(&["error"], Duration::from_secs(1)).is_some());
    assert_eq!(served.get("/live"), (200, V1.to_string()));

    std::fs::write(krate.join("src/lib.rs"), source(2, "")).expect("source");
    let v2 = served.until("/live", build, |s, b| s == 200 && b == V2);
    assert!(
        v2.is_some(),
        "the fixed build is swapped in:\n{}",
        served.log_text()
    );
}
