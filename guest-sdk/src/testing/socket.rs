//! WebSocket connections to a [`TestApp`]: [`TestWs`].

use std::cell::Cell;

use super::{host, TestApp};
use crate::bindings::berth::plugin::types::HandlerId;
use crate::{rt, Event, EventKind, Payload, WsConnect, WsDisconnect, WsMessage};

/// A refused WebSocket upgrade: the HTTP status and reason the client would get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// The reason.
    pub reason: String,
}

impl TestApp {
    /// Opens a WebSocket connection to the plugin's route for `target` (a path with an
    /// optional query string): the `ws:connect` hooks, then the route's `on_connect`.
    /// `Err` is a refusal; a path with no WebSocket route is refused with 404.
    pub fn ws(&self, target: &str) -> Result<TestWs<'_>, Refused> {
        self.ws_with_headers(target, &[])
    }

    /// [`TestApp::ws`] with upgrade-request headers.
    pub fn ws_with_headers(
        &self,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<TestWs<'_>, Refused> {
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        let Some(route) = self.registration.websockets.iter().find(|w| w.path == path) else {
            return Err(Refused {
                status: 404,
                reason: format!("no WebSocket route for {path}"),
            });
        };
        self.connect(target, Some(route.handler), headers)
    }

    /// Opens a connection on the dedicated WebSocket port: only the `ws:*` hooks hear
    /// it, and a message none of them replied to or stopped is echoed.
    pub fn ws_dedicated(&self, target: &str) -> Result<TestWs<'_>, Refused> {
        self.connect(target, None, &[])
    }

    fn connect(
        &self,
        target: &str,
        route: Option<HandlerId>,
        headers: &[(&str, &str)],
    ) -> Result<TestWs<'_>, Refused> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let conn = host::with(|h| {
            let id = h.next_conn;
            h.next_conn += 1;
            h.conns.insert(id, host::MemConn::default());
            id
        });
        let probe = self.get(&format!("/?{query}"));
        let event = Event::WsConnect(WsConnect {
            conn,
            path: path.to_string(),
            query_pairs: probe.query_pairs(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
            remote_addr: "127.0.0.1:50001".into(),
        });
        for handler in self.handlers(EventKind::WsConnect, route) {
            if let Some(r) = rt::on_event(handler, event.clone()).refuse {
                host::with(|h| h.conns.remove(&conn));
                return Err(Refused {
                    status: r.status,
                    reason: r.reason,
                });
            }
        }
        Ok(TestWs {
            app: self,
            conn,
            path: path.to_string(),
            route,
            disconnected: Cell::new(false),
        })
    }

    /// The hooks for `kind`, then the route's handler.
    fn handlers(&self, kind: EventKind, route: Option<HandlerId>) -> Vec<HandlerId> {
        self.registration
            .hooks
            .iter()
            .filter(|h| h.event == kind)
            .map(|h| h.handler)
            .chain(route)
            .collect()
    }
}

/// An open WebSocket connection to the plugin. Dropping it disconnects it (code 1000)
/// unless it was closed already.
pub struct TestWs<'a> {
    app: &'a TestApp,
    conn: u64,
    path: String,
    route: Option<HandlerId>,
    disconnected: Cell<bool>,
}

impl TestWs<'_> {
    /// The connection's id (what the plugin's [`Conn::id`](crate::Conn::id) says).
    pub fn id(&self) -> u64 {
        self.conn
    }

    /// Delivers a whole message: the `ws:message` hooks until one stops, then the
    /// route's `on_message`. The last reply (or, on the dedicated port, the echo) is
    /// queued for [`TestWs::recv`] after whatever the handlers sent.
    pub fn send(&self, msg: impl Into<Payload>) {
        assert!(self.closed().is_none(), "send on a closed connection");
        let event = Event::WsMessage(WsMessage {
            conn: self.conn,
            path: self.path.clone(),
            payload: msg.into(),
        });
        let mut reply = None;
        let mut stopped = false;
        for handler in self.app.handlers(EventKind::WsMessage, self.route) {
            let outcome = rt::on_event(handler, event.clone());
            if outcome.reply.is_some() {
                reply = outcome.reply;
            }
            if outcome.stop {
                stopped = true;
                break;
            }
        }
        let reply = match event {
            Event::WsMessage(m) if reply.is_none() && !stopped && self.route.is_none() => {
                Some(m.payload)
            }
            _ => reply,
        };
        if let Some(reply) = reply {
            host::with(|h| {
                if let Some(c) = h.conns.get_mut(&self.conn) {
                    if c.closed.is_none() {
                        c.outbox.push_back(reply);
                    }
                }
            });
        }
        if let Some((code, reason)) = self.closed() {
            self.disconnect(code, &reason);
        }
    }

    /// Sends `value` as JSON text.
    pub fn send_json(&self, value: &serde_json::Value) {
        self.send(value.to_string())
    }

    /// The next message the plugin sent to this connection (replies, sends and
    /// broadcasts, in order).
    pub fn recv(&self) -> Option<Payload> {
        host::with(|h| h.conns.get_mut(&self.conn)?.outbox.pop_front())
    }

    /// The next message as text (`None` when there is none or it is binary).
    pub fn recv_text(&self) -> Option<String> {
        match self.recv()? {
            Payload::Text(t) => Some(t),
            Payload::Binary(_) => None,
        }
    }

    /// The next message parsed as JSON (`None` when there is none or it is not JSON).
    pub fn recv_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.recv_text()?).ok()
    }

    /// Every message waiting, in order.
    pub fn drain(&self) -> Vec<Payload> {
        std::iter::from_fn(|| self.recv()).collect()
    }

    /// The connection's data, as the plugin set it.
    pub fn data(&self, key: &str) -> Option<String> {
        host::ws_data_get(self.conn, key)
    }

    /// The close code and reason, once the plugin closed the connection.
    pub fn closed(&self) -> Option<(u16, String)> {
        host::with(|h| h.conns.get(&self.conn)?.closed.clone())
    }

    /// The client closes the connection with `code`: the `ws:disconnect` hooks and the
    /// route's `on_disconnect` run.
    pub fn close(self, code: u16) {
        self.disconnect(code, "");
    }

    fn disconnect(&self, code: u16, reason: &str) {
        if self.disconnected.replace(true) {
            return;
        }
        let event = Event::WsDisconnect(WsDisconnect {
            conn: self.conn,
            path: self.path.clone(),
            code,
            reason: reason.to_string(),
        });
        for handler in self.app.handlers(EventKind::WsDisconnect, self.route) {
            rt::on_event(handler, event.clone());
        }
        // Data and rooms go with the connection; its unread messages stay readable.
        host::with(|h| {
            if let Some(c) = h.conns.get_mut(&self.conn) {
                c.data.clear();
                c.rooms.clear();
                c.closed.get_or_insert((code, reason.to_string()));
            }
        });
    }
}

impl Drop for TestWs<'_> {
    fn drop(&mut self) {
        self.disconnect(1000, "");
    }
}
