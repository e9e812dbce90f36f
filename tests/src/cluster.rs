//! The cluster suite's harness: a real `redis-server` on a free loopback port (AOF with
//! `appendfsync always`, in a folder of its own, so a restart keeps what was
//! acknowledged), and server nodes as child processes (`berth-node`), so a test can
//! SIGKILL one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// TLS and password flags (`start_tls`): then only TLS is served.
    tls: Vec<String>,
}

impl Redis {
    /// Starts one in a fresh folder under `dir`.
    pub fn start(dir: &Path) -> Redis {
        let dir = dir.join("redis");
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut redis = Redis {
            port: crate::free_port(),
            dir,
            child: None,
            tls: Vec::new(),
        };
        redis.restart();
        redis
    }

    /// Starts one that serves only TLS, with a certificate from a fresh CA (made with
    /// the `openssl` command) and `password` required; returns it and the CA's PEM file.
    pub fn start_tls(dir: &Path, password: &str) -> (Redis, PathBuf) {
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).expect("certs dir");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&certs)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(certs.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=berth test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "redis.key",
            "-out",
            "redis.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "redis.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "redis.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ]);
        let dir = dir.join("redis-tls");
        std::fs::create_dir_all(&dir).expect("redis dir");
        let port = crate::free_port();
        let file = |name: &str| certs.join(name).display().to_string();
        let tls = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            file("redis.pem"),
            "--tls-key-file".into(),
            file("redis.key"),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
            "--requirepass".into(),
            password.into(),
        ];
        let mut redis = Redis {
            port,
            dir,
            child: None,
            tls,
        };
        redis.restart();
        (redis, certs.join("ca.pem"))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same port and folder, and waits for `PING`.
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let plain = ["--port", port.as_str()];
        let child = Command::new("redis-server")
            .args(if self.tls.is_empty() { &plain[..] } else { &[] })
            .args(&self.tls)
            .args(["--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test-deps.sh installs it)");
        self.child = Some(child);
        let started = Instant::now();
        // A TLS server is ready once it accepts (a plain PING cannot cross TLS).
        let ready = |r: &Redis| match r.tls.is_empty() {
            true => r.pings(),
            false => TcpStream::connect(("127.0.0.1", r.port)).is_ok(),
        };
        while !ready(self) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it answers `PING` with `PONG`.
    pub fn pings(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// Stops it as an operator would (SIGTERM) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One `berth-node` child.
pub struct Node {
    pub addr: SocketAddr,
    pub ws_addr: Option<SocketAddr>,
    /// `[admin] listen`'s address, when the config has one.
    pub admin_addr: Option<SocketAddr>,
    child: Child,
}

impl Node {
    /// Starts a node serving `toml` (written to `dir/<name>.toml`), and waits until it
    /// listens.
    pub fn start(bin: &str, dir: &Path, name: &str, toml: &str) -> Node {
        Node::try_start(bin, dir, name, toml).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Node::start`], or an error when the node exits without listening.
    pub fn try_start(bin: &str, dir: &Path, name: &str, toml: &str) -> Result<Node, String> {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml).expect("write config");
        let mut child = Command::new(bin)
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("berth-node");
        let mut line = String::new();
        let out = child.stdout.take().expect("piped stdout");
        BufReader::new(out)
            .read_line(&mut line)
            .expect("node output");
        let mut words = line.split_whitespace().skip(1);
        let Some(addr) = words.next() else {
            let _ = child.wait();
            return Err(format!("node {name} did not start (its stderr says why)"));
        };
        let addr = addr.parse().expect("address");
        let mut listener = || {
            words
                .next()
                .filter(|a| *a != "-")
                .map(|a| a.parse().expect("listener address"))
        };
        let (ws_addr, admin_addr) = (listener(), listener());
        Ok(Node {
            addr,
            ws_addr,
            admin_addr,
            child,
        })
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `ws://<addr><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Kills the process at once (SIGKILL): no goodbye to Redis.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 50 ms until it holds, for at most `limit`; returns how long it
/// took, or panics with `what`.
pub fn within(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if check() {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
