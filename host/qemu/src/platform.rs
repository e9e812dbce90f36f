//! berth-embedded's [`Platform`] and [`Listener`] on this board: embassy-time for
//! timeouts, the Goldfish RTC for wall-clock time, the UART for logs, the counting
//! allocator's figures for `memory`, a simulated pin bank for `gpio-*` (the `virt` board
//! has no GPIO controller), and embassy-net TCP sockets (one listening socket per
//! connection slot).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;

use berth_core::device::SimulatedPins;
use berth_core::host::Level;
use berth_embedded::{Connection, DeviceError, Listener, NetError, Platform};
use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};

use crate::board;
use crate::heap::HEAP;
use crate::println;

/// Clock, log, randomness, heap figures and (simulated) pins of the virt board.
pub struct QemuPlatform {
    /// xorshift64* state.
    rng: critical_section::Mutex<Cell<u64>>,
    /// GPIO 0–31, in memory: `virt` has no GPIO controller to drive.
    pins: SimulatedPins,
}

impl QemuPlatform {
    /// Seeds the generator from the RTC and the timer.
    pub fn new() -> QemuPlatform {
        QemuPlatform {
            rng: critical_section::Mutex::new(Cell::new(
                (board::rtc_ns() ^ board::mtime().rotate_left(32)) | 1,
            )),
            pins: SimulatedPins::new(),
        }
    }
}

impl Platform for QemuPlatform {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    fn unix_ms(&self) -> u64 {
        board::rtc_ns() / 1_000_000
    }

    /// The virt board has no entropy source without virtio-rng: this is xorshift64*
    /// seeded from the RTC and the timer — fine for ids in tests, not for secrets.
    fn random_u64(&self) -> u64 {
        critical_section::with(|cs| {
            let cell = self.rng.borrow(cs);
            let mut x = cell.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            cell.set(x);
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        })
    }

    fn log(&self, plugin: &str, level: Level, message: fmt::Arguments<'_>) {
        if plugin.is_empty() {
            println!("{level:?} {message}");
        } else {
            println!("{level:?} {plugin}: {message}");
        }
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        Timer::at(Instant::from_millis(deadline_ms)).await
    }

    fn gpio_write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.pins.write(pin, high)
    }

    fn gpio_read(&self, pin: u8) -> Result<bool, DeviceError> {
        self.pins.read(pin)
    }

    fn heap_free(&self) -> Option<u64> {
        Some(HEAP.free() as u64)
    }

    fn heap_used(&self) -> Option<u64> {
        Some(HEAP.used() as u64)
    }
}

const RX: usize = 2048;
const TX: usize = 2048;

/// One embassy-net socket per slot, listening on `port`.
pub struct NetListener {
    stack: Stack<'static>,
    port: u16,
    /// Each slot's receive and transmit buffers, allocated once at start.
    buffers: Vec<(*mut [u8], *mut [u8])>,
    in_use: Vec<Cell<bool>>,
}

impl NetListener {
    /// Buffers for `slots` connections.
    pub fn new(stack: Stack<'static>, port: u16, slots: usize) -> NetListener {
        let buffers = (0..slots)
            .map(|_| {
                let rx: &'static mut [u8] = Box::leak(alloc::vec![0u8; RX].into_boxed_slice());
                let tx: &'static mut [u8] = Box::leak(alloc::vec![0u8; TX].into_boxed_slice());
                (rx as *mut [u8], tx as *mut [u8])
            })
            .collect();
        NetListener {
            stack,
            port,
            buffers,
            in_use: (0..slots).map(|_| Cell::new(false)).collect(),
        }
    }
}

/// A connection on a slot's socket.
pub struct NetConn<'a> {
    socket: TcpSocket<'a>,
    in_use: &'a Cell<bool>,
    started: u64,
}

impl Drop for NetConn<'_> {
    fn drop(&mut self) {
        self.in_use.set(false);
    }
}

fn net_error(_: embassy_net::tcp::Error) -> NetError {
    NetError::Reset
}

impl Connection for NetConn<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.socket.read(buf).await.map_err(net_error)
    }

    async fn write_all(&mut self, mut data: &[u8]) -> Result<(), NetError> {
        while !data.is_empty() {
            let n = self.socket.write(data).await.map_err(net_error)?;
            if n == 0 {
                return Err(NetError::Reset);
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Sends what is queued with a FIN, then waits (briefly) for the peer's FIN so the
    /// socket is not dropped — which would discard unsent data — too early.
    async fn close(&mut self) {
        // Everything up to the response is written: that is what the request cost.
        let spent = board::instret() - self.started;
        self.socket.close();
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut sink = [0u8; 64];
        loop {
            let read = self.socket.read(&mut sink);
            match embassy_futures::select::select(read, Timer::at(deadline)).await {
                embassy_futures::select::Either::First(Ok(n)) if n > 0 => continue,
                _ => break,
            }
        }
        let _ = embedded_io_async::Write::flush(&mut self.socket).await;
        println!(
            "conn: {spent} instructions from accept to response; heap {} bytes in use, high-water mark {} bytes",
            HEAP.used(),
            HEAP.peak()
        );
    }

    fn remote_addr(&self) -> String {
        match self.socket.remote_endpoint() {
            Some(ep) => format!("{}:{}", ep.addr, ep.port),
            None => String::from("0.0.0.0:0"),
        }
    }
}

impl Listener for NetListener {
    type Conn<'a> = NetConn<'a>;

    async fn accept(&self, slot: usize) -> Result<NetConn<'_>, NetError> {
        let (Some(&(rx, tx)), Some(in_use)) = (self.buffers.get(slot), self.in_use.get(slot))
        else {
            return Err(NetError::Other);
        };
        if in_use.replace(true) {
            return Err(NetError::Other);
        }
        // SAFETY: each slot's buffers are leaked, so they live forever, and `in_use`
        // guarantees that only one socket at a time borrows them (cleared when the
        // NetConn, and with it the socket, is dropped).
        let (rx, tx) = unsafe { (&mut *rx, &mut *tx) };
        let mut socket = TcpSocket::new(self.stack, rx, tx);
        socket.set_timeout(Some(Duration::from_secs(60)));
        let accepted = socket.accept(self.port).await;
        if accepted.is_err() {
            drop(socket);
            in_use.set(false);
            return Err(NetError::Other);
        }
        Ok(NetConn {
            socket,
            in_use,
            started: board::instret(),
        })
    }
}
