//! Server-Sent Events: the hub that the `publish` import feeds, and the body every
//! subscriber's response reads from.
//!
//! A route answers `Response::sse(topic)`; the host keeps that connection and writes
//! every event any plugin publishes to `topic`. Each topic keeps its last
//! [`SseConfig::replay`] events, so a client that reconnects with `Last-Event-ID` gets
//! what it missed. Each subscriber has a queue of [`SseConfig::queue`] events: one that
//! falls that far behind (a client that stopped reading) is dropped — its connection is
//! aborted — instead of being buffered for without bound. Idle subscribers get a comment
//! line every [`SseConfig::heartbeat`] so proxies keep the connection open.
//!
//! Events are written as soon as they are published: the body yields each one as its
//! own frame and hyper flushes the connection whenever the body has nothing more ready.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::config::SseConfig;
use crate::http::BodyError;

/// Every topic, its recent events and its subscribers.
pub struct SseHub {
    settings: SseConfig,
    topics: Mutex<HashMap<String, Topic>>,
    closed: AtomicBool,
}

impl Default for SseHub {
    fn default() -> Self {
        SseHub::new(SseConfig::default())
    }
}

#[derive(Default)]
struct Topic {
    recent: VecDeque<Recent>,
    subscribers: Vec<Subscriber>,
}

struct Recent {
    id: Option<String>,
    frame: Bytes,
}

struct Subscriber {
    tx: mpsc::Sender<Bytes>,
    /// Set when the hub dropped this subscriber for falling behind.
    lagged: Arc<Lag>,
}

/// Whether a subscriber was dropped for falling behind, and whom to tell at once.
#[derive(Default)]
struct Lag {
    flag: AtomicBool,
    /// The subscriber's connection: a client that stopped reading also leaves hyper
    /// blocked on a full socket, where it would never poll the body to see the error,
    /// so the connection is told directly and closes.
    abort: Mutex<Option<Arc<tokio::sync::Notify>>>,
}

impl Lag {
    fn set(&self) {
        self.flag.store(true, Ordering::Relaxed);
        if let Some(abort) = self
            .abort
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            abort.notify_one();
        }
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

impl SseHub {
    /// An empty hub.
    pub fn new(settings: SseConfig) -> SseHub {
        SseHub {
            settings,
            topics: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<String, Topic>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event for every subscriber of `topic` and keeps it for replay; returns
    /// how many subscribers it was queued for. Never blocks: a subscriber whose queue
    /// is full is dropped.
    pub fn publish(&self, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
        if self.closed.load(Ordering::Relaxed) {
            return 0;
        }
        let frame = Bytes::from(format_event(data, event, id));
        let mut topics = self.topics();
        let entry = topics.entry(topic.to_string()).or_default();
        if self.settings.replay > 0 {
            if entry.recent.len() == self.settings.replay {
                entry.recent.pop_front();
            }
            entry.recent.push_back(Recent {
                id: id.map(clean_field),
                frame: frame.clone(),
            });
        }
        let mut reached = 0;
        entry
            .subscribers
            .retain(|s| match s.tx.try_send(frame.clone()) {
                Ok(()) => {
                    reached += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.lagged.set();
                    tracing::warn!(topic, "SSE subscriber dropped: it stopped reading");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        reached
    }

    /// Subscribes to `topic`. With `last_event_id`, the events published after the one
    /// with that id are replayed first (all kept events when that id is no longer kept).
    pub fn subscribe(&self, topic: &str, last_event_id: Option<&str>) -> SseBody {
        let (tx, rx) = mpsc::channel(self.settings.queue);
        let lagged = Arc::new(Lag::default());
        let mut replay = VecDeque::new();
        if !self.closed.load(Ordering::Relaxed) {
            let mut topics = self.topics();
            let entry = topics.entry(topic.to_string()).or_default();
            if let Some(last) = last_event_id {
                let last = clean_field(last);
                let after = entry
                    .recent
                    .iter()
                    .rposition(|r| r.id.as_deref() == Some(last.as_str()))
                    .map_or(0, |at| at + 1);
                replay.extend(entry.recent.iter().skip(after).map(|r| r.frame.clone()));
            }
            entry.subscribers.push(Subscriber {
                tx,
                lagged: lagged.clone(),
            });
        }
        let period = self.settings.heartbeat;
        let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        SseBody {
            replay,
            rx,
            heartbeat,
            lagged,
        }
    }

    /// The number of live subscribers of `topic` (for logs and tests).
    pub fn subscribers(&self, topic: &str) -> usize {
        self.topics().get(topic).map_or(0, |t| {
            t.subscribers.iter().filter(|s| !s.tx.is_closed()).count()
        })
    }

    /// Ends every subscription (their responses complete) and refuses new events: the
    /// server is stopping.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.topics().clear();
    }
}

/// Removes what would break the line-based format: CR, LF and NUL.
fn clean_field(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .collect()
}

/// One event in the `text/event-stream` format: `id:` and `event:` lines when given,
/// one `data:` line per line of `data`, and the blank line that ends the event.
pub fn format_event(data: &str, event: Option<&str>, id: Option<&str>) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(&clean_field(id));
        out.push('\n');
    }
    if let Some(event) = event {
        out.push_str("event: ");
        out.push_str(&clean_field(event));
        out.push('\n');
    }
    let data = data.replace("\r\n", "\n").replace('\r', "\n");
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The comment line idle subscribers get (clients ignore it).
const HEARTBEAT: &[u8] = b": heartbeat\n\n";

/// The body of one subscriber's response: replayed events, then live ones, with
/// heartbeats in between. Ends when the hub closes; fails (aborting the connection)
/// when the hub dropped the subscriber for falling behind.
pub struct SseBody {
    replay: VecDeque<Bytes>,
    rx: mpsc::Receiver<Bytes>,
    heartbeat: Interval,
    lagged: Arc<Lag>,
}

impl SseBody {
    /// Notifies `abort` if the hub ever drops this subscriber for falling behind.
    pub fn abort_on_lag(&self, abort: Arc<tokio::sync::Notify>) {
        *self.lagged.abort.lock().unwrap_or_else(|p| p.into_inner()) = Some(abort);
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
        if let Some(frame) = this.replay.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(frame)) => {
                this.heartbeat.reset();
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            Poll::Ready(None) if this.lagged.is_set() => {
                return Poll::Ready(Some(Err("SSE subscriber fell too far behind".into())));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        if this.heartbeat.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(HEARTBEAT)))));
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

    #[test]
    fn event_format() {
        assert_eq!(format_event("x", None, None), "data: x\n\n");
        assert_eq!(
            format_event("a\nb\r\nc", Some("temp\n"), Some("7")),
            "id: 7\nevent: temp\ndata: a\ndata: b\ndata: c\n\n"
        );
    }

    #[tokio::test]
    async fn replay_after_last_event_id_and_drop_laggards() {
        let hub = SseHub::new(SseConfig {
            replay: 3,
            queue: 2,
            ..SseConfig::default()
        });
        for i in 1..=4 {
            hub.publish("t", &format!("e{i}"), None, Some(&i.to_string()));
        }
        // Only 2, 3 and 4 are kept; after 2 come 3 and 4.
        let body = hub.subscribe("t", Some("2"));
        let replayed: Vec<Bytes> = body.replay.iter().cloned().collect();
        assert_eq!(
            replayed,
            vec![
                Bytes::from("id: 3\ndata: e3\n\n"),
                Bytes::from("id: 4\ndata: e4\n\n")
            ]
        );
        // An id no longer kept replays everything kept.
        assert_eq!(hub.subscribe("t", Some("1")).replay.len(), 3);
        drop(hub.subscribe("u", None));

        let slow = hub.subscribe("s", None);
        assert_eq!(hub.publish("s", "1", None, None), 1);
        assert_eq!(hub.publish("s", "2", None, None), 1);
        assert_eq!(hub.publish("s", "3", None, None), 0, "queue full: dropped");
        assert!(slow.lagged.is_set());
        assert_eq!(hub.subscribers("s"), 0);
    }
}
