//! Server-Sent Events on hyper: the hub that the `publish` import feeds, and the body
//! every subscriber's response reads from.
//!
//! The rules — the wire format, the replay ring for `Last-Event-ID`, the bounds on
//! topics, replay and each subscriber's queue, the heartbeat schedule — are berth-core's
//! [`SseTable`], shared with the embedded runtime. What is left here is glue: a mutex
//! over the table, a hyper [`Body`] per subscriber that polls it (and leaves the table
//! when hyper drops it, so a subscriber goes with its connection), and the abort of a
//! connection whose subscriber fell behind: a client that stopped reading also leaves
//! hyper blocked on a full socket, where it would never poll the body to see the error.
//!
//! Events are written as soon as they are published: the body yields each one as its
//! own frame and hyper flushes the connection whenever the body has nothing more ready.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use berth_core::sse::{format_event, Heartbeat, SsePoll, SseSettings, SseTable, HEARTBEAT};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::body::BodyError;

/// Every topic, its recent events and its subscribers.
pub struct SseHub {
    table: Mutex<SseTable<Bytes>>,
    /// The connections to abort when their subscriber is dropped for falling behind.
    aborts: Mutex<HashMap<u64, Arc<Notify>>>,
    /// Heartbeat deadlines are milliseconds since this instant.
    epoch: Instant,
}

impl Default for SseHub {
    fn default() -> Self {
        SseHub::new(SseSettings::default())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every operation is a single table update: a panic cannot leave it torn.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SseHub {
    /// An empty hub.
    pub fn new(settings: SseSettings) -> SseHub {
        SseHub {
            table: Mutex::new(SseTable::new(settings)),
            aborts: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Queues an event for every subscriber of `topic` and keeps it for replay; returns
    /// how many subscribers it was queued for. Never blocks: a subscriber whose queue
    /// is full is dropped and its connection aborted.
    pub fn publish(&self, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
        let frame = Bytes::from(format_event(data, event, id));
        let size = frame.len();
        let published = lock(&self.table).publish(topic, frame, size, id);
        if !published.lagged.is_empty() {
            let aborts = lock(&self.aborts);
            for sub in &published.lagged {
                tracing::warn!(topic, "SSE subscriber dropped: it stopped reading");
                if let Some(abort) = aborts.get(sub) {
                    abort.notify_one();
                }
            }
        }
        published.reached
    }

    /// Subscribes to `topic`. With `last_event_id`, the events published after the one
    /// with that id are replayed first (all kept events when that id is no longer kept).
    pub fn subscribe(self: &Arc<Self>, topic: &str, last_event_id: Option<&str>) -> SseBody {
        let (id, replay) = match lock(&self.table).subscribe(topic, last_event_id) {
            Some((id, replay)) => (Some(id), replay),
            None => (None, Vec::new()),
        };
        let period = lock(&self.table).settings().heartbeat_ms;
        let heartbeat = Heartbeat::new(self.now_ms(), period);
        SseBody {
            hub: self.clone(),
            id,
            ready: replay.into(),
            sleep: Box::pin(tokio::time::sleep_until(self.at(heartbeat.deadline()))),
            heartbeat,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// The number of live subscribers of `topic` (for logs and tests).
    pub fn subscribers(&self, topic: &str) -> usize {
        lock(&self.table).subscribers(topic)
    }

    /// Live subscribers over all topics (the metrics' gauge).
    pub fn subscriber_count(&self) -> usize {
        lock(&self.table).subscriber_count()
    }

    /// The number of topics kept (for logs and tests).
    pub fn topics(&self) -> usize {
        lock(&self.table).topic_count()
    }

    /// Ends every subscription (their responses complete) and refuses new events: the
    /// server is stopping.
    pub fn close(&self) {
        lock(&self.table).close();
    }
}

/// The body of one subscriber's response: replayed events, then live ones, with
/// heartbeats in between. Ends when the hub closes; fails (aborting the connection)
/// when the hub dropped the subscriber for falling behind. Dropping it unsubscribes.
pub struct SseBody {
    hub: Arc<SseHub>,
    /// `None` when the hub was already closed.
    id: Option<u64>,
    /// Events taken from the table (or replayed) and not yet yielded.
    ready: VecDeque<Bytes>,
    heartbeat: Heartbeat,
    sleep: Pin<Box<Sleep>>,
}

impl SseBody {
    /// Notifies `abort` if the hub ever drops this subscriber for falling behind.
    pub fn abort_on_lag(&self, abort: Arc<Notify>) {
        if let Some(id) = self.id {
            lock(&self.hub.aborts).insert(id, abort);
        }
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            lock(&self.hub.table).unsubscribe(id);
            lock(&self.hub.aborts).remove(&id);
        }
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let Some(id) = this.id else {
            return Poll::Ready(None);
        };
        if this.ready.is_empty() {
            match lock(&this.hub.table).poll(id, cx) {
                Poll::Ready(SsePoll::Events(events)) => this.ready.extend(events),
                Poll::Ready(SsePoll::Lagged) => {
                    return Poll::Ready(Some(Err("SSE subscriber fell too far behind".into())));
                }
                Poll::Ready(SsePoll::Ended) => return Poll::Ready(None),
                Poll::Pending => {}
            }
        }
        if let Some(frame) = this.ready.pop_front() {
            this.heartbeat.reset(this.hub.now_ms());
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        let deadline = this.hub.at(this.heartbeat.deadline());
        if this.sleep.deadline() != deadline {
            this.sleep.as_mut().reset(deadline);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.heartbeat.reset(this.hub.now_ms());
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                HEARTBEAT.as_bytes(),
            )))));
        }
        Poll::Pending
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_body_leaves_and_its_topic_goes() {
        let hub = Arc::new(SseHub::new(SseSettings {
            replay: 0,
            ..SseSettings::default()
        }));
        let body = hub.subscribe("t", None);
        assert_eq!(hub.subscribers("t"), 1);
        assert_eq!(hub.publish("t", "x", None, None), 1);
        drop(body);
        assert_eq!(hub.subscribers("t"), 0);
        assert_eq!(hub.topics(), 0);
    }

    #[tokio::test]
    async fn replay_after_last_event_id() {
        let hub = Arc::new(SseHub::new(SseSettings {
            replay: 3,
            ..SseSettings::default()
        }));
        for i in 1..=4 {
            hub.publish("t", &format!("e{i}"), None, Some(&i.to_string()));
        }
        let body = hub.subscribe("t", Some("2"));
        assert_eq!(
            Vec::from(body.ready.clone()),
            vec![
                Bytes::from("id: 3\ndata: e3\n\n"),
                Bytes::from("id: 4\ndata: e4\n\n")
            ]
        );
    }
}
