//! Server-Sent Events, once for both runtimes: the wire format, the topic table with
//! its replay ring for `Last-Event-ID`, each subscriber's bounded queue, and the
//! heartbeat schedule. The runtimes keep only the socket (or hyper body) and a timer.
//!
//! Everything a plugin or a client can make this hold is bounded:
//! - a topic lives only while it has a subscriber or replay left, and at most
//!   [`SseSettings::max_topics`] exist: past that, an event for a new topic reaches no
//!   one and is not kept (a plugin publishing to random topics cannot grow the host);
//! - each topic keeps at most [`SseSettings::replay`] events and
//!   [`SseSettings::replay_bytes`] bytes for replay, dropping the oldest first;
//! - each subscriber queues at most [`SseSettings::queue`] events and
//!   [`SseSettings::queue_bytes`] bytes; one that falls further behind (a client that
//!   stopped reading) is dropped, not buffered for;
//! - a subscriber leaves when its connection does ([`SseTable::unsubscribe`]).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::task::{Context, Poll};

use crate::ws_registry::{Queue, ITEM_OVERHEAD};

/// How the SSE table is sized, and how often idle subscribers hear a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseSettings {
    /// Milliseconds between comment lines to an idle subscriber (`[sse] heartbeat`).
    pub heartbeat_ms: u64,
    /// Events kept per topic for replay (`[sse] replay`).
    pub replay: usize,
    /// Bytes kept per topic for replay (`[limits] sse_replay_bytes`).
    pub replay_bytes: usize,
    /// Events queued per subscriber (`[sse] queue`).
    pub queue: usize,
    /// Bytes queued per subscriber (`[limits] ws_send_queue`, as for a WebSocket).
    pub queue_bytes: usize,
    /// Topics kept at once (`[limits] sse_max_topics`).
    pub max_topics: usize,
}

impl Default for SseSettings {
    fn default() -> Self {
        let limits = crate::limits::Limits::default();
        SseSettings {
            heartbeat_ms: 15_000,
            replay: 100,
            replay_bytes: limits.sse_replay_bytes,
            queue: 64,
            queue_bytes: limits.ws_send_queue,
            max_topics: limits.sse_max_topics,
        }
    }
}

/// The comment line idle subscribers get (clients ignore it).
pub const HEARTBEAT: &str = ": heartbeat\n\n";

/// Removes what would break a line-based field: CR, LF and NUL.
pub fn clean_field(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .collect()
}

/// One event in the `text/event-stream` format: `id:` and `event:` lines when given
/// (line breaks removed: they would start new fields), one `data:` line per line of
/// `data` — where a bare CR, a bare LF and CRLF all end a line, as the SSE parser on
/// the other side reads them — and the blank line that ends the event.
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
    let mut rest = data;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        out.push_str("data: ");
        out.push_str(&rest[..end]);
        out.push('\n');
        if end == rest.len() {
            break;
        }
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
    }
    out.push('\n');
    out
}

/// When an idle subscriber is due a heartbeat: `period` after the last thing it got.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    period_ms: u64,
    next_ms: u64,
}

impl Heartbeat {
    /// A schedule whose first beat is one period after `now`.
    pub fn new(now_ms: u64, period_ms: u64) -> Heartbeat {
        let period_ms = period_ms.max(1);
        Heartbeat {
            period_ms,
            next_ms: now_ms.saturating_add(period_ms),
        }
    }

    /// When the next beat is due.
    pub fn deadline(&self) -> u64 {
        self.next_ms
    }

    /// Something was sent at `now`: the next beat is a period later.
    pub fn reset(&mut self, now_ms: u64) {
        self.next_ms = now_ms.saturating_add(self.period_ms);
    }

    /// Whether a beat is due at `now`; if so, the next one is scheduled.
    pub fn due(&mut self, now_ms: u64) -> bool {
        if now_ms < self.next_ms {
            return false;
        }
        self.reset(now_ms);
        true
    }
}

struct Kept<F> {
    id: Option<String>,
    frame: F,
    size: usize,
}

struct Topic<F> {
    replay: VecDeque<Kept<F>>,
    replay_bytes: usize,
    subscribers: BTreeSet<u64>,
}

impl<F> Default for Topic<F> {
    fn default() -> Self {
        Topic {
            replay: VecDeque::new(),
            replay_bytes: 0,
            subscribers: BTreeSet::new(),
        }
    }
}

impl<F> Topic<F> {
    fn is_idle(&self) -> bool {
        self.subscribers.is_empty() && self.replay.is_empty()
    }
}

struct Subscriber<F> {
    topic: String,
    queue: Queue<F>,
    /// Dropped from its topic for falling behind.
    lagged: bool,
}

/// What a subscriber's writer gets from [`SseTable::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsePoll<F> {
    /// Events to write, in order.
    Events(Vec<F>),
    /// It fell too far behind and was dropped: end the response abruptly.
    Lagged,
    /// The server is stopping (or the subscription is gone): end the response.
    Ended,
}

/// What [`SseTable::publish`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Subscribers the event was queued for.
    pub reached: u32,
    /// Subscribers dropped for falling behind: their connections should be aborted.
    pub lagged: Vec<u64>,
}

/// Every topic, its replay ring and its subscribers. `F` is a runtime's event frame.
pub struct SseTable<F> {
    settings: SseSettings,
    topics: BTreeMap<String, Topic<F>>,
    subs: BTreeMap<u64, Subscriber<F>>,
    next_id: u64,
    closed: bool,
}

impl<F: Clone> SseTable<F> {
    /// An empty table.
    pub fn new(settings: SseSettings) -> SseTable<F> {
        SseTable {
            settings,
            topics: BTreeMap::new(),
            subs: BTreeMap::new(),
            next_id: 1,
            closed: false,
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &SseSettings {
        &self.settings
    }

    /// Queues `frame` (an event of `size` bytes, id `id`) for every subscriber of
    /// `topic` and keeps it for replay.
    pub fn publish(&mut self, topic: &str, frame: F, size: usize, id: Option<&str>) -> Published {
        let mut out = Published::default();
        if self.closed {
            return out;
        }
        if !self.topics.contains_key(topic) && self.topics.len() >= self.settings.max_topics {
            return out;
        }
        let s = self.settings;
        let entry = self.topics.entry(topic.to_string()).or_default();
        for sub_id in entry.subscribers.iter() {
            let Some(sub) = self.subs.get_mut(sub_id) else {
                continue;
            };
            let room = sub.queue.len() < s.queue;
            if room && sub.queue.push(frame.clone(), size, s.queue_bytes) {
                out.reached += 1;
            } else {
                sub.lagged = true;
                sub.queue.clear();
                sub.queue.wake();
                out.lagged.push(*sub_id);
            }
        }
        for id in &out.lagged {
            entry.subscribers.remove(id);
        }
        let cost = size.saturating_add(ITEM_OVERHEAD);
        if s.replay > 0 && cost <= s.replay_bytes {
            entry.replay.push_back(Kept {
                id: id.map(clean_field),
                frame,
                size: cost,
            });
            entry.replay_bytes += cost;
            while entry.replay.len() > s.replay || entry.replay_bytes > s.replay_bytes {
                if let Some(old) = entry.replay.pop_front() {
                    entry.replay_bytes -= old.size;
                }
            }
        }
        if entry.is_idle() {
            self.topics.remove(topic);
        }
        out
    }

    /// Subscribes to `topic`; returns the subscription's id and, with `last_event_id`,
    /// the kept events published after the one with that id (all of them when that id
    /// is no longer kept). `None` once the table is closed.
    pub fn subscribe(&mut self, topic: &str, last_event_id: Option<&str>) -> Option<(u64, Vec<F>)> {
        if self.closed {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        // Subscribers are bounded by connections, so they may open a topic past the cap.
        let entry = self.topics.entry(topic.to_string()).or_default();
        let mut replay = Vec::new();
        if let Some(last) = last_event_id {
            let last = clean_field(last);
            let after = entry
                .replay
                .iter()
                .rposition(|k| k.id.as_deref() == Some(last.as_str()))
                .map_or(0, |at| at + 1);
            replay.extend(entry.replay.iter().skip(after).map(|k| k.frame.clone()));
        }
        entry.subscribers.insert(id);
        let sub = Subscriber {
            topic: topic.to_string(),
            queue: Queue::default(),
            lagged: false,
        };
        self.subs.insert(id, sub);
        Some((id, replay))
    }

    /// Ends a subscription (its connection is gone); its topic goes too when nothing
    /// is left in it.
    pub fn unsubscribe(&mut self, id: u64) {
        let Some(sub) = self.subs.remove(&id) else {
            return;
        };
        if let Some(topic) = self.topics.get_mut(&sub.topic) {
            topic.subscribers.remove(&id);
            if topic.is_idle() {
                self.topics.remove(&sub.topic);
            }
        }
    }

    /// What subscription `id` should write next. `Pending` registers the waker.
    pub fn poll(&mut self, id: u64, cx: &Context<'_>) -> Poll<SsePoll<F>> {
        let Some(sub) = self.subs.get_mut(&id) else {
            return Poll::Ready(SsePoll::Ended);
        };
        if sub.lagged {
            return Poll::Ready(SsePoll::Lagged);
        }
        if !sub.queue.is_empty() {
            return Poll::Ready(SsePoll::Events(sub.queue.take()));
        }
        if self.closed {
            return Poll::Ready(SsePoll::Ended);
        }
        sub.queue.register(cx);
        Poll::Pending
    }

    /// Ends every subscription (their responses complete) and refuses new events: the
    /// server is stopping.
    pub fn close(&mut self) {
        self.closed = true;
        self.topics.clear();
        for sub in self.subs.values_mut() {
            sub.queue.wake();
        }
    }

    /// Topics kept right now.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Live subscribers of `topic`.
    pub fn subscribers(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, |t| t.subscribers.len())
    }

    /// Live subscribers over all topics.
    pub fn subscriber_count(&self) -> usize {
        self.topics.values().map(|t| t.subscribers.len()).sum()
    }

    /// Replay bytes kept over all topics.
    pub fn replay_bytes(&self) -> usize {
        self.topics.values().map(|t| t.replay_bytes).sum()
    }
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
