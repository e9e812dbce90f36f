//! yawc's connection as the session drives it: a `Stream` of frames that keeps read
//! errors (yawc's own `Stream` turns them into the end of the stream), and a `Sink` that
//! lets exactly one close frame out, with the session's code.
//!
//! yawc answers a protocol failure with a close frame of its own choosing (1003 for an
//! unknown opcode, where RFC 6455 practice and the Autobahn TestSuite want 1002), and
//! accepts a close frame over 125 bytes. So when the session fails a connection it sets
//! yawc aside: yawc is never polled again (its queued close stays unsent), what yawc had
//! already framed is flushed, and the session's close frame is written to the byte
//! stream directly through a second handle on it ([`Io`]). A server's frames are
//! unmasked, so that frame is two header bytes and the payload.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use futures_util::{Sink, Stream};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use yawc::{Frame, OpCode, WebSocket, WebSocketError};

/// The upgraded connection, shared by yawc and the session's failure path. Each poll
/// takes the lock for that poll only; the session writes through it only once yawc is
/// set aside, so the two never interleave bytes.
#[derive(Clone)]
pub(super) struct Io(Arc<Mutex<TokioIo<Upgraded>>>);

impl Io {
    pub(super) fn new(upgraded: Upgraded) -> Io {
        Io(Arc::new(Mutex::new(TokioIo::new(upgraded))))
    }

    fn lock(&self) -> MutexGuard<'_, TokioIo<Upgraded>> {
        // A poll that panicked leaves the stream as any failed poll would.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.lock()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.lock()).poll_shutdown(cx)
    }
}

/// The largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// A read failure the session closes the connection for.
#[derive(Debug)]
pub(super) enum ReadError {
    /// What yawc reported.
    Ws(WebSocketError),
    /// A close or pong frame over 125 bytes, which yawc lets through.
    ControlTooLong,
}

/// One connection: yawc, the second handle, and where the close handshake is.
pub(super) struct Socket {
    ws: WebSocket<Io>,
    io: Io,
    /// A close frame went out or is queued: ours, or yawc's reply to the peer's.
    closed: bool,
    /// The reader is done: yawc reported the end, or the connection failed.
    ended: bool,
    /// The connection failed: yawc is set aside (see the module docs).
    failed: bool,
    /// The session's close frame, to be written directly; how much of it is out.
    raw_close: Vec<u8>,
    raw_sent: usize,
}

impl Socket {
    pub(super) fn new(ws: WebSocket<Io>, io: Io) -> Socket {
        Socket {
            ws,
            io,
            closed: false,
            ended: false,
            failed: false,
            raw_close: Vec::new(),
            raw_sent: 0,
        }
    }

    fn fail(&mut self) {
        self.failed = true;
        self.ended = true;
    }

    /// Writes what yawc had framed, then the session's close frame.
    fn poll_flush_failed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WebSocketError>> {
        // yawc's flush writes its buffer only; its queued close goes out from its
        // `poll_ready` and its reads, neither of which runs again.
        ready!(Pin::new(&mut self.ws).poll_flush(cx))?;
        while self.raw_sent < self.raw_close.len() {
            let rest = &self.raw_close[self.raw_sent..];
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(WebSocketError::ConnectionClosed));
            }
            self.raw_sent += n;
        }
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }
}

impl Stream for Socket {
    type Item = Result<Frame, ReadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match ready!(this.ws.poll_next_frame(cx)) {
            Ok(frame) => {
                if frame.opcode().is_control() && frame.payload().len() > MAX_CONTROL_PAYLOAD {
                    this.fail();
                    return Poll::Ready(Some(Err(ReadError::ControlTooLong)));
                }
                if frame.opcode() == OpCode::Close {
                    // yawc queued its reply (flushed by the next poll, or the next send).
                    this.closed = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Err(WebSocketError::ConnectionClosed) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Err(e) => {
                this.fail();
                Poll::Ready(Some(Err(ReadError::Ws(e))))
            }
        }
    }
}

impl Sink<Frame> for Socket {
    type Error = WebSocketError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.ws).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), Self::Error> {
        let this = self.get_mut();
        if this.closed {
            // Nothing follows a close frame (RFC 6455 §5.5.1).
            return Ok(());
        }
        let close = frame.opcode() == OpCode::Close;
        if this.failed {
            if close {
                // FIN + close, unmasked; berth-core cut the reason to fit 125 bytes.
                let payload = frame.payload();
                let len = payload.len().min(MAX_CONTROL_PAYLOAD);
                this.raw_close = [0x88, len as u8].to_vec();
                this.raw_close.extend_from_slice(&payload[..len]);
                this.closed = true;
            }
            return Ok(());
        }
        this.closed = close;
        Pin::new(&mut this.ws).start_send(frame)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.failed {
            return this.poll_flush_failed(cx);
        }
        Pin::new(&mut this.ws).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.failed {
            return this.poll_flush_failed(cx);
        }
        Pin::new(&mut this.ws).poll_close(cx)
    }
}
