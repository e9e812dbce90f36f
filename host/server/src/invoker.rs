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
//! After-middleware that passes a response through returns the same body, which keeps
//! its origin. A middleware that replaces a streamed body abandons the stream: its
//! pinned instance is dropped (its guest-side state holds the abandoned iterator).

use berth_core::engine::{CallError, Instance};
use berth_core::model::{BeforeOutcome, Body, Event, EventOutcome, Request, Response};
use berth_core::pipeline::{Invoker, Target};

use crate::pool::Pool;

/// Which plugin produced the final body, and the instance a stream needs.
pub struct Origin {
    /// Index of the plugin (and of its pool).
    pub plugin: usize,
    /// The body it produced.
    body: Body,
    /// For `Body::Stream`: the pinned instance holding the iterator.
    pub instance: Option<Box<dyn Instance>>,
}

/// Calls plugins through their pools and tracks the origin of non-bytes bodies.
pub struct TrackingInvoker<'a> {
    pools: &'a [Pool],
    origin: Option<Origin>,
}

impl<'a> TrackingInvoker<'a> {
    /// An invoker over the app's pools (pool `i` belongs to plugin `i`).
    pub fn new(pools: &'a [Pool]) -> TrackingInvoker<'a> {
        TrackingInvoker {
            pools,
            origin: None,
        }
    }

    fn pool(&self, to: Target) -> Result<&'a Pool, CallError> {
        self.pools
            .get(to.plugin)
            .ok_or_else(|| CallError::Instantiate("no such plugin".into()))
    }

    /// Runs `f` on a checked-out instance and, when the response it yields carries a
    /// new non-bytes body, records the plugin (and pins the instance for a stream).
    fn call<R>(
        &mut self,
        to: Target,
        previous: Option<&Body>,
        f: impl FnOnce(&mut dyn Instance) -> Result<R, CallError>,
        body_of: impl Fn(&R) -> Option<&Body>,
    ) -> Result<R, CallError> {
        let pool = self.pool(to)?;
        let mut instance = pool.checkout()?;
        let result = match f(&mut *instance) {
            Ok(r) => r,
            Err(e) => {
                pool.report_failure(&e);
                return Err(e);
            }
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

impl Invoker for TrackingInvoker<'_> {
    fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError> {
        self.call(to, None, |i| i.handle(to.handler, req), |r| Some(&r.body))
    }

    fn before(&mut self, to: Target, req: &Request) -> Result<BeforeOutcome, CallError> {
        self.call(
            to,
            None,
            |i| i.before(to.handler, req),
            |o| match o {
                BeforeOutcome::Respond(r) => Some(&r.body),
                BeforeOutcome::Proceed(_) => None,
            },
        )
    }

    fn after(&mut self, to: Target, req: &Request, resp: &Response) -> Result<Response, CallError> {
        self.call(
            to,
            Some(&resp.body),
            |i| i.after(to.handler, req, resp),
            |r| Some(&r.body),
        )
    }

    fn on_event(&mut self, to: Target, event: &Event) -> Result<EventOutcome, CallError> {
        self.pool(to)?.with(|i| i.on_event(to.handler, event))
    }
}
