//! Helpers on events and WebSocket payloads.

use serde::de::DeserializeOwned;

use crate::bindings::berth::plugin::types::WsPayload;
use crate::request::{find, ip_of};
use crate::ws::Conn;
use crate::{Event, EventKind, WsConnect, WsMessage};

/// A WebSocket message body: text or binary. Built from `&str`, `String`, `Vec<u8>`
/// or `&[u8]`.
pub type Payload = WsPayload;

impl From<&str> for Payload {
    fn from(s: &str) -> Payload {
        Payload::Text(s.to_string())
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Payload {
        Payload::Text(s)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(b: Vec<u8>) -> Payload {
        Payload::Binary(b)
    }
}

impl From<&[u8]> for Payload {
    fn from(b: &[u8]) -> Payload {
        Payload::Binary(b.to_vec())
    }
}

impl Payload {
    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Payload::Text(s) => Some(s),
            Payload::Binary(_) => None,
        }
    }

    /// The bytes of the message (text as UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Text(s) => s.as_bytes(),
            Payload::Binary(b) => b,
        }
    }
}

/// Reading a WebSocket message (seed 000's `ctx.data`).
///
/// ```
/// # use berth_sdk::prelude::*;
/// fn on_message(_ws: Conn, msg: &WsMessage) -> Outcome {
///     let data = msg.data(); // JSON value when the text parses as JSON, else Null
///     if data["type"] == "ping" {
///         return Outcome::reply_json(&json!({"type": "pong"})).and_stop();
///     }
///     Outcome::none()
/// }
/// ```
impl WsMessage {
    /// The text, for a text message.
    pub fn text(&self) -> Option<&str> {
        self.payload.as_text()
    }

    /// The bytes, for a binary message.
    pub fn binary(&self) -> Option<&[u8]> {
        match &self.payload {
            Payload::Binary(b) => Some(b),
            Payload::Text(_) => None,
        }
    }

    /// The text parsed as JSON into `T`; `None` for binary messages or other JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        crate::json::from_str(self.text()?).ok()
    }

    /// The text as a JSON value; `Value::Null` when it is not JSON (or binary), so
    /// `msg.data()["type"]` is always safe to index.
    pub fn data(&self) -> serde_json::Value {
        self.json().unwrap_or(serde_json::Value::Null)
    }
}

/// Reading a WebSocket connection request.
impl WsConnect {
    /// The first upgrade-request header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query_pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The peer's IP address, without the port.
    pub fn ip(&self) -> &str {
        ip_of(&self.remote_addr)
    }
}

impl Event {
    /// The kind of this event (`None` for timer ticks, which are not hooks).
    pub fn kind(&self) -> Option<EventKind> {
        Some(match self {
            Event::ServerStart(_) => EventKind::ServerStart,
            Event::ServerStop => EventKind::ServerStop,
            Event::WsConnect(_) => EventKind::WsConnect,
            Event::WsMessage(_) => EventKind::WsMessage,
            Event::WsDisconnect(_) => EventKind::WsDisconnect,
            Event::Tick(_) => return None,
        })
    }

    /// The WebSocket connection the event is about, if any.
    pub fn conn(&self) -> Option<Conn> {
        match self {
            Event::WsConnect(c) => Some(c.conn),
            Event::WsMessage(m) => Some(m.conn),
            Event::WsDisconnect(d) => Some(d.conn),
            _ => None,
        }
        .map(Conn::from_id)
    }
}
