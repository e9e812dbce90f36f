//! Which HTTP a connection speaks, and the hyper connection for it.
//!
//! - A TLS connection speaks what ALPN agreed: `h2`, else HTTP/1.1.
//! - A plain connection on the HTTP port, with `[server.http2]` on, is HTTP/2 when it
//!   opens with the HTTP/2 connection preface ("prior knowledge", h2c); [`sniff`] reads
//!   the first 24 bytes to tell, and [`Prefixed`] gives them back to the parser. (hyper-util's
//!   auto builder does the same, but its HTTP/1 side cannot bound the head with
//!   `max_header_size`, so Berth keeps hyper's own builders and sniffs itself.)
//! - Everything else is HTTP/1.1, as before.
//!
//! The HTTP/2 equivalents of the HTTP/1 limits (see [`crate::conn`]):
//! `max_concurrent_streams` bounds the requests one connection has in flight; the header
//! list (HPACK-decoded) is bounded by the same head budget as an HTTP/1 head (431 past
//! it); bodies go through the same `max_body_size` / `body_timeout` checks in
//! [`crate::http`]; a connection that sends no request within `header_timeout` is
//! closed, as is one idle for `keep_alive_timeout` (with GOAWAY, so nothing in flight is
//! cut), one that has sent `[server.http2] max_requests`, and one that stops answering PINGs.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the first bytes either are the HTTP/2 preface or cannot be; returns the
/// socket with what was read put back in front, and whether it is HTTP/2.
pub(crate) async fn sniff<I: AsyncRead + Unpin>(mut io: I) -> io::Result<(Prefixed<I>, bool)> {
    let mut buf = [0u8; PREFACE.len()];
    let mut filled = 0;
    while filled < buf.len() {
        let n = io.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
        if buf[..filled] != PREFACE[..filled] {
            break;
        }
    }
    let h2 = filled == PREFACE.len() && &buf == PREFACE;
    Ok((
        Prefixed {
            prefix: buf,
            start: 0,
            end: filled,
            io,
        },
        h2,
    ))
}

/// A socket with a few bytes already read from it, returned first.
pub(crate) struct Prefixed<I> {
    prefix: [u8; PREFACE.len()],
    start: usize,
    end: usize,
    io: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.start < self.end {
            let n = (self.end - self.start).min(buf.remaining());
            let start = self.start;
            buf.put_slice(&self.prefix[start..start + n]);
            self.start += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sniffed(input: &[u8]) -> (bool, Vec<u8>) {
        let (mut io, h2) = sniff(input).await.expect("in-memory read");
        let mut back = Vec::new();
        io.read_to_end(&mut back).await.expect("read back");
        (h2, back)
    }

    #[tokio::test]
    async fn the_preface_is_http2_and_every_byte_is_given_back() {
        let mut h2 = PREFACE.to_vec();
        h2.extend_from_slice(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        assert_eq!(sniffed(&h2).await, (true, h2.clone()));
        for h1 in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"PRI * HTTP/1.1\r\n\r\n",
            b"PRI",
            b"",
            b"POST /x HTTP/1.1\r\n",
        ] {
            assert_eq!(sniffed(h1).await, (false, h1.to_vec()), "{h1:?}");
        }
    }
}
