//! What a WebSocket event means: who hears it, in what order, and what is sent back.
//!
//! Servers own the socket and the framing; they call these three methods with the event
//! and do what the result says. The rules, from the seeds:
//!
//! - Every connection is heard by the `ws:*` hooks of all plugins (plugin order, then
//!   registration order), like middleware; a connection made through a WebSocket route
//!   (`app.websocket(path, h)`, seed 002) is then heard by that route's handler too.
//! - `ws:connect`: any handler may refuse; the first refusal wins and later handlers are
//!   not called. A handler that fails refuses with 500: a gatekeeper fails closed.
//! - `ws:message`: handlers run in order until one sets `stop` (seed 000's `ctx.stop`).
//!   The last `reply` set is sent back to the sender. When no handler replied or stopped
//!   on a connection that has no route — seed 000's dedicated port — the message is
//!   echoed. A handler that fails is skipped, but then nothing is echoed: the client
//!   should not mistake a broken plugin for an echo service.
//! - `ws:disconnect`: every handler hears it; failures change nothing.

use alloc::string::ToString;

use crate::model::{Event, EventKind, Refusal, WsPayload};
use crate::pipeline::{App, Invoker, Target};

/// Who owns a connection besides the `ws:*` hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// A WebSocket route on the HTTP port: its handler hears every event after the hooks.
    Route(Target),
    /// The dedicated WebSocket port: hooks only, and unanswered messages are echoed.
    Hooks,
}

impl Endpoint {
    fn route(self) -> Option<Target> {
        match self {
            Endpoint::Route(target) => Some(target),
            Endpoint::Hooks => None,
        }
    }
}

impl App {
    /// The handlers that hear `kind` on a connection of `endpoint`, in order.
    fn ws_handlers(
        &self,
        kind: EventKind,
        endpoint: Endpoint,
    ) -> impl Iterator<Item = Target> + '_ {
        self.hooks(kind).chain(endpoint.route())
    }

    /// Delivers `ws-connect`; `Err` is the refusal to answer the upgrade with.
    pub async fn ws_connect(
        &self,
        endpoint: Endpoint,
        event: &Event,
        invoker: &mut impl Invoker,
    ) -> Result<(), Refusal> {
        for target in self.ws_handlers(EventKind::WsConnect, endpoint) {
            match invoker.on_event(target, event).await {
                Ok(outcome) => {
                    if let Some(refusal) = outcome.refuse {
                        return Err(refusal);
                    }
                }
                Err(e) => {
                    return Err(Refusal {
                        status: e.status(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Delivers `ws-message`; returns what to send back to the sender, if anything.
    pub async fn ws_message(
        &self,
        endpoint: Endpoint,
        event: &Event,
        invoker: &mut impl Invoker,
    ) -> Option<WsPayload> {
        let mut reply = None;
        let mut stopped = false;
        let mut failed = false;
        for target in self.ws_handlers(EventKind::WsMessage, endpoint) {
            match invoker.on_event(target, event).await {
                Ok(outcome) => {
                    if outcome.reply.is_some() {
                        reply = outcome.reply;
                    }
                    if outcome.stop {
                        stopped = true;
                        break;
                    }
                }
                Err(_) => failed = true,
            }
        }
        let echo = reply.is_none() && !stopped && !failed && endpoint == Endpoint::Hooks;
        match event {
            Event::WsMessage(message) if echo => Some(message.payload.clone()),
            _ => reply,
        }
    }

    /// Delivers `ws-disconnect` to every handler.
    pub async fn ws_disconnect(
        &self,
        endpoint: Endpoint,
        event: &Event,
        invoker: &mut impl Invoker,
    ) {
        for target in self.ws_handlers(EventKind::WsDisconnect, endpoint) {
            let _ = invoker.on_event(target, event).await;
        }
    }
}

#[cfg(test)]
#[path = "ws_tests.rs"]
mod tests;
