//! The [`Invoker`] that HTTP requests run through: [`PoolInvoker`](crate::pool::PoolInvoker)'s
//! calls, plus a memory of who produced a body that is not in memory.
//!
//! - `Body::Stream(id)` names an iterator that lives inside the guest instance that
//!   returned it. That instance is *pinned*: kept out of the pool so no other request
//!   can use (or reset) it, and handed to the response body, which calls `next-chunk` on
//!   it until the stream ends and then returns it to the pool.
//! - `Body::File(path)` is resolved against the folders granted to the plugin that
//!   returned it, so the server must know which plugin that was.
//!
//! Every call of one request runs within the request's budget (`request_timeout`): a
//! call still running when it is spent is cut off with 504, like one past its own
//! `plugin_timeout`, and no later call starts.
//!
//! After-middleware that passes a response through returns the same body, which keeps
//! its origin. A middleware that replaces a streamed body abandons the stream: its
//! pinned instance is dropped (its guest-side state holds the abandoned iterator).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use berth_core::engine::{CallError, Instance};
use berth_core::model::{BeforeOutcome, Body, Event, EventOutcome, Request, Response};
use berth_core::pipeline::{Invoker, Target};

use tokio::time::Instant;
use tracing::Instrument;

use crate::metrics::Entry;
use crate::pool::Pool;

/// Which plugin produced the final body, and the instance a stream needs.
pub struct Origin {
    /// Index of the plugin (and of its pool) in the request's snapshot.
    pub plugin: usize,
    /// Its pool: a stream goes on pulling from it even after a swap replaced it.
    pub pool: Arc<Pool>,
    /// The body it produced.
    body: Body,
    /// For `Body::Stream`: the pinned instance holding the iterator.
    pub instance: Option<Box<dyn Instance>>,
}

/// Calls plugins through their pools, within the request's budget, and tracks the
/// origin of non-bytes bodies.
pub struct TrackingInvoker<'a> {
    pools: &'a [Arc<Pool>],
    origin: Option<Origin>,
    /// When the request's plugin calls together must be done (`request_timeout`).
    deadline: Instant,
    /// The route handler the request reached, if it reached one (the metrics' labels).
    pub routed: Option<Target>,
}

impl<'a> TrackingInvoker<'a> {
    /// An invoker over the app's pools (pool `i` belongs to plugin `i`) whose calls
    /// together may take `budget`.
    pub fn new(pools: &'a [Arc<Pool>], budget: Duration) -> TrackingInvoker<'a> {
        TrackingInvoker {
            pools,
            origin: None,
            deadline: Instant::now() + budget,
            routed: None,
        }
    }

    /// Ends a call: a failed one drops its instance; when the response it yields carries
    /// a new non-bytes body, records the plugin (and pins the instance for a stream).
    fn track<R>(
        &mut self,
        to: Target,
        pool: &Arc<Pool>,
        instance: Box<dyn Instance>,
        result: Result<R, CallError>,
        previous: Option<&Body>,
        body_of: impl Fn(&R) -> Option<&Body>,
    ) -> Result<R, CallError> {
        let result = match result {
            Ok(r) => r,
            Err(e) => return pool.finish(instance, Err(e)),
        };
        let body = body_of(&result)
            .filter(|b| !matches!(b, Body::Bytes(_)) && Some(*b) != previous)
            .cloned();
        match body {
            Some(body) => {
                let instance = if matches!(body, Body::Stream(_)) {
                    Some(instance)
                } else {
                    pool.checkin(instance);
                    None
                };
                // A body this replaces is abandoned; so is its pinned instance, if any.
                self.origin = Some(Origin {
                    plugin: to.plugin,
                    pool: pool.clone(),
                    body,
                    instance,
                });
            }
            None => pool.checkin(instance),
        }
        Ok(result)
    }

    /// The origin of `body`, when a plugin produced it. `None` for bodies that no call
    /// produced (the host's own static mounts); a pinned instance whose stream is not
    /// the final body is dropped here.
    pub fn into_origin(mut self, body: &Body) -> Option<Origin> {
        self.origin.take().filter(|o| o.body == *body)
    }
}

/// The pool of `to`, and one of its instances, while the request's budget lasts.
async fn checkout(
    pools: &[Arc<Pool>],
    deadline: Instant,
    to: Target,
) -> Result<(&Arc<Pool>, Box<dyn Instance>), CallError> {
    let pool = pools
        .get(to.plugin)
        .ok_or_else(|| CallError::Instantiate("no such plugin".into()))?;
    if Instant::now() >= deadline {
        return Err(CallError::Deadline);
    }
    Ok((pool, pool.checkout().await?))
}

/// Runs a call, cut off (its future dropped, so the guest stops where it was) when the
/// request's budget runs out first. (Free functions, these two: the invoker holds
/// pinned instances and is not `Sync`, so no borrow of it may live across an await.)
async fn within_budget<R>(
    deadline: Instant,
    call: impl Future<Output = Result<R, CallError>>,
) -> Result<R, CallError> {
    tokio::time::timeout_at(deadline, call)
        .await
        .unwrap_or(Err(CallError::Deadline))
}

/// One plugin call through [`within_budget`], timed on the metrics and traced as a
/// child span of the request (see [`crate::spans`]).
async fn observed<R>(
    pool: &Pool,
    entry: Entry,
    deadline: Instant,
    call: impl Future<Output = Result<R, CallError>>,
) -> Result<R, CallError> {
    let span = crate::spans::call(pool.name(), entry.label());
    let started = std::time::Instant::now();
    let result = within_budget(deadline, call).instrument(span.clone()).await;
    pool.record(entry, started, &result);
    if let Err(e) = &result {
        crate::spans::failed(&span, e);
    }
    result
}

impl Invoker for TrackingInvoker<'_> {
    async fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError> {
        self.routed = Some(to);
        let (pool, mut instance) = checkout(self.pools, self.deadline, to).await?;
        let call = instance.handle(to.handler, req);
        let result = observed(pool, Entry::Handle, self.deadline, call).await;
        self.track(to, pool, instance, result, None, |r| Some(&r.body))
    }

    async fn before(&mut self, to: Target, req: &Request) -> Result<BeforeOutcome, CallError> {
        let (pool, mut instance) = checkout(self.pools, self.deadline, to).await?;
        let call = instance.before(to.handler, req);
        let result = observed(pool, Entry::Before, self.deadline, call).await;
        self.track(to, pool, instance, result, None, |o| match o {
            BeforeOutcome::Respond(r) => Some(&r.body),
            BeforeOutcome::Proceed(_) => None,
        })
    }

    async fn after(
        &mut self,
        to: Target,
        req: &Request,
        resp: &Response,
    ) -> Result<Response, CallError> {
        let (pool, mut instance) = checkout(self.pools, self.deadline, to).await?;
        let call = instance.after(to.handler, req, resp);
        let result = observed(pool, Entry::After, self.deadline, call).await;
        self.track(to, pool, instance, result, Some(&resp.body), |r| {
            Some(&r.body)
        })
    }

    async fn on_event(&mut self, to: Target, event: &Event) -> Result<EventOutcome, CallError> {
        let (pool, mut instance) = checkout(self.pools, self.deadline, to).await?;
        let call = instance.on_event(to.handler, event);
        let result = observed(pool, Entry::Event, self.deadline, call).await;
        pool.finish(instance, result)
    }
}
