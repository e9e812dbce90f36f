//! `cargo xtask soak`: the real `berth` binary under mixed traffic for a bounded time,
//! on loopback only.
//!
//! HTTP workers (keep-alive `GET /hello`, `/metrics`, SSE publishes, unknown paths that
//! are all different, 413s, and the misbehave plugin's `/panic`, `/oom` and `/loop`),
//! WebSocket workers (echo round trips, reconnecting now and then) and SSE subscribers
//! (reconnecting now and then) run until the deadline. Every reply is checked against
//! the status or message it must have; anything else is an unexpected error. The
//! server's RSS is sampled every few seconds from `/proc`. At the end the server gets
//! SIGTERM and must exit 0 within its `shutdown_timeout`.
//!
//! Passes when there were no unexpected errors and the RSS at the end is within 20 %
//! (plus 4 MiB) of the RSS after warm-up (the first fifth of the run).
//!
//! The clients are a few dozen lines of raw HTTP/1.1 and RFC 6455 over `std::net`,
//! written here so xtask needs no async runtime or HTTP stack of its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// What `cargo xtask soak` was asked for.
pub struct Options {
    /// How long the traffic runs.
    pub duration: Duration,
    /// Build and run the release binary instead of the debug one.
    pub release: bool,
    /// `wasmtime` or `wasmi`.
    pub engine: String,
}

impl Options {
    /// Parses `--minutes N`, `--release`, `--engine E`.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options {
            duration: Duration::from_secs(600),
            release: false,
            engine: "wasmtime".into(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--minutes" => {
                    let m: f64 = args.next().context("--minutes N")?.parse()?;
                    // Bounded: at most an hour.
                    options.duration = Duration::from_secs_f64(m.clamp(0.1, 60.0) * 60.0);
                }
                "--release" => options.release = true,
                "--engine" => options.engine = args.next().context("--engine E")?.clone(),
                other => bail!("unknown soak option {other:?}"),
            }
        }
        Ok(options)
    }
}

/// Counters every worker adds to.
#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    ws_messages: AtomicU64,
    sse_events: AtomicU64,
    contained: AtomicU64,
    unexpected: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Stats {
    fn error(&self, what: String) {
        self.unexpected.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().unwrap_or_else(|p| p.into_inner());
        if first.len() < 20 {
            first.push(what);
        }
    }
}

/// Runs the soak; `berth` is the binary, `work` a scratch folder.
pub fn run(berth: &Path, root: &Path, work: &Path, options: &Options) -> Result<()> {
    std::fs::create_dir_all(work.join("plugins"))?;
    let mut build = Command::new(berth);
    build
        .args(["build", "plugins", "--out"])
        .arg(work.join("plugins"));
    build.arg("--target-dir").arg(work.join("../berth-plugins"));
    crate::run(build, root)?;

    let port = free_port()?;
    let config = format!(
        r#"
[server]
host = "127.0.0.1"
port = {port}
engine = "{engine}"
shutdown_timeout = 5.0
[plugins]
dir = "plugins"
load = ["metrics", "hello", "pubsub", "ws-echo", "misbehave"]
[limits]
plugin_timeout = 1.0
plugin_memory = 8388608
max_body_size = 65536
max_connections = 512
[log]
file = "server.log"
max_size = 10485760
backups = 1
level = "warn"
"#,
        engine = options.engine
    );
    std::fs::write(work.join("berth.toml"), config)?;
    let mut server = Command::new(berth)
        .args(["serve", "--config"])
        .arg(work.join("berth.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("start berth serve")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let result = drive(&mut server, addr, options);
    if result.is_err() {
        let _ = server.kill();
        let _ = server.wait();
    }
    result
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn drive(server: &mut Child, addr: SocketAddr, options: &Options) -> Result<()> {
    let ready = Instant::now();
    loop {
        if let Ok(mut c) = Http::connect(addr) {
            if c.request("GET", "/hello", b"").is_ok_and(|r| r.0 == 200) {
                break;
            }
        }
        if ready.elapsed() > Duration::from_secs(60) {
            bail!("the server did not answer within 60 s");
        }
        if let Some(status) = server.try_wait()? {
            bail!("the server exited at start-up ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = server.id();
    let started = Instant::now();
    let deadline = started + options.duration;
    let stats = Arc::new(Stats::default());
    let mut workers = Vec::new();
    for id in 0..4u64 {
        let stats = stats.clone();
        workers.push(std::thread::spawn(move || {
            http_worker(id, addr, deadline, &stats)
        }));
    }
    for id in 0..2u64 {
        let stats = stats.clone();
        workers.push(std::thread::spawn(move || {
            ws_worker(id, addr, deadline, &stats)
        }));
    }
    for _ in 0..2 {
        let stats = stats.clone();
        workers.push(std::thread::spawn(move || {
            sse_worker(addr, deadline, &stats)
        }));
    }

    let warm_up = options.duration / 5;
    let mut samples: Vec<(Duration, u64)> = Vec::new();
    while Instant::now() < deadline {
        let at = started.elapsed();
        let rss = rss_kib(pid).context("read the server's RSS")?;
        samples.push((at, rss));
        eprintln!(
            "soak {:>5.0}s  rss {:>7} KiB  requests {:>8}  ws {:>7}  sse {:>7}  unexpected {}",
            at.as_secs_f64(),
            rss,
            stats.requests.load(Ordering::Relaxed),
            stats.ws_messages.load(Ordering::Relaxed),
            stats.sse_events.load(Ordering::Relaxed),
            stats.unexpected.load(Ordering::Relaxed),
        );
        std::thread::sleep(
            Duration::from_secs(10).min(deadline.saturating_duration_since(Instant::now())),
        );
    }
    for w in workers {
        let _ = w.join();
    }
    let end_rss = rss_kib(pid)?;
    samples.push((started.elapsed(), end_rss));

    // Graceful stop: SIGTERM, exit 0 within shutdown_timeout (+ margin).
    let stopping = Instant::now();
    crate::run(
        {
            let mut kill = Command::new("kill");
            kill.args(["-TERM", &pid.to_string()]);
            kill
        },
        Path::new("."),
    )?;
    let status = loop {
        if let Some(status) = server.try_wait()? {
            break status;
        }
        if stopping.elapsed() > Duration::from_secs(15) {
            bail!("the server did not exit within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let start_rss = samples.first().map_or(0, |s| s.1);
    let warm_rss = samples
        .iter()
        .find(|(at, _)| *at >= warm_up)
        .map_or(start_rss, |s| s.1);
    let requests = stats.requests.load(Ordering::Relaxed);
    let unexpected = stats.unexpected.load(Ordering::Relaxed);
    println!(
        "soak: {:.1} min on {} (loopback)",
        options.duration.as_secs_f64() / 60.0,
        options.engine
    );
    println!(
        "  HTTP requests {requests} (contained plugin failures {}), WebSocket echoes {}, SSE events {}",
        stats.contained.load(Ordering::Relaxed),
        stats.ws_messages.load(Ordering::Relaxed),
        stats.sse_events.load(Ordering::Relaxed)
    );
    println!("  unexpected errors {unexpected}");
    for e in stats
        .first_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        println!("    {e}");
    }
    println!(
        "  RSS start {start_rss} KiB, after warm-up ({:.0} s) {warm_rss} KiB, end {end_rss} KiB",
        warm_up.as_secs_f64()
    );
    println!(
        "  SIGTERM → exit in {:.2} s with {status}",
        stopping.elapsed().as_secs_f64()
    );
    if unexpected > 0 {
        bail!("{unexpected} unexpected errors");
    }
    if !status.success() {
        bail!("the server exited with {status} after SIGTERM");
    }
    if stats.sse_events.load(Ordering::Relaxed) == 0
        || stats.ws_messages.load(Ordering::Relaxed) == 0
    {
        bail!("no WebSocket or SSE traffic got through");
    }
    if end_rss > warm_rss + warm_rss / 5 + 4096 {
        bail!("RSS grew from {warm_rss} KiB after warm-up to {end_rss} KiB");
    }
    Ok(())
}

/// The resident set of `pid`, KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// A keep-alive HTTP/1.1 connection.
struct Http {
    reader: BufReader<TcpStream>,
}

impl Http {
    fn connect(addr: SocketAddr) -> std::io::Result<Http> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Http {
            reader: BufReader::new(stream),
        })
    }

    /// Sends a request; returns the status, whether the server will close, the body.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, bool, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: soak\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        self.response()
    }

    fn response(&mut self) -> std::io::Result<(u16, bool, Vec<u8>)> {
        let bad = |what: &str| std::io::Error::other(what.to_string());
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(bad("closed before the status line"));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let (mut length, mut close) = (0usize, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().map_err(|_| bad("length"))?,
                    "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, close, body))
    }
}

/// The request a worker makes at step `n`, and the status it must get.
fn http_step(id: u64, n: u64) -> (&'static str, String, Vec<u8>, u16) {
    match n % 200 {
        7 => ("GET", "/panic".into(), vec![], 500),
        57 => ("GET", "/loop".into(), vec![], 504),
        107 => ("GET", "/oom".into(), vec![], 500),
        k if k % 10 == 3 => ("GET", format!("/unknown/{id}/{n}"), vec![], 404),
        k if k % 10 == 5 => (
            "POST",
            "/publish/soak".into(),
            format!("event {id}-{n}").into_bytes(),
            200,
        ),
        k if k % 10 == 9 => ("GET", "/metrics".into(), vec![], 200),
        _ => ("GET", "/hello".into(), vec![], 200),
    }
}

fn http_worker(id: u64, addr: SocketAddr, deadline: Instant, stats: &Stats) {
    let mut conn: Option<Http> = None;
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        if n.is_multiple_of(97) {
            // A declared body over max_body_size, on a connection of its own.
            match Http::connect(addr).and_then(|mut c| {
                c.reader.get_mut().write_all(
                    b"POST /hello HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n",
                )?;
                c.response()
            }) {
                Ok((413, _, _)) => stats.requests.fetch_add(1, Ordering::Relaxed),
                other => {
                    stats.error(format!("413 expected, got {other:?}"));
                    0
                }
            };
            continue;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Http::connect(addr) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    stats.error(format!("connect: {e}"));
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        let (method, path, body, want) = http_step(id, n);
        match c.request(method, &path, &body) {
            Ok((status, close, _)) if status == want => {
                stats.requests.fetch_add(1, Ordering::Relaxed);
                if want >= 500 {
                    stats.contained.fetch_add(1, Ordering::Relaxed);
                }
                if close {
                    conn = None;
                }
            }
            Ok((status, _, body)) => {
                stats.error(format!(
                    "{method} {path}: {status} instead of {want}: {}",
                    String::from_utf8_lossy(&body)
                ));
                conn = None;
            }
            Err(e) => {
                stats.error(format!("{method} {path}: {e}"));
                conn = None;
            }
        }
    }
}

/// A raw RFC 6455 client.
struct Ws {
    stream: TcpStream,
}

impl Ws {
    fn connect(addr: SocketAddr, path: &str) -> std::io::Result<Ws> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        let handshake = format!(
            "GET {path} HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(handshake.as_bytes())?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte)?;
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&head).into_owned(),
            ));
        }
        Ok(Ws { stream })
    }

    fn send(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        let mask = [0x5a, 0x17, 0xc3, 0x08];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame)
    }

    fn recv(&mut self) -> std::io::Result<(u8, Vec<u8>)> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head)?;
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b)?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b)?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0u8; len.min(1 << 20) as usize];
        self.stream.read_exact(&mut payload)?;
        Ok((head[0] & 0x0f, payload))
    }
}

fn ws_worker(id: u64, addr: SocketAddr, deadline: Instant, stats: &Stats) {
    let mut n = 0u64;
    while Instant::now() < deadline {
        let mut session = || -> std::io::Result<()> {
            let mut ws = Ws::connect(addr, "/ws/echo")?;
            let greeting = ws.recv()?;
            if greeting != (0x1, b"Welcome!".to_vec()) {
                stats.error(format!("ws greeting {greeting:?}"));
            }
            for _ in 0..200 {
                if Instant::now() >= deadline {
                    break;
                }
                n += 1;
                let text = format!("m{id}-{n}");
                ws.send(0x1, text.as_bytes())?;
                let (op, payload) = ws.recv()?;
                if op != 0x1 || payload != format!("Echo: {text}").as_bytes() {
                    stats.error(format!(
                        "ws echo of {text}: {op} {:?}",
                        String::from_utf8_lossy(&payload)
                    ));
                } else {
                    stats.ws_messages.fetch_add(1, Ordering::Relaxed);
                }
            }
            ws.send(0x8, &1000u16.to_be_bytes())?;
            let (op, payload) = ws.recv()?;
            if op != 0x8 || payload.get(..2) != Some(&1000u16.to_be_bytes()[..]) {
                stats.error(format!("ws close answered with {op} {payload:?}"));
            }
            Ok(())
        };
        if let Err(e) = session() {
            stats.error(format!("ws session: {e}"));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn sse_worker(addr: SocketAddr, deadline: Instant, stats: &Stats) {
    while Instant::now() < deadline {
        let session = || -> std::io::Result<()> {
            let mut stream = TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_millis(500)))?;
            stream.write_all(b"GET /sse/soak HTTP/1.1\r\nHost: soak\r\n\r\n")?;
            let until = (Instant::now() + Duration::from_secs(10)).min(deadline);
            let mut buf = [0u8; 16384];
            let mut seen_head = false;
            while Instant::now() < until {
                match stream.read(&mut buf) {
                    Ok(0) => return Err(std::io::Error::other("the event stream ended")),
                    Ok(k) => {
                        let text = String::from_utf8_lossy(&buf[..k]);
                        if !seen_head {
                            if !text.starts_with("HTTP/1.1 200") {
                                return Err(std::io::Error::other(text.into_owned()));
                            }
                            seen_head = true;
                        }
                        let events = text.matches("data: event ").count() as u64;
                        stats.sse_events.fetch_add(events, Ordering::Relaxed);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        };
        if let Err(e) = session() {
            stats.error(format!("sse: {e}"));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
