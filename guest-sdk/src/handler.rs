//! The closures a plugin registers, by kind. [`App`](crate::App) builds the table in
//! `setup`; [`rt`](crate::rt) looks handlers up by id when the host calls.

use crate::flow::{Flow, Outcome};
use crate::{Event, Request, Response};

pub(crate) type RouteFn = dyn Fn(&Request) -> Response;
pub(crate) type BeforeFn = dyn Fn(&Request) -> Flow;
pub(crate) type AfterFn = dyn Fn(&Request, Response) -> Response;
pub(crate) type EventFn = dyn Fn(&Event) -> Outcome;

/// One registered closure; its index in the table is its handler id.
pub(crate) enum Handler {
    Route(Box<RouteFn>),
    Before(Box<BeforeFn>),
    After(Box<AfterFn>),
    Event(Box<EventFn>),
}
