//! The little the loop needs from a network stack and a clock.
//!
//! The ESP32-C6 firmware (Wi-Fi) and the QEMU image (virtio-net) both use embassy-net,
//! through the one adapter in `embassy_tcp` (feature `embassy-net`); the `std` adapter
//! uses `std::net` on async-io. The loop never names a concrete stack, so the very same
//! code serves all three.

use core::fmt;
use core::future::Future;

use berth_core::device::DeviceError;
use berth_core::host::Level;

/// A transport failure. The loop only needs to know that the connection is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    /// The peer reset or the stack dropped the connection.
    Reset,
    /// The listener was closed (the server is shutting down).
    Closed,
    /// Any other failure of the underlying stack.
    Other,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetError::Reset => "connection reset",
            NetError::Closed => "listener closed",
            NetError::Other => "network error",
        })
    }
}

impl core::error::Error for NetError {}

/// One accepted TCP connection.
///
/// `read` must be cancel-safe: the loop races it against timers and outgoing
/// WebSocket/SSE queues and drops it when another branch wins, so a `read` that has not
/// completed must not have consumed any data (true of embassy-net and async-io).
pub trait Connection {
    /// Reads what is available into `buf`; `Ok(0)` means the peer closed its side.
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = Result<usize, NetError>>;
    /// Writes all of `data`.
    fn write_all(&mut self, data: &[u8]) -> impl Future<Output = Result<(), NetError>>;
    /// Flushes what `write_all` queued and closes the connection gracefully.
    fn close(&mut self) -> impl Future<Output = ()>;
    /// The peer's address as `ip:port`, for `remote-addr`.
    fn remote_addr(&self) -> alloc::string::String;
}

/// Hands out accepted connections.
///
/// The server runs a fixed number of *slots*; each calls `accept(slot)` when it is free.
/// A stack that accepts per socket (embassy-net) keeps one listening socket per slot; a
/// stack with a listen queue (std) can ignore `slot`.
pub trait Listener {
    /// A connection, possibly borrowing the slot's socket buffers.
    type Conn<'a>: Connection
    where
        Self: 'a;
    /// Waits for the next connection on `slot`.
    fn accept(&self, slot: usize) -> impl Future<Output = Result<Self::Conn<'_>, NetError>>;
    /// Stops listening: the server is shutting down, and a new connection must be
    /// refused rather than left waiting. The loop calls `accept` no more after this. A
    /// stack that listens only while an `accept` is pending (embassy-net) has nothing
    /// to do, which is the default.
    fn close(&self) {}
}

/// Clock, randomness and logging: what the host API and the timeouts need from the
/// platform; and, where the board has them, GPIO pins and heap figures (the defaults
/// say there are none).
pub trait Platform: Send + Sync + 'static {
    /// Monotonic milliseconds since an arbitrary start (boot). Drives every timeout.
    fn now_ms(&self) -> u64;
    /// Wall-clock Unix milliseconds, for plugins' `now-ms`. A device without a real-time
    /// clock returns milliseconds since boot.
    fn unix_ms(&self) -> u64;
    /// 64 random bits, from the best source the platform has.
    fn random_u64(&self) -> u64;
    /// Writes a log line (`plugin` is empty for the host's own lines).
    fn log(&self, plugin: &str, level: Level, message: fmt::Arguments<'_>);
    /// Completes once `now_ms() >= deadline_ms`.
    fn sleep_until(&self, deadline_ms: u64) -> impl Future<Output = ()>;

    /// Drives `pin` high or low (configuring it as an output first if need be).
    /// Only called for pins granted to the calling plugin: berth-core checks the grant.
    /// A pin the board does not have (or cannot drive) is [`DeviceError::NoSuchPin`].
    fn gpio_write(&self, _pin: u8, _high: bool) -> Result<(), DeviceError> {
        Err(DeviceError::Unsupported)
    }
    /// The level of `pin` (an output reads back what was last written).
    fn gpio_read(&self, _pin: u8) -> Result<bool, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    /// Bytes the heap can still allocate (`None`: unknown; plugins then see 0).
    fn heap_free(&self) -> Option<u64> {
        None
    }
    /// Bytes allocated from the heap now (`None`: unknown; plugins then see 0).
    fn heap_used(&self) -> Option<u64> {
        None
    }
}
