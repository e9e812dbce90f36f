//! One TCP connection, from `accept` to close: the connection cap, the head-size budget,
//! keep-alive expiry, the per-connection request count and the drain at shutdown.
//!
//! Which limit is enforced where, and why there:
//!
//! - **`max_connections`** (→ 503): counted here, across both listeners, for as long as
//!   the socket lives. The count rides on the socket itself ([`Counted`]), so a
//!   connection upgraded to a WebSocket (hyper hands the socket to the session) keeps
//!   counting until the session ends. A connection over the cap gets a fixed 503 written
//!   straight to the socket, with no parser and no task per request. A warning is logged
//!   when the count first reaches 80 % (again after it fell back below).
//! - **Head size** (→ 431): hyper buffers the whole request head before Berth sees it, so
//!   its `max_header_size` (the whole head, start line included) is set to what the
//!   limits allow at most — `max_request_line + max_headers × max_header_size` plus line
//!   ends. That bounds the memory one head can take *before* it is allocated; hyper
//!   answers 431 past it, and `max_headers` is hyper's too (431). The finer checks —
//!   one line over `max_request_line` (414) or one header over `max_header_size` (431) —
//!   need the parsed head and are made in [`crate::http::check_head`]. Hand-parsing the
//!   head ahead of hyper would cost a second parser and a copy of every head for no
//!   extra protection; the one thing it would change is that a request line longer than
//!   the whole head budget (408 KiB with the defaults) is answered 431 instead of 414.
//!   (hyper itself answers 414 for a target over 64 KiB whenever the budget allows it.)
//! - **`header_timeout`**: hyper's `header_read_timeout` (slowloris on the head); hyper
//!   closes the connection without a response.
//! - **`keep_alive_timeout`**: hyper has no idle timeout of its own between requests.
//!   [`Activity`] counts the responses still being written; once the connection has
//!   served a request and has none in flight for `keep_alive_timeout`, it is closed
//!   gracefully (a request that has started arriving by then is still cut off: an idle
//!   client gets `keep_alive_timeout` to send its next head, not `header_timeout`).
//! - **`max_keep_alive_requests`**: counted in [`Activity::begin`]; the last response
//!   carries `Connection: close`, after which hyper closes the connection.
//!
//! [`Activity::abort`] closes a connection at once: the SSE hub uses it for a client
//! that stopped reading, which hyper (blocked on the full socket) would not notice.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use berth_core::limits::Limits;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::activity::{idle_expired, Activity};
use crate::{Port, Shared};

/// Live TCP connections across every listener, against `max_connections`.
pub(crate) struct ConnLimiter {
    live: AtomicUsize,
    max: usize,
    /// Set while the count is at or above 80 % of `max` (so the warning is logged once
    /// per crossing, not once per connection).
    warned: AtomicBool,
    /// Over-the-cap connections being answered 503 right now.
    rejecting: AtomicUsize,
}

/// How many over-the-cap connections may be answered 503 at once; past that a flood is
/// simply closed, so rejecting cannot itself take unbounded resources.
const MAX_REJECTING: usize = 64;

/// The response to a connection over the cap (the host's JSON error shape).
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 42\r\nconnection: close\r\nretry-after: 1\r\n\r\n{\"error\":\"Service Unavailable\",\"code\":503}";

impl ConnLimiter {
    /// A limiter for `max` simultaneous connections.
    pub(crate) fn new(max: usize) -> ConnLimiter {
        ConnLimiter {
            live: AtomicUsize::new(0),
            max,
            warned: AtomicBool::new(false),
            rejecting: AtomicUsize::new(0),
        }
    }

    /// Connections open right now.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Counts one more connection, or `None` when the cap is reached.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<ConnPermit> {
        let mut live = self.live.load(Ordering::Relaxed);
        loop {
            if live >= self.max {
                return None;
            }
            match self.live.compare_exchange_weak(
                live,
                live + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => live = now,
            }
        }
        let now = live + 1;
        let threshold = berth_core::limits::connection_warning_at(self.max);
        if now >= threshold && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                live = now,
                max = self.max,
                "{now} of {} connections in use (80 % of max_connections)",
                self.max
            );
        }
        Some(ConnPermit {
            limiter: self.clone(),
        })
    }

    fn release(&self) {
        let before = self.live.fetch_sub(1, Ordering::AcqRel);
        let threshold = (self.max * 4).div_ceil(5).max(1);
        if before.saturating_sub(1) < threshold {
            self.warned.store(false, Ordering::Relaxed);
        }
    }

    /// Answers a connection over the cap with 503 and closes it, in the background.
    pub(crate) fn reject(self: &Arc<Self>, mut stream: TcpStream, remote: SocketAddr) {
        if self.rejecting.fetch_add(1, Ordering::AcqRel) >= MAX_REJECTING {
            self.rejecting.fetch_sub(1, Ordering::AcqRel);
            return; // dropping the stream closes it
        }
        let limiter = self.clone();
        tokio::spawn(async move {
            tracing::debug!("connection from {remote} refused: max_connections reached");
            let answer = async {
                stream.write_all(BUSY).await?;
                stream.shutdown().await?;
                // Read what the client sent until it closes, so closing does not reset
                // the connection before the client has read the 503.
                let mut sink = [0u8; 1024];
                let mut budget = 64usize << 10;
                loop {
                    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await?;
                    if n == 0 || n >= budget {
                        break;
                    }
                    budget -= n;
                }
                Ok::<_, io::Error>(())
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
            limiter.rejecting.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// One counted connection; dropping it gives the slot back.
pub(crate) struct ConnPermit {
    limiter: Arc<ConnLimiter>,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.limiter.release();
    }
}

/// A socket that holds its connection slot for as long as it lives (through a
/// WebSocket upgrade too).
pub(crate) struct Counted {
    stream: TcpStream,
    _permit: ConnPermit,
    _open: OpenGauge,
}

/// One connection in its listener's `berth_connections_open` gauge while it lives.
struct OpenGauge(prometheus::IntGauge);

impl OpenGauge {
    fn new(gauge: prometheus::IntGauge) -> OpenGauge {
        gauge.inc();
        OpenGauge(gauge)
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Completes once shutdown has reached `at` (or the server is gone).
async fn wait_for(mut phase: watch::Receiver<Phase>, at: Phase) {
    let reached = |p: &Phase| match at {
        Phase::Serving => true,
        Phase::Drain => *p != Phase::Serving,
        Phase::Abort => *p == Phase::Abort,
    };
    let _ = phase.wait_for(reached).await;
}

/// The total head size hyper may buffer: the request line, every header, line ends.
pub(crate) fn head_budget(limits: &Limits) -> usize {
    let line = limits.max_request_line.saturating_add(2);
    let headers = limits
        .max_headers
        .saturating_mul(limits.max_header_size.saturating_add(2));
    line.saturating_add(headers).saturating_add(2)
}

/// Where shutdown is; every connection task holds a receiver, so the server knows
/// when the last one has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Serving as usual.
    Serving,
    /// Finish the request in flight (hyper's graceful shutdown), then close.
    Drain,
    /// `shutdown_timeout` is over: close now, whatever is in flight.
    Abort,
}

/// Serves one accepted connection on its own task until it ends, expires, or shutdown
/// asks it to drain (it finishes the request in flight and closes) or to abort. A TLS
/// listener's handshake comes first, bounded by `header_timeout`; then the connection
/// speaks HTTP/1.1 or HTTP/2 (see [`crate::proto`]).
pub(crate) fn spawn(
    shared: Arc<Shared>,
    stream: TcpStream,
    permit: ConnPermit,
    remote: SocketAddr,
    port: Port,
    phase: watch::Receiver<Phase>,
) {
    let _ = stream.set_nodelay(true);
    let io = Counted {
        stream,
        _permit: permit,
        _open: OpenGauge::new(shared.metrics.listener(port).open),
    };
    let acceptor = shared.tls_acceptor(port);
    let h2c = port == Port::Http && shared.http2.enabled;
    let first_bytes = Duration::from_millis(shared.limits.header_timeout_ms);
    tokio::spawn(async move {
        let opening = async {
            match acceptor {
                Some(acceptor) => {
                    let tls = acceptor.accept(io).await?;
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(&b"h2"[..]);
                    Ok::<_, io::Error>(Opened::Tls(Box::new(tls), h2))
                }
                None if h2c => {
                    let (io, h2) = crate::proto::sniff(io).await?;
                    Ok(Opened::Sniffed(io, h2))
                }
                None => Ok(Opened::Plain(io)),
            }
        };
        // Nothing is in flight yet: a drain, or a client that says nothing, ends it here.
        let opened = tokio::select! {
            opened = tokio::time::timeout(first_bytes, opening) => opened,
            _ = wait_for(phase.clone(), Phase::Drain) => return,
        };
        let served = match opened {
            Ok(Ok(Opened::Tls(io, true))) => serve_h2(shared, *io, remote, port, phase).await,
            Ok(Ok(Opened::Tls(io, false))) => serve_h1(shared, *io, remote, port, phase).await,
            Ok(Ok(Opened::Sniffed(io, true))) => serve_h2(shared, io, remote, port, phase).await,
            Ok(Ok(Opened::Sniffed(io, false))) => serve_h1(shared, io, remote, port, phase).await,
            Ok(Ok(Opened::Plain(io))) => serve_h1(shared, io, remote, port, phase).await,
            Ok(Err(e)) => {
                tracing::debug!("connection from {remote} failed to open: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!("connection from {remote} sent nothing in time: closing");
                return;
            }
        };
        if let Err(e) = served {
            tracing::debug!("connection from {remote} ended: {e}");
        }
    });
}

/// A connection after its TLS handshake or its first bytes.
enum Opened {
    /// TLS, and whether ALPN agreed on h2.
    Tls(Box<tokio_rustls::server::TlsStream<Counted>>, bool),
    /// Plain, its first bytes read, and whether they were the HTTP/2 preface.
    Sniffed(crate::proto::Prefixed<Counted>, bool),
    /// Plain, HTTP/1.1 only.
    Plain(Counted),
}

/// What a served connection's socket must be.
trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for T {}

/// HTTP/1.1 with upgrades (WebSockets), hyper's http1 builder with the head limits.
async fn serve_h1(
    shared: Arc<Shared>,
    io: impl Socket,
    remote: SocketAddr,
    port: Port,
    phase: watch::Receiver<Phase>,
) -> hyper::Result<()> {
    let limits = shared.limits;
    let activity = Activity::new(limits.max_keep_alive_requests.max(1));
    let idle = idle_expired(
        activity.clone(),
        Duration::from_millis(limits.keep_alive_timeout_ms),
    );
    let abort = activity.abort.clone();
    let service = {
        let (activity, peer) = (activity.clone(), crate::http::Peer::new(remote));
        hyper::service::service_fn(move |req| {
            crate::http::serve(shared.clone(), activity.clone(), peer.clone(), port, req)
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_timeout_ms))
        .max_headers(limits.max_headers)
        .max_header_size(head_budget(&limits));
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let expired = async move {
        idle.await;
        tracing::debug!("keep-alive connection from {remote} idle: closing");
        Some(Duration::from_millis(limits.header_timeout_ms))
    };
    drive(
        conn,
        |c| c.graceful_shutdown(),
        expired,
        abort,
        phase,
        remote,
    )
    .await
}

/// HTTP/2, hyper's http2 builder with the HTTP/2 limits (see [`crate::proto`]).
async fn serve_h2(
    shared: Arc<Shared>,
    io: impl Socket,
    remote: SocketAddr,
    port: Port,
    phase: watch::Receiver<Phase>,
) -> hyper::Result<()> {
    let limits = shared.limits;
    let settings = shared.http2;
    let activity = Activity::new(settings.max_requests.max(1));
    let idle = idle_expired(
        activity.clone(),
        Duration::from_millis(limits.keep_alive_timeout_ms),
    );
    let silent = crate::activity::silent(
        activity.clone(),
        Duration::from_millis(limits.header_timeout_ms),
    );
    let used_up = crate::activity::used_up(activity.clone());
    let abort = activity.abort.clone();
    let service = {
        let (activity, peer) = (activity.clone(), crate::http::Peer::new(remote));
        hyper::service::service_fn(move |req| {
            crate::http::serve(shared.clone(), activity.clone(), peer.clone(), port, req)
        })
    };
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_concurrent_streams)
        .max_header_list_size(u32::try_from(head_budget(&limits)).unwrap_or(u32::MAX))
        .keep_alive_interval(settings.ping_interval)
        .keep_alive_timeout(settings.ping_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    // Idle or silent, nothing is in flight: the GOAWAY exchange gets `header_timeout`
    // (a peer that never answers it must not keep the connection). Used up, the last
    // requests are still being served and get the time they need.
    let quiet = Some(Duration::from_millis(limits.header_timeout_ms));
    let expired = async move {
        tokio::select! {
            () = idle => {
                tracing::debug!("HTTP/2 connection from {remote} idle: closing");
                quiet
            }
            () = silent => {
                tracing::debug!("HTTP/2 connection from {remote} sent no request: closing");
                quiet
            }
            () = used_up => {
                tracing::debug!("HTTP/2 connection from {remote} used up [server.http2] max_requests: closing");
                None
            }
        }
    };
    drive(
        conn,
        |c| c.graceful_shutdown(),
        expired,
        abort,
        phase,
        remote,
    )
    .await
}

/// Runs a hyper connection until it ends; `expired` (idle, and the like) and a drain
/// shut it down gracefully, an abort ends it at once. `expired` says how long the
/// graceful end may take (`None`: as long as it needs).
async fn drive<C>(
    conn: C,
    graceful: impl Fn(Pin<&mut C>),
    expired: impl std::future::Future<Output = Option<Duration>>,
    abort: Arc<tokio::sync::Notify>,
    phase: watch::Receiver<Phase>,
    remote: SocketAddr,
) -> hyper::Result<()>
where
    C: std::future::Future<Output = hyper::Result<()>>,
{
    tokio::pin!(conn);
    tokio::pin!(expired);
    let draining = phase.clone();
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = wait_for(draining, Phase::Drain) => {
            graceful(conn.as_mut());
            tokio::select! {
                ended = conn.as_mut() => ended,
                _ = wait_for(phase.clone(), Phase::Abort) => Ok(()),
            }
        }
        bound = &mut expired => {
            graceful(conn.as_mut());
            match bound {
                Some(bound) => tokio::time::timeout(bound, conn).await.unwrap_or(Ok(())),
                None => conn.await,
            }
        }
        () = abort.notified() => {
            tracing::debug!("connection from {remote} aborted: its client stopped reading");
            Ok(())
        }
    };
    // Dropping the receiver tells the server this connection is gone.
    drop(phase);
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_response_is_well_formed() {
        let text = std::str::from_utf8(BUSY).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert_eq!(body, r#"{"error":"Service Unavailable","code":503}"#);
    }

    #[test]
    fn the_cap_counts_live_permits() {
        let limiter = Arc::new(ConnLimiter::new(5));
        let mut permits: Vec<ConnPermit> = (0..5).filter_map(|_| limiter.try_acquire()).collect();
        assert_eq!((permits.len(), limiter.live()), (5, 5));
        assert!(limiter.warned.load(Ordering::Relaxed), "4 of 5 is 80 %");
        assert!(limiter.try_acquire().is_none());
        permits.truncate(3);
        assert_eq!(limiter.live(), 3);
        assert!(
            !limiter.warned.load(Ordering::Relaxed),
            "re-armed below 80 %"
        );
        assert!(limiter.try_acquire().is_some());
    }

    #[test]
    fn head_budget_covers_every_allowed_header() {
        let limits = Limits::default();
        assert_eq!(head_budget(&limits), 8194 + 50 * 8194 + 2);
        let huge = Limits {
            max_headers: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(head_budget(&huge), usize::MAX);
    }
}
