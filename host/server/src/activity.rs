//! What one connection is doing, shared by its task and its requests: how many
//! requests it served (for `max_keep_alive_requests`), which responses are still being
//! written (for `keep_alive_timeout` and draining), and the switch that closes it at once.
//!
//! A request only touches atomics here: nothing is woken and no timer is set per request.
//! The keep-alive expiry ([`idle_expired`]) is one timer per connection, re-armed when it
//! fires: it then reads when the connection last went idle and sleeps until that moment
//! plus the timeout (or, while a response is in flight, a whole timeout more). An earlier
//! version kept the counts in a `watch` channel, whose every change woke the connection
//! task and re-polled hyper's dispatcher twice a request, and armed a fresh timer each
//! time the connection went idle.

use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::body::{BodyError, ResponseBody};

/// Per-connection bookkeeping shared by the connection task and its requests.
pub(crate) struct Activity {
    /// Requests begun on this connection.
    served: AtomicU32,
    /// Responses begun and not yet written (or dropped).
    in_flight: AtomicU32,
    /// When the last response in flight ended, in milliseconds since `opened`: where
    /// the keep-alive timeout counts from.
    idle_since_ms: AtomicU64,
    /// When the connection was accepted: the origin of `idle_since_ms`.
    opened: Instant,
    max_requests: u32,
    /// Notified once, when the request that reaches `max_requests` begins (HTTP/2's
    /// GOAWAY; HTTP/1.1 says `Connection: close` on that response instead).
    used_up: tokio::sync::Notify,
    /// Notified to close the connection at once, whatever it is doing (an SSE client
    /// that stopped reading: hyper, blocked on the full socket, would not notice).
    pub(crate) abort: Arc<tokio::sync::Notify>,
}

impl Activity {
    pub(crate) fn new(max_requests: u32) -> Arc<Activity> {
        Arc::new(Activity {
            served: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            idle_since_ms: AtomicU64::new(0),
            opened: Instant::now(),
            max_requests,
            used_up: tokio::sync::Notify::new(),
            abort: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// A request starts. Returns whether it is the last one this connection may serve
    /// (its response then says `Connection: close`).
    pub(crate) fn begin(&self) -> bool {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let served = self.served.fetch_add(1, Ordering::AcqRel).saturating_add(1);
        if served == self.max_requests {
            // A permit is kept if no one waits yet: `used_up` completes either way.
            self.used_up.notify_one();
        }
        served >= self.max_requests
    }

    fn end(&self) {
        // The moment is written before the count drops, so a reader that sees no
        // response in flight also sees when the last one ended.
        let now = self.opened.elapsed().as_millis();
        self.idle_since_ms
            .fetch_max(u64::try_from(now).unwrap_or(u64::MAX), Ordering::AcqRel);
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// When the connection went idle, if it is idle: it has served a request and has
    /// none in flight.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) != 0 || self.served.load(Ordering::Acquire) == 0 {
            return None;
        }
        let ms = self.idle_since_ms.load(Ordering::Acquire);
        Some(self.opened + Duration::from_millis(ms))
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
/// flight for `timeout`. One timer, re-armed only when it fires (see the module doc).
pub(crate) async fn idle_expired(activity: Arc<Activity>, timeout: Duration) {
    let mut due = Instant::now() + timeout;
    loop {
        tokio::time::sleep_until(due).await;
        let now = Instant::now();
        due = match activity.idle_since() {
            Some(since) if now >= since + timeout => return,
            Some(since) => since + timeout,
            // Busy, or no request yet (the head timeout covers a silent client): look
            // again a timeout from now.
            None => now + timeout,
        };
    }
}

/// Completes when the connection has sent no request within `timeout` of opening (an
/// HTTP/2 connection's `header_timeout`: hyper's header read timeout is HTTP/1's alone).
pub(crate) async fn silent(activity: Arc<Activity>, timeout: Duration) {
    tokio::time::sleep(timeout).await;
    if activity.served.load(Ordering::Acquire) == 0 {
        return;
    }
    std::future::pending().await
}

/// Completes once the connection has begun as many requests as its cap (on HTTP/2,
/// `[server.http2] max_requests`, where no `Connection: close` exists: the connection
/// sends GOAWAY instead).
pub(crate) async fn used_up(activity: Arc<Activity>) {
    activity.used_up.notified().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_expires_a_timeout_after_its_last_response() {
        let activity = Activity::new(100);
        let timeout = Duration::from_secs(5);
        let expiry = tokio::spawn(idle_expired(activity.clone(), timeout));
        // No request yet: never idle, whatever the time.
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert!(!expiry.is_finished());
        // A request in flight for 7 s: still not idle.
        activity.begin();
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert!(!expiry.is_finished());
        activity.end();
        let ended = Instant::now();
        tokio::time::sleep(Duration::from_millis(4_900)).await;
        assert!(!expiry.is_finished(), "4.9 s after the response");
        expiry.await.expect("expires");
        let after = ended.elapsed();
        assert!(
            after >= timeout && after < timeout + Duration::from_millis(50),
            "{after:?}"
        );
    }

    #[test]
    fn the_last_request_is_counted() {
        let activity = Activity::new(2);
        assert!(!activity.begin());
        activity.end();
        assert!(activity.begin(), "the second of two");
        activity.end();
        activity.end(); // an extra end never wraps the count
        assert_eq!(activity.in_flight.load(Ordering::Relaxed), 0);
    }
}
