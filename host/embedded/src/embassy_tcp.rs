//! [`Listener`] and [`Connection`] over embassy-net TCP sockets (feature `embassy-net`).
//!
//! Every embassy-net board uses this one adapter: the ESP32-C6 firmware over Wi-Fi and
//! the QEMU image over virtio-net. embassy-net accepts per socket, not from a listen
//! queue, so the listener keeps one receive and one transmit buffer per connection slot
//! and opens a fresh listening socket on the slot's buffers for every `accept`.
//!
//! A board that wants to measure each connection (the QEMU image counts instructions
//! and the heap's high-water mark) passes a [`ConnObserver`].

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};

use crate::net::{Connection, Listener, NetError};

/// Bytes of each slot's receive buffer and of its transmit buffer.
pub const SOCKET_BUFFER: usize = 2048;

/// A socket with no traffic for this long is reset by embassy-net. The server's own
/// timeouts (`[limits]`) are shorter; this only catches a peer that vanished without a
/// FIN while the loop was not reading (for instance during a long WebSocket send).
const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

/// How long `close` waits for the peer's FIN after sending ours.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// Hears about each connection's start and end, for boards that measure them.
pub trait ConnObserver {
    /// A connection was accepted; the value returned comes back to [`closing`](Self::closing).
    fn accepted(&self) -> u64 {
        0
    }
    /// The server is closing the connection that `accepted` returned `mark` for: all it
    /// will write is written (called before the FIN and the linger for the peer's).
    fn closing(&self, mark: u64) {
        let _ = mark;
    }
}

/// No observer.
impl ConnObserver for () {}

/// Hands out embassy-net TCP connections on one port, one socket per slot.
pub struct EmbassyListener<'d, O: ConnObserver = ()> {
    stack: Stack<'d>,
    port: u16,
    /// Each slot's receive and transmit buffers, allocated (and leaked) once at start.
    buffers: Vec<(*mut [u8], *mut [u8])>,
    /// Whether a slot's buffers are lent to a socket right now.
    in_use: Vec<Cell<bool>>,
    observer: O,
}

impl<'d> EmbassyListener<'d, ()> {
    /// A listener on `port` with buffers for `slots` connections (2 × [`SOCKET_BUFFER`]
    /// bytes each, taken from the heap for the life of the program).
    pub fn new(stack: Stack<'d>, port: u16, slots: usize) -> Self {
        let buffers = (0..slots)
            .map(|_| {
                let rx: &'static mut [u8] = Box::leak(vec![0u8; SOCKET_BUFFER].into_boxed_slice());
                let tx: &'static mut [u8] = Box::leak(vec![0u8; SOCKET_BUFFER].into_boxed_slice());
                (rx as *mut [u8], tx as *mut [u8])
            })
            .collect();
        EmbassyListener {
            stack,
            port,
            buffers,
            in_use: (0..slots).map(|_| Cell::new(false)).collect(),
            observer: (),
        }
    }
}

impl<'d, O: ConnObserver> EmbassyListener<'d, O> {
    /// The same listener, reporting each connection to `observer`.
    pub fn observed<P: ConnObserver>(self, observer: P) -> EmbassyListener<'d, P> {
        EmbassyListener {
            stack: self.stack,
            port: self.port,
            buffers: self.buffers,
            in_use: self.in_use,
            observer,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Lends slot `slot`'s buffers out, or `None` if the slot does not exist or its
    /// buffers are already lent. The buffers go back when the returned [`Lent`] drops.
    // `&self` in, `&mut` out: exclusive because of `in_use`, see the SAFETY note.
    #[allow(unsafe_code, clippy::mut_from_ref)]
    fn take_buffers(&self, slot: usize) -> Option<(Lent<'_>, &mut [u8], &mut [u8])> {
        let (&(rx, tx), in_use) = (self.buffers.get(slot)?, self.in_use.get(slot)?);
        if in_use.replace(true) {
            return None;
        }
        // SAFETY: each slot's buffers were leaked in `new`, so they outlive `self`, and
        // `in_use` makes the borrows exclusive: it was false just now, and only `Lent`'s
        // drop clears it. Every holder of these borrows (the socket) is declared after
        // its `Lent`, in `accept` and in `EmbassyConn`, so it is dropped before it — also
        // when an `accept` future is cancelled.
        let (rx, tx) = unsafe { (&mut *rx, &mut *tx) };
        Some((Lent(in_use), rx, tx))
    }
}

/// A slot's buffers on loan: dropping it returns them.
struct Lent<'a>(&'a Cell<bool>);

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// An accepted connection on a slot's socket.
pub struct EmbassyConn<'a, O: ConnObserver> {
    /// Declared before `_lent`: fields drop in order, so the socket lets go of the
    /// slot's buffers before they are marked free.
    socket: TcpSocket<'a>,
    _lent: Lent<'a>,
    observer: &'a O,
    mark: u64,
}

/// embassy-net reports a reset connection as its only TCP error.
fn net_error(_: embassy_net::tcp::Error) -> NetError {
    NetError::Reset
}

impl<O: ConnObserver> Connection for EmbassyConn<'_, O> {
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
        self.observer.closing(self.mark);
        self.socket.close();
        let deadline = Instant::now() + CLOSE_LINGER;
        let mut sink = [0u8; 64];
        loop {
            match select(self.socket.read(&mut sink), Timer::at(deadline)).await {
                Either::First(Ok(n)) if n > 0 => continue,
                _ => break,
            }
        }
        let _ = self.socket.flush().await;
    }

    fn remote_addr(&self) -> String {
        match self.socket.remote_endpoint() {
            Some(ep) => format!("{}:{}", ep.addr, ep.port),
            None => String::from("0.0.0.0:0"),
        }
    }
}

impl<'d, O: ConnObserver> Listener for EmbassyListener<'d, O> {
    type Conn<'a>
        = EmbassyConn<'a, O>
    where
        Self: 'a;

    async fn accept(&self, slot: usize) -> Result<EmbassyConn<'_, O>, NetError> {
        // `lent` is declared before `socket`, so it drops after it on every exit.
        let (lent, rx, tx) = self.take_buffers(slot).ok_or(NetError::Other)?;
        let mut socket = TcpSocket::new(self.stack, rx, tx);
        socket.set_timeout(Some(SOCKET_TIMEOUT));
        socket
            .accept(self.port)
            .await
            .map_err(|_| NetError::Other)?;
        Ok(EmbassyConn {
            socket,
            _lent: lent,
            observer: &self.observer,
            mark: self.observer.accepted(),
        })
    }
}
