//! The glue between the generated bindings and the closures a plugin registers.
//! Used by [`export_plugin!`](crate::export_plugin); not part of the public API.

use std::cell::RefCell;
use std::rc::Rc;

use crate::app::App;
use crate::config::Config;
use crate::flow::Outcome;
use crate::handler::Handler;
use crate::{Event, Plugin, Request, Response};

pub use crate::bindings::berth::plugin::types::{BeforeOutcome, EventOutcome, Pairs, Registration};
pub use crate::bindings::exports::berth::plugin::guest::Guest as GuestTrait;

#[derive(Default)]
struct Runtime {
    handlers: Vec<Rc<Handler>>,
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
    });
    crate::streams::clear();
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
        Some(Handler::Ws(h)) => h.call(&ev).into_wit(),
        _ => Outcome::none().into_wit(),
    }
}

/// `guest.next-chunk`: pulls the next chunk of a streamed body.
pub fn next_chunk(stream: u32) -> Option<Vec<u8>> {
    crate::streams::next(stream)
}
