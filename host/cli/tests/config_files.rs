//! What `berth serve` does with the folders its config names, run as an operator runs
//! it: a config given by a bare relative name (`cargo xtask demo`'s `--config
//! berth.toml`), and the compiled-plugin cache folder, which must be the server's alone.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{free_port, plugins};

fn temp_dir(name: &str) -> PathBuf {
    berth_tests::temp_dir(&format!("files-{name}"))
}

struct Served {
    child: Child,
    port: u16,
}

impl Served {
    /// `berth serve --config <config>` in `cwd`, once it answers `probe`.
    fn start(cwd: &Path, config: &str, text: &str, probe: &str) -> Served {
        std::fs::write(cwd.join(config), text).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["serve", "--config", config])
            .current_dir(cwd)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth");
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("port = "))
            .and_then(|p| p.trim().parse().ok())
            .expect("the config names its port");
        let served = Served { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while served.get(probe).is_none() {
            assert!(Instant::now() < deadline, "berth never answered on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    fn get(&self, path: &str) -> Option<(u16, Vec<u8>)> {
        let r = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.bytes().ok()?.to_vec()))
    }

    /// Stops the server (SIGTERM) and returns what it printed.
    fn stop(mut self) -> Vec<String> {
        berth_tests::stop_child(&mut self.child)
    }
}

/// `--config berth.toml` has an empty parent path; it must mean the current folder, so
/// granted files and plugin mounts resolve (they answered 403 and were skipped).
#[test]
fn a_bare_relative_config_resolves_against_the_current_folder() {
    let dir = temp_dir("relative");
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    };
    write("site/www/index.html", b"<h1>mounted</h1>\n");
    write("site/www/favicon.ico", b"ICO");
    write("site/data/report.csv", b"a,b\n1,2\n");
    write("site/data/large.csv", b"x\n");
    let port = free_port();
    let config = format!(
        "[server]\nport = {port}\ncache_dir = \"\"\n[plugins]\ndir = {:?}\nload = [\"micro-api\"]\n\
         [plugin.micro-api]\nwww = \"site/www\"\ndata = \"site/data\"\n\
         [grants.micro-api]\ndirs = [\"site/www\", \"site/data\"]\n",
        plugins::DIR
    );
    let served = Served::start(&dir, "berth.toml", &config, "/");
    assert_eq!(
        served.get("/static/"),
        Some((200, b"<h1>mounted</h1>\n".to_vec())),
        "the plugin's mount is served"
    );
    assert_eq!(served.get("/favicon.ico"), Some((200, b"ICO".to_vec())));
    assert_eq!(served.get("/download"), Some((200, b"a,b\n1,2\n".to_vec())));
    assert_eq!(served.get("/file").map(|(s, _)| s), Some(200));
    let lines = served.stop();
    assert!(
        !lines.iter().any(|l| l.contains("skipped")),
        "no mount was skipped: {lines:#?}"
    );
}

fn cache_config(port: u16, cache: &Path) -> String {
    format!(
        "[server]\nport = {port}\nengine = \"wasmtime\"\ncache_dir = {cache:?}\n[plugins]\ndir = {:?}\nload = [\"hello\"]\n",
        plugins::DIR
    )
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .count()
    })
}

/// A missing cache folder is created `0700` (parents too) and filled; one that group or
/// others may write is never read or written, with a warning, and the server still runs.
#[test]
fn the_cache_folder_is_private_or_unused() {
    let dir = temp_dir("cache");
    let fresh = dir.join("new").join("cache");
    let port = free_port();
    let served = Served::start(&dir, "fresh.toml", &cache_config(port, &fresh), "/hello");
    assert_eq!(served.get("/hello").map(|(s, _)| s), Some(200));
    served.stop();
    let mode = std::fs::metadata(&fresh)
        .expect("created")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");
    assert_eq!(entries(&fresh), 1, "the compiled plugin is cached");

    for mode in [0o777, 0o770, 0o722, 0o702] {
        let open = dir.join(format!("open-{mode:o}"));
        std::fs::create_dir_all(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let port = free_port();
        let served = Served::start(&dir, "open.toml", &cache_config(port, &open), "/hello");
        assert_eq!(served.get("/hello").map(|(s, _)| s), Some(200));
        let lines = served.stop();
        assert!(
            lines.iter().any(|l| l.contains("[WARN]")
                && l.contains("compiled-plugin cache disabled")
                && l.contains("writable by other users")),
            "mode {mode:o}: {lines:#?}"
        );
        assert_eq!(entries(&open), 0, "mode {mode:o}: nothing written there");
    }

    // Owned by someone else (only root can hand a folder to another user).
    if is_root() {
        let theirs = dir.join("theirs");
        std::fs::create_dir_all(&theirs).expect("mkdir");
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let status = Command::new("chown")
            .args(["65534", &theirs.display().to_string()])
            .status()
            .expect("chown");
        assert!(status.success());
        let port = free_port();
        let served = Served::start(&dir, "theirs.toml", &cache_config(port, &theirs), "/hello");
        let lines = served.stop();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("compiled-plugin cache disabled") && l.contains("another user")),
            "{lines:#?}"
        );
        assert_eq!(entries(&theirs), 0);
    }
}

/// Whether this test runs as root (`id -u` prints 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
