//! WebSocket connections: [`Conn`], the handle a handler gets for the connection its
//! event is about (or any other, [`Conn::from_id`]), and broadcasts to rooms.
//!
//! Errors ([`WsError`]) are not faults: the peer may have left a moment ago. An event
//! handler may return them (`ws.send(..)?`): they add nothing to its outcome.
//!
//! ```no_run
//! use berth_sdk::prelude::*;
//! # fn f(ws: Conn) -> Result<(), WsError> {
//! ws.send("Welcome!")?;
//! ws.send_json(&json!({"type": "notification"}))?;
//! ws.data().set("username", "alice")?;
//! let name = ws.data().get("username"); // Some("alice")
//! ws.join("general")?;
//! ws::broadcast_json(Some("general"), &json!({"action": "message"}), Some(ws));
//! ws.close(1000, "Normal closure")?;
//! # Ok(()) }
//! ```

use serde::Serialize;

use crate::host;
use crate::{Payload, WsError};

fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// One WebSocket connection, by the host's id. Copy it freely: it is the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Conn(u64);

impl Conn {
    /// The connection with this id (ids come from events and [`room_members`]).
    pub fn from_id(id: u64) -> Conn {
        Conn(id)
    }

    /// The host's id of this connection.
    pub fn id(self) -> u64 {
        self.0
    }

    /// Sends a message (`&str`/`String` → text, `Vec<u8>`/`&[u8]` → binary).
    pub fn send(self, msg: impl Into<Payload>) -> Result<(), WsError> {
        host::ws_send(self.0, &msg.into())
    }

    /// Sends `value` as JSON text.
    pub fn send_json(self, value: &impl Serialize) -> Result<(), WsError> {
        self.send(json_text(value))
    }

    /// Closes the connection with a close code and reason.
    pub fn close(self, code: u16, reason: &str) -> Result<(), WsError> {
        host::ws_close(self.0, code, reason)
    }

    /// The connection's data (seed 000's `ws.data`), which lives as long as it does.
    pub fn data(self) -> ConnData {
        ConnData(self)
    }

    /// Adds the connection to `room`.
    pub fn join(self, room: &str) -> Result<(), WsError> {
        host::ws_join(self.0, room)
    }

    /// Removes the connection from `room`.
    pub fn leave(self, room: &str) -> Result<(), WsError> {
        host::ws_leave(self.0, room)
    }
}

/// Per-connection data: text values by key, kept by the host for the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnData(Conn);

impl ConnData {
    /// The value under `key`.
    pub fn get(self, key: &str) -> Option<String> {
        host::ws_data_get(self.0 .0, key)
    }

    /// Sets `key` to `value`.
    pub fn set(self, key: &str, value: impl AsRef<str>) -> Result<(), WsError> {
        host::ws_data_set(self.0 .0, key, Some(value.as_ref()))
    }

    /// Removes `key`.
    pub fn remove(self, key: &str) -> Result<(), WsError> {
        host::ws_data_set(self.0 .0, key, None)
    }
}

/// Sends to every member of `room` (every connection when `None`), except `except`;
/// returns how many connections it was queued for.
pub fn broadcast(room: Option<&str>, msg: impl Into<Payload>, except: Option<Conn>) -> u32 {
    host::ws_broadcast(room, &msg.into(), except.map(Conn::id))
}

/// Like [`broadcast`], with `value` serialized as JSON text.
pub fn broadcast_json(room: Option<&str>, value: &impl Serialize, except: Option<Conn>) -> u32 {
    broadcast(room, json_text(value), except)
}

/// The connections in `room`.
pub fn room_members(room: &str) -> Vec<Conn> {
    host::ws_room_members(room).into_iter().map(Conn).collect()
}
