//! WebSocket operations on any open connection, by its id (from [`Event::conn`],
//! [`WsConnect::conn`](crate::WsConnect), …). Rooms group connections for broadcasts.
//!
//! Errors ([`WsError`]) are not faults: the peer may have left a moment ago.
//!
//! ```no_run
//! use berth_sdk::{ws, json};
//! # let conn = 1;
//! ws::send(conn, "Welcome!").ok();
//! ws::send_json(conn, &json!({"type": "notification"})).ok();
//! ws::data_set(conn, "username", Some("alice")).ok();
//! ws::join(conn, "general").ok();
//! ws::broadcast_json(Some("general"), &json!({"action": "message"}), Some(conn));
//! ws::close(conn, 1000, "Normal closure").ok();
//! ```
//!
//! [`Event::conn`]: crate::Event::conn

use serde::Serialize;

use crate::bindings::berth::plugin::host;
use crate::{Payload, WsError};

/// Sends a message (`&str`/`String` → text, `Vec<u8>`/`&[u8]` → binary).
pub fn send(conn: u64, msg: impl Into<Payload>) -> Result<(), WsError> {
    host::ws_send(conn, &msg.into())
}

/// Sends `value` as JSON text.
pub fn send_json(conn: u64, value: &impl Serialize) -> Result<(), WsError> {
    send(
        conn,
        serde_json::to_string(value).unwrap_or_else(|_| "null".into()),
    )
}

/// Closes the connection with a close code and reason.
pub fn close(conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
    host::ws_close(conn, code, reason)
}

/// Per-connection data (seed 000's `ws.data`); lives as long as the connection.
pub fn data_get(conn: u64, key: &str) -> Option<String> {
    host::ws_data_get(conn, key)
}

/// Sets (or with `None`, removes) per-connection data.
pub fn data_set(conn: u64, key: &str, value: Option<&str>) -> Result<(), WsError> {
    host::ws_data_set(conn, key, value)
}

/// Adds the connection to `room`.
pub fn join(conn: u64, room: &str) -> Result<(), WsError> {
    host::ws_join(conn, room)
}

/// Removes the connection from `room`.
pub fn leave(conn: u64, room: &str) -> Result<(), WsError> {
    host::ws_leave(conn, room)
}

/// Sends to every member of `room` (every connection when `None`), except `except`;
/// returns how many connections it was queued for.
pub fn broadcast(room: Option<&str>, msg: impl Into<Payload>, except: Option<u64>) -> u32 {
    host::ws_broadcast(room, &msg.into(), except)
}

/// Like [`broadcast`], with `value` serialized as JSON text.
pub fn broadcast_json(room: Option<&str>, value: &impl Serialize, except: Option<u64>) -> u32 {
    broadcast(
        room,
        serde_json::to_string(value).unwrap_or_else(|_| "null".into()),
        except,
    )
}

/// The connections in `room`.
pub fn room_members(room: &str) -> Vec<u64> {
    host::ws_room_members(room)
}
