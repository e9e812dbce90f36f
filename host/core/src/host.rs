//! The host API that plugins import (`interface host` in the WIT).
//!
//! Servers implement [`HostApi`] once; both engines wire every import to the matching
//! method of [`PluginHost`], which adds what is per-plugin (the name in logs, the state
//! namespace). So the semantics of each import live here, in one place.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::model::WsPayload;
use crate::state::{StateError, Store};

/// Log levels, as in the WIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Whose state a call addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The calling plugin's own namespace.
    Plugin,
    /// The namespace every plugin shares (seed 000's `app.state`).
    Shared,
}

/// Why a WebSocket operation did not happen (see the WIT for what each means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum WsError {
    NoSuchConnection,
    QueueFull,
    Unsupported,
}

/// What a server provides to all plugins. Methods with defaults are features a host
/// may lack (an HTTP-only host has no WebSockets): plugins get `unsupported` or zero.
pub trait HostApi: Send + Sync {
    /// Writes a plugin's log line.
    fn log(&self, plugin: &str, level: Level, message: &str);
    /// The key-value store behind `state-*`.
    fn store(&self) -> &dyn Store;
    /// Wall-clock time in Unix milliseconds.
    fn now_ms(&self) -> u64;
    /// 64 random bits from a cryptographically secure source.
    fn random_u64(&self) -> u64;

    /// Queues a message for a connection.
    fn ws_send(&self, _conn: u64, _msg: WsPayload) -> Result<(), WsError> {
        Err(WsError::Unsupported)
    }
    /// Starts the close handshake of a connection.
    fn ws_close(&self, _conn: u64, _code: u16, _reason: &str) -> Result<(), WsError> {
        Err(WsError::Unsupported)
    }
    /// Reads per-connection data.
    fn ws_data_get(&self, _conn: u64, _key: &str) -> Option<String> {
        None
    }
    /// Writes (or, with `None`, removes) per-connection data.
    fn ws_data_set(&self, _conn: u64, _key: &str, _value: Option<String>) -> Result<(), WsError> {
        Err(WsError::Unsupported)
    }
    /// Adds a connection to a room.
    fn ws_join(&self, _conn: u64, _room: &str) -> Result<(), WsError> {
        Err(WsError::Unsupported)
    }
    /// Removes a connection from a room.
    fn ws_leave(&self, _conn: u64, _room: &str) -> Result<(), WsError> {
        Err(WsError::Unsupported)
    }
    /// Sends to a room (or everyone), except one connection; returns the count reached.
    fn ws_broadcast(&self, _room: Option<&str>, _msg: WsPayload, _except: Option<u64>) -> u32 {
        0
    }
    /// The connections in a room.
    fn ws_room_members(&self, _room: &str) -> Vec<u64> {
        Vec::new()
    }
    /// Publishes a Server-Sent Event; returns the subscribers reached.
    fn publish(&self, _topic: &str, _data: &str, _event: Option<&str>, _id: Option<&str>) -> u32 {
        0
    }
}

/// The host as one plugin sees it: the shared [`HostApi`] plus the plugin's identity.
/// Engines store one in each instance and route every import to it.
#[derive(Clone)]
pub struct PluginHost {
    api: Arc<dyn HostApi>,
    plugin: Arc<str>,
}

/// The prefix under which the shared namespace lives in the store.
const SHARED_PREFIX: &str = "shared/";

impl PluginHost {
    /// The host for the plugin named `plugin`.
    pub fn new(api: Arc<dyn HostApi>, plugin: &str) -> PluginHost {
        PluginHost {
            api,
            plugin: plugin.into(),
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The shared host API.
    pub fn api(&self) -> &Arc<dyn HostApi> {
        &self.api
    }

    /// Maps a plugin's key to its key in the store. Plugin namespaces are `plugin/<name>/`
    /// and the shared one is `shared/`, so no plugin can reach another's keys.
    fn namespace(&self, scope: Scope) -> String {
        match scope {
            Scope::Plugin => format!("plugin/{}/", self.plugin),
            Scope::Shared => String::from(SHARED_PREFIX),
        }
    }

    /// `log`.
    pub fn log(&self, level: Level, message: &str) {
        self.api.log(&self.plugin, level, message);
    }

    /// `state-get`.
    pub fn state_get(&self, scope: Scope, key: &str) -> Option<Vec<u8>> {
        self.api.store().get(&(self.namespace(scope) + key))
    }

    /// `state-set`.
    pub fn state_set(&self, scope: Scope, key: &str, value: Vec<u8>, ttl_ms: Option<u64>) {
        self.api
            .store()
            .set(&(self.namespace(scope) + key), value, ttl_ms);
    }

    /// `state-delete`.
    pub fn state_delete(&self, scope: Scope, key: &str) -> bool {
        self.api.store().delete(&(self.namespace(scope) + key))
    }

    /// `state-incr`.
    pub fn state_incr(&self, scope: Scope, key: &str, delta: i64) -> Result<i64, String> {
        self.api
            .store()
            .incr(&(self.namespace(scope) + key), delta)
            .map_err(|e: StateError| format!("{e}"))
    }

    /// `state-keys`: keys come back without the namespace prefix.
    pub fn state_keys(&self, scope: Scope, prefix: &str) -> Vec<String> {
        let ns = self.namespace(scope);
        self.api
            .store()
            .keys(&(ns.clone() + prefix))
            .into_iter()
            .map(|k| String::from(&k[ns.len()..]))
            .collect()
    }

    /// `ws-send`.
    pub fn ws_send(&self, conn: u64, msg: WsPayload) -> Result<(), WsError> {
        self.api.ws_send(conn, msg)
    }
    /// `ws-close`.
    pub fn ws_close(&self, conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
        self.api.ws_close(conn, code, reason)
    }
    /// `ws-data-get`.
    pub fn ws_data_get(&self, conn: u64, key: &str) -> Option<String> {
        self.api.ws_data_get(conn, key)
    }
    /// `ws-data-set`.
    pub fn ws_data_set(&self, conn: u64, key: &str, value: Option<String>) -> Result<(), WsError> {
        self.api.ws_data_set(conn, key, value)
    }
    /// `ws-join`.
    pub fn ws_join(&self, conn: u64, room: &str) -> Result<(), WsError> {
        self.api.ws_join(conn, room)
    }
    /// `ws-leave`.
    pub fn ws_leave(&self, conn: u64, room: &str) -> Result<(), WsError> {
        self.api.ws_leave(conn, room)
    }
    /// `ws-broadcast`.
    pub fn ws_broadcast(&self, room: Option<&str>, msg: WsPayload, except: Option<u64>) -> u32 {
        self.api.ws_broadcast(room, msg, except)
    }
    /// `ws-room-members`.
    pub fn ws_room_members(&self, room: &str) -> Vec<u64> {
        self.api.ws_room_members(room)
    }
    /// `publish`.
    pub fn publish(&self, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
        self.api.publish(topic, data, event, id)
    }
    /// `now-ms`.
    pub fn now_ms(&self) -> u64 {
        self.api.now_ms()
    }
    /// `random-u64`.
    pub fn random_u64(&self) -> u64 {
        self.api.random_u64()
    }
}
