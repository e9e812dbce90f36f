//! The I/O every connection module shares: the fixed read buffer, a read raced against
//! a deadline, and writing a whole response.

use alloc::vec;
use alloc::vec::Vec;

use berth_core::model::{Body, Response};
use berth_core::respond::body_allowed;
use embassy_futures::select::{select, Either};

use crate::http::write::{self, error_message, Framing};
use crate::net::{Connection, Platform};

/// The connection's fixed read buffer: `data[start..end]` is received but unparsed.
pub(crate) struct InBuf {
    pub(crate) data: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl InBuf {
    pub(crate) fn new(size: usize) -> InBuf {
        InBuf {
            data: vec![0; size.max(64)],
            start: 0,
            end: 0,
        }
    }

    /// The unparsed bytes.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Moves unparsed bytes to the front, so the free tail is as large as it can be.
    pub(crate) fn compact(&mut self) {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Space to read into (after compacting).
    pub(crate) fn free(&mut self) -> &mut [u8] {
        self.compact();
        &mut self.data[self.end..]
    }
}

/// Races `read` against a deadline: `None` when the deadline came first.
pub(crate) async fn read_until<P: Platform, C: Connection>(
    platform: &P,
    conn: &mut C,
    buf: &mut [u8],
    deadline_ms: u64,
) -> Option<Result<usize, crate::net::NetError>> {
    match select(conn.read(buf), platform.sleep_until(deadline_ms)).await {
        Either::First(r) => Some(r),
        Either::Second(()) => None,
    }
}

/// Answers a connection the server will not serve: 503, as the desktop server does.
pub(crate) async fn refuse<C: Connection>(conn: &mut C) {
    let mut r = error(503);
    r.headers.push(("retry-after".into(), "1".into()));
    let _ = send(conn, r, false, false).await;
}

pub(crate) fn error(status: u16) -> Response {
    Response::error(status, error_message(status))
}

/// Writes a response with a whole body. Returns whether the connection stays open.
/// The response is finalised already, or is the host's own.
pub(crate) async fn send<C: Connection>(
    conn: &mut C,
    response: Response,
    is_head: bool,
    keep_alive: bool,
) -> bool {
    let bytes = match response.body {
        Body::Bytes(bytes) => bytes,
        _ => Vec::new(),
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let with_body = body_allowed(response.status, is_head);
    let mut out = Vec::with_capacity(160 + if with_body { bytes.len() } else { 0 });
    write::head(
        &mut out,
        response.status,
        &response.headers,
        Framing::Length(bytes.len()),
        &[("connection", connection)],
    );
    if with_body {
        out.extend_from_slice(&bytes);
    }
    conn.write_all(&out).await.is_ok() && keep_alive
}
