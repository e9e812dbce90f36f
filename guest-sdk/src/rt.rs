//! The glue between the generated bindings and the closures a plugin registers.
//! Used by [`export_plugin!`](crate::export_plugin); not part of the public API.

use std::cell::RefCell;
use std::rc::Rc;

use crate::app::App;
use crate::config::Config;
use crate::flow::{Flow, Outcome};
use crate::{Event, Plugin, Request, Response};

pub use crate::bindings::berth::plugin::types::{BeforeOutcome, EventOutcome, Pairs, Registration};
pub use crate::bindings::exports::berth::plugin::guest::Guest as GuestTrait;

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

type Chunks = Box<dyn Iterator<Item = Vec<u8>>>;

#[derive(Default)]
struct Runtime {
    handlers: Vec<Rc<Handler>>,
    // Few streams are open at once: a list is smaller code than a map.
    streams: Vec<(u32, Chunks)>,
    next_stream: u32,
}

thread_local! {
    static RT: RefCell<Runtime> = RefCell::new(Runtime::default());
}

fn lookup(id: u32) -> Option<Rc<Handler>> {
    RT.with(|rt| rt.borrow().handlers.get(id as usize).cloned())
}

fn bad_handler(id: u32) -> Response {
    Response::error(&format!("plugin has no such handler: {id}"), 500)
}

/// Registers a streamed body; returns its id for `body::stream`.
pub(crate) fn add_stream(chunks: Chunks) -> u32 {
    RT.with(|rt| {
        let mut rt = rt.borrow_mut();
        rt.next_stream = rt.next_stream.wrapping_add(1);
        let id = rt.next_stream;
        rt.streams.push((id, chunks));
        id
    })
}

/// `guest.setup`: runs the plugin's setup and installs its handlers.
pub fn setup<P: Plugin>(config: Pairs, crate_name: &str) -> Result<Registration, String> {
    let name = if P::NAME.is_empty() {
        crate_name
    } else {
        P::NAME
    };
    let config = Config::new(config);
    let mut app = App::new(name);
    P::setup(&mut app, &config)?;
    let (registration, handlers) = app.finish();
    RT.with(|rt| {
        let mut rt = rt.borrow_mut();
        rt.handlers = handlers.into_iter().map(Rc::new).collect();
        rt.streams.clear();
    });
    Ok(registration)
}

/// `guest.handle`.
pub fn handle(id: u32, req: Request) -> Response {
    match lookup(id).as_deref() {
        Some(Handler::Route(f)) => f(&req),
        _ => bad_handler(id),
    }
}

/// `guest.before`.
pub fn before(id: u32, req: Request) -> BeforeOutcome {
    match lookup(id).as_deref() {
        Some(Handler::Before(f)) => f(&req).into_wit(),
        _ => BeforeOutcome::Respond(bad_handler(id)),
    }
}

/// `guest.after`.
pub fn after(id: u32, req: Request, resp: Response) -> Response {
    match lookup(id).as_deref() {
        Some(Handler::After(f)) => f(&req, resp),
        _ => bad_handler(id),
    }
}

/// `guest.on-event`.
pub fn on_event(id: u32, ev: Event) -> EventOutcome {
    match lookup(id).as_deref() {
        Some(Handler::Event(f)) => f(&ev).into_wit(),
        _ => Outcome::none().into_wit(),
    }
}

/// `guest.next-chunk`: pulls the next chunk of a streamed body.
pub fn next_chunk(stream: u32) -> Option<Vec<u8>> {
    // Take the iterator out while it runs, so it may itself call into the SDK.
    let mut chunks = RT.with(|rt| {
        let mut rt = rt.borrow_mut();
        let at = rt.streams.iter().position(|(id, _)| *id == stream)?;
        Some(rt.streams.swap_remove(at).1)
    })?;
    let next = chunks.next();
    if next.is_some() {
        RT.with(|rt| rt.borrow_mut().streams.push((stream, chunks)));
    }
    next
}
