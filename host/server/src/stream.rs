//! Streamed bodies (`Response::stream`): chunked transfer encoding, pulled from the
//! guest chunk by chunk.
//!
//! The body owns the pinned instance that holds the guest's iterator (see
//! [`invoker`](crate::invoker)) and calls `next-chunk` only when hyper asks for the next
//! frame, that is once the previous chunk has been handed to the connection: the host
//! holds at most one chunk per stream. At the end of the stream the instance goes back
//! to the pool; when a call fails it is dropped and the connection is aborted (so the
//! client sees a broken transfer, never a truncated body passed off as complete); when
//! the client goes away first, the instance is dropped with its abandoned iterator.
//!
//! When to pull and when to give up is berth-core's [`StreamPull`], shared with the
//! embedded runtime: the plugin's pacing (`berth-chunk-interval-ms`, stripped by
//! `finalise`), a pause after an empty chunk instead of a hot retry, and the
//! `stream_timeout` budget, past which the body is aborted and the instance dropped.
//! Every pause is a tokio timer, never a busy guest.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use berth_core::engine::{CallError, Instance};
use berth_core::stream_pull::{Pulled, Step, StreamPull};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BodyError;
use crate::pool::Pool;

/// A `next-chunk` call in flight. It owns the instance while it runs (a future cannot
/// borrow from the body that stores it) and hands it back with the chunk.
type Call =
    Pin<Box<dyn Future<Output = (Box<dyn Instance>, Result<Option<Vec<u8>>, CallError>)> + Send>>;

/// A streamed body, pulled from a pinned guest instance.
pub struct ChunkBody {
    /// The pool of the plugin that returned the stream: the one the instance goes back
    /// to, even when a swap has replaced that plugin since.
    pool: Arc<Pool>,
    stream: u32,
    // A body must be `Sync`; instances and calls are only `Send`. The body is only ever
    // touched through `&mut self`, so `Mutex::get_mut` reaches them without locking.
    instance: Mutex<Option<Box<dyn Instance>>>,
    /// The call producing the next chunk, while the guest computes it.
    call: Mutex<Option<Call>>,
    done: bool,
    /// The instant `pull`'s clock counts from (its 0 ms).
    origin: Instant,
    pull: StreamPull,
    pause: Option<Pin<Box<Sleep>>>,
}

impl ChunkBody {
    /// The body of stream `stream` of `instance`, which belongs to `pool`.
    pub fn new(
        pool: Arc<Pool>,
        stream: u32,
        instance: Box<dyn Instance>,
        pull: StreamPull,
    ) -> ChunkBody {
        ChunkBody {
            pool,
            stream,
            instance: Mutex::new(Some(instance)),
            call: Mutex::new(None),
            done: false,
            origin: Instant::now(),
            pull,
            pause: None,
        }
    }
}

impl Body for ChunkBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if let Some(pause) = this.pause.as_mut() {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.pause = None;
            }
            let now = this.origin.elapsed().as_millis() as u64;
            match this.pull.next(now) {
                Step::Pull => {}
                Step::WaitUntil(at) => {
                    let at = this.origin + Duration::from_millis(at);
                    this.pause = Some(Box::pin(tokio::time::sleep_until(at)));
                    continue;
                }
                Step::Expired => {
                    let slot = this.instance.get_mut().unwrap_or_else(|p| p.into_inner());
                    let call = this.call.get_mut().unwrap_or_else(|p| p.into_inner());
                    (*slot, *call, this.done) = (None, None, true);
                    tracing::warn!("a streamed body ran past stream_timeout; aborted");
                    return Poll::Ready(Some(Err("stream_timeout".into())));
                }
            }
            let call = this.call.get_mut().unwrap_or_else(|p| p.into_inner());
            let slot = this.instance.get_mut().unwrap_or_else(|p| p.into_inner());
            let pool = &this.pool;
            if call.is_none() {
                let Some(mut instance) = slot.take() else {
                    this.done = true;
                    return Poll::Ready(None);
                };
                let stream = this.stream;
                let metered = pool.clone();
                *call = Some(Box::pin(async move {
                    let started = std::time::Instant::now();
                    let chunk = instance.next_chunk(stream).await;
                    metered.record(crate::metrics::Entry::Chunk, started, &chunk);
                    (instance, chunk)
                }));
            }
            // Inline, like every other plugin call of a request: `next-chunk` yields while
            // the guest computes, and a typical chunk takes microseconds.
            let Some(running) = call.as_mut() else {
                return Poll::Pending;
            };
            let Poll::Ready((instance, chunk)) = running.as_mut().poll(cx) else {
                return Poll::Pending;
            };
            *call = None;
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    pool.report_failure(&e);
                    this.done = true;
                    return Poll::Ready(Some(Err(format!("stream failed: {e}").into())));
                }
            };
            *slot = Some(instance);
            let now = this.origin.elapsed().as_millis() as u64;
            match (this.pull.pulled(now, chunk.as_ref().map(Vec::len)), chunk) {
                // Nothing this time: the policy pauses before asking again.
                (Pulled::Empty, _) => continue,
                (Pulled::Chunk, Some(chunk)) => {
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))));
                }
                (Pulled::Chunk | Pulled::End, _) => {
                    if let Some(instance) = slot.take() {
                        pool.checkin(instance);
                    }
                    this.done = true;
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Drop for ChunkBody {
    fn drop(&mut self) {
        let slot = self.instance.get_mut().unwrap_or_else(|p| p.into_inner());
        let call = self.call.get_mut().unwrap_or_else(|p| p.into_inner());
        if slot.take().is_some() || call.take().is_some() {
            tracing::debug!(
                plugin = self.pool.name(),
                "stream abandoned before its end; its instance is dropped"
            );
        }
    }
}
