//! What one connection is doing, shared by its task and its requests: how many
//! requests it served (for `max_keep_alive_requests`), which responses are still being
//! written (for `keep_alive_timeout` and draining), and the switch that closes it at once.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::watch;

use crate::body::{BodyError, ResponseBody};

/// What a connection is doing: requests served, responses still being written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Load {
    served: u32,
    in_flight: u32,
}

/// Per-connection bookkeeping shared by the connection task and its requests.
pub(crate) struct Activity {
    pub(crate) load: watch::Sender<Load>,
    max_requests: u32,
    /// Notified to close the connection at once, whatever it is doing (an SSE client
    /// that stopped reading: hyper, blocked on the full socket, would not notice).
    pub(crate) abort: Arc<tokio::sync::Notify>,
}

impl Activity {
    pub(crate) fn new(max_requests: u32) -> Arc<Activity> {
        Arc::new(Activity {
            load: watch::Sender::new(Load::default()),
            max_requests,
            abort: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// A request starts. Returns whether it is the last one this connection may serve
    /// (its response then says `Connection: close`).
    pub(crate) fn begin(&self) -> bool {
        let mut last = false;
        self.load.send_modify(|l| {
            l.served = l.served.saturating_add(1);
            l.in_flight += 1;
            last = l.served >= self.max_requests;
        });
        last
    }

    fn end(&self) {
        self.load
            .send_modify(|l| l.in_flight = l.in_flight.saturating_sub(1));
    }

    /// Wraps a response body so the request counts as in flight until hyper has taken
    /// the last of it (or dropped it).
    pub(crate) fn track(self: &Arc<Self>, body: ResponseBody) -> ResponseBody {
        http_body_util::BodyExt::boxed(Tracked {
            body,
            activity: self.clone(),
        })
    }
}

/// A response body that ends its request's [`Activity`] when dropped.
struct Tracked {
    body: ResponseBody,
    activity: Arc<Activity>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.activity.end();
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Completes once the connection has served a request and then stayed without one in
/// flight for `timeout`.
pub(crate) async fn idle_expired(mut load: watch::Receiver<Load>, timeout: Duration) {
    loop {
        let idle = {
            let l = *load.borrow_and_update();
            l.served > 0 && l.in_flight == 0
        };
        if idle {
            tokio::select! {
                () = tokio::time::sleep(timeout) => return,
                changed = load.changed() => if changed.is_err() { return },
            }
        } else if load.changed().await.is_err() {
            return;
        }
    }
}

/// Completes when the connection has sent no request within `timeout` of opening (an
/// HTTP/2 connection's `header_timeout`: hyper's header read timeout is HTTP/1's alone).
pub(crate) async fn silent(load: watch::Receiver<Load>, timeout: Duration) {
    tokio::time::sleep(timeout).await;
    if load.borrow().served == 0 {
        return;
    }
    std::future::pending().await
}

/// Completes once the connection has begun `max` requests (`max_keep_alive_requests` on
/// HTTP/2, where no `Connection: close` exists: the connection sends GOAWAY instead).
pub(crate) async fn used_up(mut load: watch::Receiver<Load>, max: u32) {
    if load.wait_for(|l| l.served >= max).await.is_err() {
        std::future::pending().await
    }
}
