//! `[log]` as an operator uses it: the `berth` binary serving real requests, with its
//! log lines checked on stdout or in the rotated files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{free_port, plugins};

fn temp_dir(name: &str) -> PathBuf {
    berth_tests::temp_dir(&format!("log-{name}"))
}

struct Served {
    child: Child,
    port: u16,
}

impl Served {
    fn start(dir: &Path, log: &str, env: &[(&str, &str)]) -> Served {
        Served::start_with(dir, log, env, &[])
    }

    /// [`Served::start`] with more `berth serve` arguments (`--runtime embedded`).
    fn start_with(dir: &Path, log: &str, env: &[(&str, &str)], args: &[&str]) -> Served {
        let port = free_port();
        let config = format!(
            "[server]\nport = {port}\n[plugins]\ndir = {:?}\nload = [\"logger\", \"hello\"]\n[log]\n{log}\n",
            plugins::DIR
        );
        let file = dir.join("berth.toml");
        std::fs::write(&file, config).expect("write config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.args(["serve", "--config"])
            .arg(&file)
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn berth");
        let served = Served { child, port };
        // Ready when it answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        while served.get("/hello").is_none() {
            assert!(Instant::now() < deadline, "berth never answered on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    fn get(&self, path: &str) -> Option<u16> {
        let r = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        Some(r.status().as_u16())
    }

    /// Stops the server (SIGTERM) and returns what it printed.
    fn stop(mut self) -> Vec<String> {
        berth_tests::stop_child(&mut self.child)
    }
}

#[test]
fn pretty_lines_in_seed_002s_shape() {
    let dir = temp_dir("pretty");
    let served = Served::start(&dir, "format = \"pretty\"", &[]);
    assert_eq!(served.get("/hello"), Some(200));
    assert_eq!(served.get("/nope"), Some(404));
    let lines = served.stop();
    let access = |path: &str, status: u16| {
        lines.iter().any(|l| {
            // [INFO] 2024-01-15 10:30:45 | 127.0.0.1 | GET /hello | 200 | 1.2ms
            let Some(rest) = l.strip_prefix("[INFO] ") else {
                return false;
            };
            let (time, rest) = rest.split_at(19.min(rest.len()));
            let time_ok =
                time.len() == 19 && time.as_bytes()[4] == b'-' && time.as_bytes()[13] == b':';
            let parts: Vec<&str> = rest.split(" | ").collect();
            time_ok
                && parts.len() == 5
                && parts[1] == "127.0.0.1"
                && parts[2] == format!("GET {path}")
                && parts[3] == status.to_string()
                && parts[4].ends_with("ms")
        })
    };
    assert!(access("/hello", 200), "{lines:#?}");
    assert!(access("/nope", 404), "{lines:#?}");
    // Plugin lines carry the plugin's name.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[INFO] ") && l.contains(" [logger] [LOG] GET /hello")),
        "{lines:#?}"
    );
    // SIGTERM ran the `server:stop` hooks before the process exited.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" [logger] [LOG] server stopping")),
        "{lines:#?}"
    );
}

#[test]
fn json_to_a_file_rotated_by_size() {
    let dir = temp_dir("json");
    let served = Served::start(
        &dir,
        "format = \"json\"\nfile = \"logs/server.log\"\nmax_size = 4000\nbackups = 2",
        &[],
    );
    for _ in 0..40 {
        assert_eq!(served.get("/hello"), Some(200));
    }
    let stdout = served.stop();
    assert!(stdout.is_empty(), "logs go to the file: {stdout:?}");
    let log = dir.join("logs");
    let read = |name: &str| std::fs::read_to_string(log.join(name)).unwrap_or_default();
    let (current, one, two) = (
        read("server.log"),
        read("server.log.1"),
        read("server.log.2"),
    );
    assert!(!one.is_empty() && !two.is_empty(), "rotated files exist");
    assert!(
        !log.join("server.log.3").exists(),
        "only 2 backups are kept"
    );
    for (name, text) in [
        ("server.log", &current),
        ("server.log.1", &one),
        ("server.log.2", &two),
    ] {
        assert!(text.len() <= 4000, "{name} is {} bytes", text.len());
    }
    let lines: Vec<serde_json::Value> = [&two, &one, &current]
        .iter()
        .flat_map(|t| t.lines())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let access = lines
        .iter()
        .find(|v| v["target"] == "access")
        .expect("an access line");
    assert_eq!(access["ip"], "127.0.0.1");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["uri"], "/hello");
    assert_eq!(access["status"], 200);
    assert!(access["ms"].as_f64().is_some(), "{access}");
    assert!(
        lines
            .iter()
            .any(|v| v["plugin"] == "logger" && v["message"] == "[LOG] GET /hello"),
        "a plugin line names its plugin"
    );
}

#[test]
fn levels_per_module_and_rust_log() {
    let dir = temp_dir("levels");
    let served = Served::start(&dir, "modules = { access = \"off\" }", &[]);
    served.get("/hello");
    let lines = served.stop();
    assert!(
        !lines.iter().any(|l| l.contains(" | GET /hello | ")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("[logger]")), "{lines:#?}");

    let dir = temp_dir("rust-log");
    let served = Served::start(&dir, "level = \"info\"", &[("RUST_LOG", "access=info")]);
    served.get("/hello");
    let lines = served.stop();
    assert!(
        lines.iter().any(|l| l.contains(" | GET /hello | 200 | ")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("[logger]")),
        "RUST_LOG replaces [log]: {lines:#?}"
    );

    let dir = temp_dir("none");
    let served = Served::start(&dir, "format = \"none\"", &[]);
    served.get("/hello");
    assert_eq!(served.stop(), Vec::<String>::new());
}

/// Sends `head` as is on a fresh connection and reads until the server closes or 2 s
/// pass (the answer does not matter here: the log does).
fn raw(port: u16, head: &[u8]) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(head);
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
}

/// Control characters a peer can put into a log line: percent-encoded in a path (the
/// `logger` plugin logs the *decoded* path, and a target of the embedded runtime is
/// logged as received), and raw in a request line. Each runtime must write every one of
/// them escaped, so no line but the server's own starts, and no terminal escape runs.
#[test]
fn control_characters_never_start_a_line() {
    // Every C0 control, DEL, a C1 control (NEL) and the Unicode line separator.
    let mut encoded: Vec<String> = (0u8..0x20)
        .chain([0x7f])
        .map(|b| format!("%{b:02X}"))
        .collect();
    encoded.push("%C2%85".into());
    encoded.push("%E2%80%A8".into());
    for runtime in ["server", "embedded"] {
        let dir = temp_dir(&format!("escape-{runtime}"));
        let served = Served::start_with(&dir, "format = \"pretty\"", &[], &["--runtime", runtime]);
        for (i, enc) in encoded.iter().enumerate() {
            // `[INFO] 2020-01-01 00:00:00 | forged` after a line break, if one got through.
            let path = format!("/m{i}x{enc}%5BINFO%5D%202020-01-01%2000:00:00%20%7C%20forged{i}");
            served.get(&path);
        }
        for raw_byte in [0x1bu8, 0x7f, 0x08] {
            let mut head = b"GET /raw".to_vec();
            head.push(raw_byte);
            head.extend_from_slice(
                b"forged HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            raw(served.port, &head);
        }
        let lines = served.stop();
        for line in &lines {
            assert!(
                line.starts_with('['),
                "{runtime}: a line the server did not start: {line:?}"
            );
            assert!(
                !line.chars().any(berth_core::access::needs_escape),
                "{runtime}: an unescaped control character in {line:?}"
            );
        }
        for (i, enc) in encoded.iter().enumerate() {
            let marker = format!("/m{i}x");
            let logged: Vec<&String> = lines.iter().filter(|l| l.contains(&marker)).collect();
            // The plugin's `[LOG] GET …` line and the access line, each whole on one line.
            assert!(
                logged
                    .iter()
                    .any(|l| l.contains("[logger]") && l.contains(&format!("forged{i}"))),
                "{runtime}: plugin line for {enc}: {logged:#?}"
            );
            assert!(
                logged
                    .iter()
                    .any(|l| l.contains(" | GET ") && l.contains(&format!("forged{i}"))),
                "{runtime}: access line for {enc}: {logged:#?}"
            );
        }
        // The decoded CR and LF (indices 13 and 10) show as `\r` and `\n`.
        assert!(
            lines
                .iter()
                .any(|l| l.contains("[logger]") && l.contains("/m10x\\n[INFO]")),
            "{runtime}: {lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("[logger]") && l.contains("/m13x\\r[INFO]")),
            "{runtime}: {lines:#?}"
        );
    }
}

/// A static file's access line shows the status the client got: 404 for a missing
/// file, 304 for a matching `If-None-Match`, 206 for a range, on both runtimes.
#[test]
fn static_file_statuses_in_the_access_line() {
    for runtime in ["server", "embedded"] {
        let dir = temp_dir(&format!("static-{runtime}"));
        std::fs::create_dir_all(dir.join("www")).expect("www");
        std::fs::write(dir.join("www/a.txt"), "0123456789").expect("file");
        let log = "format = \"pretty\"\n[[static]]\nprefix = \"/s\"\ndir = \"www\"";
        let served = Served::start_with(&dir, log, &[], &["--runtime", runtime]);
        let client = reqwest::blocking::Client::new();
        let url = |p: &str| format!("http://127.0.0.1:{}{p}", served.port);
        let whole = client.get(url("/s/a.txt")).send().expect("GET");
        assert_eq!(whole.status(), 200, "{runtime}");
        let etag = whole.headers()["etag"].to_str().expect("etag").to_string();
        let cached = client
            .get(url("/s/a.txt?c"))
            .header("if-none-match", &etag)
            .send()
            .expect("GET");
        assert_eq!(cached.status(), 304, "{runtime}");
        let part = client
            .get(url("/s/a.txt?r"))
            .header("range", "bytes=2-4")
            .send()
            .expect("GET");
        assert_eq!(part.status(), 206, "{runtime}");
        let missing = client.get(url("/s/nope.txt")).send().expect("GET");
        assert_eq!(missing.status(), 404, "{runtime}");
        let lines = served.stop();
        for (target, status) in [
            ("/s/a.txt", 200),
            ("/s/a.txt?c", 304),
            ("/s/a.txt?r", 206),
            ("/s/nope.txt", 404),
        ] {
            let shape = format!(" | GET {target} | {status} | ");
            assert!(
                lines.iter().any(|l| l.contains(&shape)),
                "{runtime}: no access line with {shape:?} in {lines:#?}"
            );
        }
    }
}
