//! The stream-pull policy: when the host asks a guest for the next chunk of a
//! `stream` body, and when it gives up.
//!
//! A streamed body is pulled from the guest with `next-chunk`, one chunk at a time, only
//! when the previous one has been handed to the connection. The runtimes differ in how
//! they wait (a tokio timer in the server, the platform's `sleep_until` on the single
//! embedded loop), so this module only decides; [`StreamPull`] is a small state machine
//! over milliseconds that both drive:
//!
//! - **pacing**: a plugin may ask for a pause before each chunk after the first with
//!   [`CHUNK_INTERVAL_HEADER`] (at most [`MAX_INTERVAL_MS`]); the pause is a timer, not a
//!   busy guest — that is how seed 002's `await asyncio.sleep(0.5)` is expressed;
//! - **an empty chunk** means "nothing yet": the host waits [`EMPTY_CHUNK_PAUSE_MS`] before
//!   asking again, so a guest that keeps answering empty never spins the loop (on the
//!   embedded runtime, where every connection shares one loop, it froze the server);
//! - **a total budget** (`stream_timeout` in `[limits]`): a stream still running past it
//!   is cut off like a failed one — the connection is aborted, so the client sees a
//!   broken transfer, never a short body passed off as complete;
//! - **release**: a stream that will not be pulled to its end (HEAD, a bodiless status,
//!   a failed write, the client gone, the budget spent) must release the guest instance
//!   holding its iterator at once, never keep it for a next request.

use crate::respond::CHUNK_INTERVAL_HEADER;

/// The longest pause between chunks a plugin may ask for, ms.
pub const MAX_INTERVAL_MS: u64 = 60_000;

/// How long the host waits after an empty chunk before asking again, ms.
pub const EMPTY_CHUNK_PAUSE_MS: u64 = 5;

/// Parses the pacing header's value: whole milliseconds, 0 or garbage meaning none.
pub fn chunk_interval(value: Option<&str>) -> Option<u64> {
    let ms: u64 = value?.trim().parse().ok()?;
    (ms > 0).then_some(ms.min(MAX_INTERVAL_MS))
}

/// What to do next with a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ask the guest for the next chunk now.
    Pull,
    /// Wait until this instant (ms, the runtime's clock), then ask [`StreamPull::next`] again.
    WaitUntil(u64),
    /// The stream's budget is spent: abort the body and release the instance.
    Expired,
}

/// What the guest's answer to `next-chunk` amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// Write this (non-empty) chunk.
    Chunk,
    /// Nothing this time: write nothing, wait, ask again.
    Empty,
    /// The stream is over: write the last chunk; the instance may be reused.
    End,
}

/// One stream's pacing and budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPull {
    interval_ms: Option<u64>,
    deadline_ms: u64,
    next_at_ms: u64,
}

impl StreamPull {
    /// A stream starting at `now_ms`, paced by the response's pacing header (read it
    /// before [`crate::respond::finalise`] strips it) and cut off after `budget_ms`
    /// (`stream_timeout`; 0 means no budget).
    pub fn new(interval_header: Option<&str>, now_ms: u64, budget_ms: u64) -> StreamPull {
        StreamPull {
            interval_ms: chunk_interval(interval_header),
            deadline_ms: if budget_ms == 0 {
                u64::MAX
            } else {
                now_ms.saturating_add(budget_ms)
            },
            next_at_ms: now_ms,
        }
    }

    /// The same, reading the pacing header from a response's headers.
    pub fn for_headers(
        headers: &[(alloc::string::String, alloc::string::String)],
        now_ms: u64,
        budget_ms: u64,
    ) -> StreamPull {
        let interval = crate::model::find_pair(headers, CHUNK_INTERVAL_HEADER);
        StreamPull::new(interval, now_ms, budget_ms)
    }

    /// The pacing the plugin asked for, ms.
    pub fn interval_ms(&self) -> Option<u64> {
        self.interval_ms
    }

    /// Whether to pull now, wait, or give up.
    pub fn next(&self, now_ms: u64) -> Step {
        if now_ms >= self.deadline_ms {
            Step::Expired
        } else if now_ms < self.next_at_ms {
            Step::WaitUntil(self.next_at_ms.min(self.deadline_ms))
        } else {
            Step::Pull
        }
    }

    /// Records the guest's answer at `now_ms` (`None`: the stream ended; `Some(len)`: a
    /// chunk of `len` bytes) and says what it means.
    pub fn pulled(&mut self, now_ms: u64, chunk_len: Option<usize>) -> Pulled {
        match chunk_len {
            None => Pulled::End,
            Some(0) => {
                self.next_at_ms = now_ms.saturating_add(EMPTY_CHUNK_PAUSE_MS);
                Pulled::Empty
            }
            Some(_) => {
                self.next_at_ms = now_ms.saturating_add(self.interval_ms.unwrap_or(0));
                Pulled::Chunk
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_header() {
        assert_eq!(chunk_interval(Some(" 500 ")), Some(500));
        assert_eq!(chunk_interval(Some("0")), None);
        assert_eq!(chunk_interval(Some("-3")), None);
        assert_eq!(chunk_interval(Some("x")), None);
        assert_eq!(chunk_interval(None), None);
        assert_eq!(chunk_interval(Some("99999999")), Some(MAX_INTERVAL_MS));
    }

    #[test]
    fn paced_stream_waits_between_chunks_not_before_the_first() {
        let mut s = StreamPull::new(Some("100"), 1_000, 0);
        assert_eq!(s.next(1_000), Step::Pull);
        assert_eq!(s.pulled(1_002, Some(3)), Pulled::Chunk);
        assert_eq!(s.next(1_050), Step::WaitUntil(1_102));
        assert_eq!(s.next(1_102), Step::Pull);
        assert_eq!(s.pulled(1_103, None), Pulled::End);
    }

    #[test]
    fn empty_chunks_always_wait_even_unpaced() {
        let mut s = StreamPull::new(None, 0, 0);
        for t in 0..100u64 {
            let now = t * EMPTY_CHUNK_PAUSE_MS;
            assert_eq!(s.next(now), Step::Pull);
            assert_eq!(s.pulled(now, Some(0)), Pulled::Empty);
            assert_eq!(s.next(now), Step::WaitUntil(now + EMPTY_CHUNK_PAUSE_MS));
        }
        assert_eq!(s.pulled(0, Some(1)), Pulled::Chunk);
        assert_eq!(s.next(0), Step::Pull, "an unpaced chunk does not wait");
    }

    #[test]
    fn the_budget_cuts_a_stream_and_bounds_every_wait() {
        let mut s = StreamPull::new(Some("60000"), 0, 250);
        assert_eq!(s.next(0), Step::Pull);
        s.pulled(10, Some(1));
        assert_eq!(s.next(20), Step::WaitUntil(250), "no wait past the budget");
        assert_eq!(s.next(250), Step::Expired);
        let unlimited = StreamPull::new(None, u64::MAX - 5, 0);
        assert_eq!(unlimited.next(u64::MAX - 1), Step::Pull);
    }
}
