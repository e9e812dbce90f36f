//! The `std` adapter: the very same loop on a desktop TCP socket, so the black-box
//! suites run against it (`berth serve --runtime embedded`).
//!
//! Sockets are `std::net` ones registered with async-io's reactor (epoll/kqueue), timers
//! are async-io timers, and [`run`] drives [`Server::run`] with async-io's `block_on` on
//! the calling thread: one thread, like the firmware.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::{Async, Timer};
use berth_core::device::{self, DeviceError, GpioGrant, SimulatedPins};
use berth_core::host::Level;
use berth_core::model::Pairs;
use berth_engine_wasmi::WasmiEngine;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::net::{Connection, Listener, NetError, Platform};
use crate::plugins::{LoadFailure, PluginSource};
use crate::server::{Options, Server};

mod from_config;
mod statics;

pub use from_config::{admin_entry, static_files, FromConfigError, MAX_STATIC_BYTES};
pub use statics::read_folder;

/// Where log lines go: `(plugin, level, message)`; the plugin is empty for host lines.
pub type LogFn = Box<dyn Fn(&str, Level, fmt::Arguments<'_>) + Send + Sync>;

/// The desktop platform: `Instant` for timeouts, the system clock, the OS random source,
/// a simulated pin bank ([`SimulatedPins`]) and the process's memory figures as the
/// "heap": used = its resident set (`VmRSS`), free = the machine's `MemAvailable`.
pub struct StdPlatform {
    start: Instant,
    log: LogFn,
    pins: SimulatedPins,
}

impl StdPlatform {
    /// A platform logging through `log`.
    pub fn new(log: LogFn) -> StdPlatform {
        StdPlatform {
            start: Instant::now(),
            log,
            pins: SimulatedPins::new(),
        }
    }

    /// A platform that writes log lines to stderr.
    pub fn stderr() -> StdPlatform {
        StdPlatform::new(Box::new(|plugin, level, message| {
            eprintln!(
                "{level:?} {plugin}{}{message}",
                if plugin.is_empty() { "" } else { ": " }
            )
        }))
    }
}

impl Platform for StdPlatform {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn unix_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn random_u64(&self) -> u64 {
        // As on the desktop server: a predictable fallback would be worse than stopping.
        getrandom::u64().unwrap_or_else(|e| panic!("OS random source failed: {e}"))
    }

    fn log(&self, plugin: &str, level: Level, message: fmt::Arguments<'_>) {
        (self.log)(plugin, level, message)
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        Timer::at(self.start + Duration::from_millis(deadline_ms)).await;
    }

    fn gpio_write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.pins.write(pin, high)
    }

    fn gpio_read(&self, pin: u8) -> Result<bool, DeviceError> {
        self.pins.read(pin)
    }

    fn heap_free(&self) -> Option<u64> {
        device::meminfo_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
    }

    fn heap_used(&self) -> Option<u64> {
        device::status_rss(&std::fs::read_to_string("/proc/self/status").ok()?)
    }
}

/// A listening TCP socket.
pub struct TcpListener {
    /// `None` once closed. Each pending `accept` holds a clone, so the socket is closed
    /// (and new connections refused) when the last of them is dropped — at once at a
    /// shutdown, since every idle slot stops there.
    inner: RefCell<Option<Rc<Async<std::net::TcpListener>>>>,
    addr: SocketAddr,
}

impl TcpListener {
    /// Binds `addr` (`host:port`; port 0 picks a free one).
    pub fn bind(addr: &str) -> io::Result<TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        Ok(TcpListener {
            inner: RefCell::new(Some(Rc::new(Async::new(listener)?))),
            addr,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// An accepted TCP connection.
pub struct TcpConn {
    stream: Async<std::net::TcpStream>,
    remote: SocketAddr,
}

fn net_error(e: io::Error) -> NetError {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => NetError::Reset,
        _ => NetError::Other,
    }
}

impl Connection for TcpConn {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.stream.read(buf).await.map_err(net_error)
    }

    async fn write_all(&mut self, data: &[u8]) -> Result<(), NetError> {
        self.stream.write_all(data).await.map_err(net_error)
    }

    /// Half-closes, then drains what the peer still sends for a moment: closing a
    /// socket with unread input makes the kernel reset it, and the client could lose
    /// the response it was sent (a 413 while it is still uploading, say).
    async fn close(&mut self) {
        let _ = self.stream.flush().await;
        let _ = self.stream.get_ref().shutdown(Shutdown::Write);
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut sink = [0u8; 1024];
        loop {
            let read = self.stream.read(&mut sink);
            let timeout = async {
                Timer::at(deadline).await;
                Ok(0)
            };
            match futures_lite::future::or(read, timeout).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    fn remote_addr(&self) -> String {
        self.remote.to_string()
    }
}

impl Listener for TcpListener {
    type Conn<'a> = TcpConn;

    async fn accept(&self, _slot: usize) -> Result<TcpConn, NetError> {
        let listener = self.inner.borrow().clone().ok_or(NetError::Closed)?;
        let (stream, remote) = listener.accept().await.map_err(net_error)?;
        let _ = stream.get_ref().set_nodelay(true);
        Ok(TcpConn { stream, remote })
    }

    fn close(&self) {
        self.inner.borrow_mut().take();
    }
}

/// One plugin for [`DesktopConfig`].
pub struct DesktopPlugin {
    /// Its name.
    pub name: String,
    /// The component bytes.
    pub bytes: Vec<u8>,
    /// Its `[plugin.<name>]` table.
    pub config: Pairs,
    /// Its `[grants.<name>] gpio`.
    pub gpio: GpioGrant,
}

/// What `berth serve --runtime embedded` (and the tests) configure.
pub struct DesktopConfig {
    /// `host:port` to bind.
    pub addr: String,
    /// Sizing and limits.
    pub options: Options,
    /// Plugins, in plugin order.
    pub plugins: Vec<DesktopPlugin>,
    /// Static folders, mounts and grants.
    pub statics: crate::files::StaticConfig,
}

impl DesktopConfig {
    /// Desktop sizing for `limits`: 16 KiB head buffers and up to 64 connection slots.
    pub fn options(limits: berth_core::limits::Limits, server_name: Option<String>) -> Options {
        let head = (limits.max_request_line + limits.max_header_size).clamp(4 << 10, 64 << 10);
        Options {
            limits,
            head_buffer: head,
            slots: limits.max_connections.saturating_add(1).min(64),
            server_name,
            allow: berth_core::allow::AllowLists::default(),
            sse: None,
            shutdown_timeout_ms: crate::server::DEFAULT_SHUTDOWN_TIMEOUT_MS,
        }
    }
}

/// Why the desktop adapter could not start.
#[derive(Debug)]
pub enum StartError {
    /// A plugin could not be loaded.
    Load(LoadFailure),
    /// The static files cannot be served as configured.
    Static(crate::files::StaticError),
    /// The listener could not be bound.
    Bind(String, io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Load(e) => write!(f, "{e}"),
            StartError::Static(e) => write!(f, "{e}"),
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Loads the plugins on the wasmi engine and binds the listener.
pub fn start(
    config: &DesktopConfig,
    platform: StdPlatform,
) -> Result<(Server<StdPlatform>, TcpListener), StartError> {
    let engine = WasmiEngine::new(config.options.limits.engine());
    let sources: Vec<PluginSource<'_>> = config
        .plugins
        .iter()
        .map(|p| PluginSource {
            name: &p.name,
            bytes: &p.bytes,
            config: p.config.clone(),
            gpio: p.gpio,
        })
        .collect();
    let mut server = Server::new(
        &engine,
        Arc::new(platform),
        config.options.clone(),
        &sources,
    )
    .map_err(StartError::Load)?;
    server
        .serve_static(config.statics.clone())
        .map_err(StartError::Static)?;
    let listener =
        TcpListener::bind(&config.addr).map_err(|e| StartError::Bind(config.addr.clone(), e))?;
    Ok((server, listener))
}

/// Serves on the calling thread until `stop` is set (checked every 100 ms).
pub fn run(server: &Server<StdPlatform>, listener: &TcpListener, stop: Arc<AtomicBool>) {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let shutdown = async move {
        while !stop.load(Ordering::Relaxed) {
            Timer::after(Duration::from_millis(100)).await;
        }
    };
    async_io::block_on(server.run(listener, &addr, shutdown));
}

/// Starts a server on its own thread (the server is single-threaded and stays there)
/// and returns its address once it is listening. It serves until `stop` is set.
pub fn spawn(
    config: DesktopConfig,
    log: LogFn,
    stop: Arc<AtomicBool>,
) -> Result<SocketAddr, StartError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || match start(&config, StdPlatform::new(log)) {
        Ok((server, listener)) => {
            let addr = listener.local_addr();
            let _ = tx.send(addr.map_err(|e| StartError::Bind(config.addr.clone(), e)));
            run(&server, &listener, stop);
        }
        Err(e) => {
            let _ = tx.send(Err(e));
        }
    });
    rx.recv().unwrap_or_else(|_| {
        Err(StartError::Bind(
            String::new(),
            io::Error::other("server thread died"),
        ))
    })
}
