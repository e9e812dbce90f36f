//! [`WebSocket`]: a WebSocket route's handlers, declared one event at a time.

use crate::app::App;
use crate::flow::Outcome;
use crate::handler::Handler;
use crate::ws::Conn;
use crate::{WsConnect, WsDisconnect, WsMessage};

/// A WebSocket route being declared, from [`App::websocket`]: give it a handler per
/// event it cares about. Each handler gets the connection's [`Conn`] and the event.
///
/// ```no_run
/// # use berth_sdk::prelude::*;
/// # fn f(app: &mut App) {
/// app.websocket("/ws/echo")
///     .on_connect(|ws, _connect| ws.send("Welcome!"))
///     .on_message(|_ws, msg| Outcome::reply(format!("Echo: {}", msg.text().unwrap_or(""))))
///     .on_disconnect(|ws, close| info!("{} left with {}", ws.id(), close.code));
/// # }
/// ```
pub struct WebSocket<'a> {
    pub(crate) app: &'a mut App,
    pub(crate) handler: usize,
}

impl WebSocket<'_> {
    fn handlers(&mut self) -> &mut crate::handler::WsHandlers {
        match self.app.handler_mut(self.handler) {
            Handler::Ws(h) => h,
            // `App::websocket` registered this index as a WebSocket route.
            _ => unreachable!("a WebSocket route's handler is Handler::Ws"),
        }
    }

    /// Called before the `101` is sent: return [`Outcome::refuse`] (or an
    /// [`Error`](crate::Error)) to refuse the upgrade.
    pub fn on_connect<F, R>(mut self, handler: F) -> Self
    where
        F: Fn(Conn, &WsConnect) -> R + 'static,
        R: Into<Outcome>,
    {
        self.handlers().connect = Some(Box::new(move |ws, c| handler(ws, c).into()));
        self
    }

    /// Called for every whole message (after the plugins' `ws:message` hooks, unless
    /// one stopped it). [`Outcome::reply`] answers the sender.
    pub fn on_message<F, R>(mut self, handler: F) -> Self
    where
        F: Fn(Conn, &WsMessage) -> R + 'static,
        R: Into<Outcome>,
    {
        self.handlers().message = Some(Box::new(move |ws, m| handler(ws, m).into()));
        self
    }

    /// Called once the connection closed, while its data and rooms still exist.
    pub fn on_disconnect<F, R>(mut self, handler: F) -> Self
    where
        F: Fn(Conn, &WsDisconnect) -> R + 'static,
        R: Into<Outcome>,
    {
        self.handlers().disconnect = Some(Box::new(move |ws, d| handler(ws, d).into()));
        self
    }
}
