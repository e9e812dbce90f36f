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
//! A plugin may ask for a pause before each chunk after the first with the response
//! header `berth-chunk-interval-ms` (the SDK's `Response::chunk_interval`); the host
//! strips it. That is how seed 002's `await asyncio.sleep(0.5)` between chunks is
//! expressed without blocking anything: the pause is a timer, not a busy guest.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use berth_core::engine::{CallError, Instance};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use crate::http::BodyError;
use crate::Shared;

/// The response header through which a plugin paces its stream.
pub const CHUNK_INTERVAL_HEADER: &str = "berth-chunk-interval-ms";

/// The longest pause between chunks a plugin may ask for.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// Parses the pacing header's value.
pub fn chunk_interval(value: Option<&str>) -> Option<Duration> {
    let ms: u64 = value?.trim().parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms).min(MAX_INTERVAL))
}

/// A `next-chunk` call in flight. It owns the instance while it runs (a future cannot
/// borrow from the body that stores it) and hands it back with the chunk.
type Pull =
    Pin<Box<dyn Future<Output = (Box<dyn Instance>, Result<Option<Vec<u8>>, CallError>)> + Send>>;

/// A streamed body, pulled from a pinned guest instance.
pub struct ChunkBody {
    shared: Arc<Shared>,
    plugin: usize,
    stream: u32,
    // A body must be `Sync`; instances and calls are only `Send`. The body is only ever
    // touched through `&mut self`, so `Mutex::get_mut` reaches them without locking.
    instance: Mutex<Option<Box<dyn Instance>>>,
    /// The call producing the next chunk, while the guest computes it.
    pull: Mutex<Option<Pull>>,
    done: bool,
    interval: Option<Duration>,
    pause: Option<Pin<Box<Sleep>>>,
}

impl ChunkBody {
    /// The body of stream `stream` of `instance`, which belongs to plugin `plugin`.
    pub fn new(
        shared: Arc<Shared>,
        plugin: usize,
        stream: u32,
        instance: Box<dyn Instance>,
        interval: Option<Duration>,
    ) -> ChunkBody {
        ChunkBody {
            shared,
            plugin,
            stream,
            instance: Mutex::new(Some(instance)),
            pull: Mutex::new(None),
            done: false,
            interval,
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
        if let Some(pause) = this.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
        }
        let pull = this.pull.get_mut().unwrap_or_else(|p| p.into_inner());
        let slot = this.instance.get_mut().unwrap_or_else(|p| p.into_inner());
        let Some(pool) = this.shared.pools.get(this.plugin) else {
            (*slot, *pull, this.done) = (None, None, true);
            return Poll::Ready(Some(Err("stream of an unknown plugin".into())));
        };
        if pull.is_none() {
            let Some(mut instance) = slot.take() else {
                this.done = true;
                return Poll::Ready(None);
            };
            let stream = this.stream;
            *pull = Some(Box::pin(async move {
                let chunk = instance.next_chunk(stream).await;
                (instance, chunk)
            }));
        }
        // Inline, like every other plugin call of a request: `next-chunk` yields while
        // the guest computes, and a typical chunk takes microseconds.
        let Some(call) = pull.as_mut() else {
            return Poll::Pending;
        };
        let Poll::Ready((instance, chunk)) = call.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        *pull = None;
        match chunk {
            Ok(Some(chunk)) if chunk.is_empty() => {
                // Nothing this time: yield to other tasks, then ask again.
                *slot = Some(instance);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Ok(Some(chunk)) => {
                *slot = Some(instance);
                if let Some(interval) = this.interval {
                    this.pause = Some(Box::pin(tokio::time::sleep(interval)));
                }
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
            Ok(None) => {
                pool.checkin(instance);
                this.done = true;
                Poll::Ready(None)
            }
            Err(e) => {
                pool.report_failure(&e);
                this.done = true;
                Poll::Ready(Some(Err(format!("stream failed: {e}").into())))
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
        let pull = self
            .pull
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let slot = self.instance.get_mut().unwrap_or_else(|p| p.into_inner());
        if slot.take().is_some() || pull.is_some() {
            tracing::debug!(
                plugin = self.shared.pools.get(self.plugin).map(|p| p.name()),
                "stream abandoned before its end; its instance is dropped"
            );
        }
    }
}
