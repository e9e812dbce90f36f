//! The closures a plugin registers, by kind. [`App`](crate::App) builds the table in
//! `setup`; [`rt`](crate::rt) looks handlers up by id when the host calls.

use crate::flow::{Flow, Outcome};
use crate::ws::Conn;
use crate::{Event, Request, Response, WsConnect, WsDisconnect, WsMessage};

pub(crate) type RouteFn = dyn Fn(&Request) -> Response;
pub(crate) type BeforeFn = dyn Fn(&Request) -> Flow;
pub(crate) type AfterFn = dyn Fn(&Request, Response) -> Response;
pub(crate) type EventFn = dyn Fn(&Event) -> Outcome;
pub(crate) type ConnectFn = dyn Fn(Conn, &WsConnect) -> Outcome;
pub(crate) type MessageFn = dyn Fn(Conn, &WsMessage) -> Outcome;
pub(crate) type DisconnectFn = dyn Fn(Conn, &WsDisconnect) -> Outcome;

/// A WebSocket route's handlers, one per event (see [`WebSocket`](crate::WebSocket)).
#[derive(Default)]
pub(crate) struct WsHandlers {
    pub(crate) connect: Option<Box<ConnectFn>>,
    pub(crate) message: Option<Box<MessageFn>>,
    pub(crate) disconnect: Option<Box<DisconnectFn>>,
}

impl WsHandlers {
    /// Dispatches `ev` to the handler for its kind; no handler adds nothing.
    pub(crate) fn call(&self, ev: &Event) -> Outcome {
        match ev {
            Event::WsConnect(c) => self
                .connect
                .as_ref()
                .map_or_else(Outcome::none, |f| f(Conn::from_id(c.conn), c)),
            Event::WsMessage(m) => self
                .message
                .as_ref()
                .map_or_else(Outcome::none, |f| f(Conn::from_id(m.conn), m)),
            Event::WsDisconnect(d) => self
                .disconnect
                .as_ref()
                .map_or_else(Outcome::none, |f| f(Conn::from_id(d.conn), d)),
            _ => Outcome::none(),
        }
    }
}

/// One registered closure; its index in the table is its handler id.
pub(crate) enum Handler {
    Route(Box<RouteFn>),
    Before(Box<BeforeFn>),
    After(Box<AfterFn>),
    Event(Box<EventFn>),
    Ws(WsHandlers),
}
