//! The host API that plugins import (`interface host` in the WIT).
//!
//! Servers implement [`HostApi`] once; both engines wire every import to the matching
//! method of [`PluginHost`], which adds what is per-plugin (the name in logs, the state
//! namespace). So the semantics of each import live here, in one place.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::device::{DeviceError, GpioGrant, MemoryStats};
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

pub use crate::ws_registry::WsError;

/// What a server provides to all plugins. Methods with defaults are features a host
/// may lack (an HTTP-only host has no WebSockets): plugins get `unsupported` or zero.
pub trait HostApi: Send + Sync {
    /// Writes a plugin's log line.
    fn log(&self, plugin: &str, level: Level, message: &str);
    /// Whether a line of `plugin` at `level` would be written (`log-enabled`). The
    /// default, `true`, is always correct; a host with level filters answers from them
    /// so the guest can skip formatting.
    fn log_enabled(&self, _plugin: &str, _level: Level) -> bool {
        true
    }
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

    /// Drives a pin for `plugin`. Only called for pins the plugin was granted:
    /// [`PluginHost::gpio_write`] has checked the grant.
    fn gpio_write(&self, _plugin: &str, _pin: u8, _high: bool) -> Result<(), DeviceError> {
        Err(DeviceError::Unsupported)
    }
    /// Reads a pin for `plugin` (granted, as for [`HostApi::gpio_write`]).
    fn gpio_read(&self, _plugin: &str, _pin: u8) -> Result<bool, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    /// Memory figures; zeros when the host cannot tell (see [`MemoryStats`]).
    fn memory(&self) -> MemoryStats {
        MemoryStats::default()
    }
    /// Releases what the host keeps only for speed (warm instances, say), at a plugin's
    /// request (`memory-collect`, seed 002's `gc.collect()`).
    fn memory_collect(&self, _plugin: &str) {}
    /// Reports that `plugin` was refused something it was not granted. The default logs
    /// a warning attributed to the plugin.
    fn denied(&self, plugin: &str, message: &str) {
        self.log(plugin, Level::Warn, message);
    }
}

/// The host as one plugin sees it: the shared [`HostApi`] plus the plugin's identity.
/// Engines store one in each instance and route every import to it.
#[derive(Clone)]
pub struct PluginHost {
    api: Arc<dyn HostApi>,
    plugin: Arc<str>,
    gpio: GpioGrant,
}

/// The namespace every plugin shares in the store.
const SHARED_NAMESPACE: &str = "shared";

impl PluginHost {
    /// The host for the plugin named `plugin`.
    pub fn new(api: Arc<dyn HostApi>, plugin: &str) -> PluginHost {
        PluginHost {
            api,
            plugin: plugin.into(),
            gpio: GpioGrant::NONE,
        }
    }

    /// The same host, allowed the pins of `grant` (`[grants.<plugin>] gpio`).
    pub fn with_gpio(mut self, grant: GpioGrant) -> PluginHost {
        self.gpio = grant;
        self
    }

    /// The pins this plugin may use.
    pub fn gpio_grant(&self) -> GpioGrant {
        self.gpio
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The shared host API.
    pub fn api(&self) -> &Arc<dyn HostApi> {
        &self.api
    }

    /// The store namespace a call addresses. Plugin namespaces are `plugin/<name>` and
    /// the shared one is `shared`, so no plugin can reach another's keys, and each has
    /// its own quota.
    fn namespace(&self, scope: Scope) -> String {
        match scope {
            Scope::Plugin => format!("plugin/{}", self.plugin),
            Scope::Shared => String::from(SHARED_NAMESPACE),
        }
    }

    /// `log`: the message with its control characters escaped, so a plugin (or the
    /// peer text it logs) can never start a line of its own ([`crate::access`]).
    pub fn log(&self, level: Level, message: &str) {
        self.api
            .log(&self.plugin, level, &crate::access::escape(message));
    }

    /// `log-enabled`.
    pub fn log_enabled(&self, level: Level) -> bool {
        self.api.log_enabled(&self.plugin, level)
    }

    /// `state-try-get`: `Err` is the text the plugin sees when the store could not be
    /// reached ([`StateError::Unavailable`]).
    pub fn state_try_get(&self, scope: Scope, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.api
            .store()
            .get(&self.namespace(scope), key)
            .map_err(|e| format!("{e}"))
    }

    /// `state-get`, which has no error: an unreachable store answers "missing", and the
    /// plugin's log says why (`state-try-get` returns it to the plugin).
    pub fn state_get(&self, scope: Scope, key: &str) -> Option<Vec<u8>> {
        self.logged(self.state_try_get(scope, key))
    }

    /// `state-set` and `state-put`: `Err` carries the text the plugin sees when the
    /// namespace's quota (`[limits] state_*`) would be passed; nothing is stored then.
    pub fn state_set(
        &self,
        scope: Scope,
        key: &str,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), String> {
        self.api
            .store()
            .set(&self.namespace(scope), key, value, ttl_ms)
            .map_err(|e| match e {
                StateError::Unavailable(_) => format!("{e}"),
                quota => self.state_refused("state-set", quota),
            })
    }

    /// `state-try-delete`.
    pub fn state_try_delete(&self, scope: Scope, key: &str) -> Result<bool, String> {
        self.api
            .store()
            .delete(&self.namespace(scope), key)
            .map_err(|e| format!("{e}"))
    }

    /// `state-delete`: an unreachable store answers `false`, logged.
    pub fn state_delete(&self, scope: Scope, key: &str) -> bool {
        self.logged(self.state_try_delete(scope, key))
    }

    /// `state-incr`.
    pub fn state_incr(&self, scope: Scope, key: &str, delta: i64) -> Result<i64, String> {
        self.api
            .store()
            .incr(&self.namespace(scope), key, delta)
            .map_err(|e| match e {
                StateError::NotAnInteger | StateError::Overflow | StateError::Unavailable(_) => {
                    format!("{e}")
                }
                quota => self.state_refused("state-incr", quota),
            })
    }

    /// `state-try-keys`.
    pub fn state_try_keys(&self, scope: Scope, prefix: &str) -> Result<Vec<String>, String> {
        self.api
            .store()
            .keys(&self.namespace(scope), prefix)
            .map_err(|e| format!("{e}"))
    }

    /// `state-keys`: an unreachable store answers no keys, logged.
    pub fn state_keys(&self, scope: Scope, prefix: &str) -> Vec<String> {
        self.logged(self.state_try_keys(scope, prefix))
    }

    /// The answer of a state call that has no error in the WIT: the default, with the
    /// reason in the plugin's log.
    fn logged<T: Default>(&self, r: Result<T, String>) -> T {
        r.unwrap_or_else(|e| {
            self.log(Level::Warn, &e);
            T::default()
        })
    }

    /// A quota refusal, as the text the plugin sees.
    fn state_refused(&self, what: &str, e: StateError) -> String {
        format!("{what} refused: {e}")
    }

    /// `state-set`, which has no result: a refusal goes to the plugin's log instead
    /// (`state-try-set` returns it to the plugin).
    pub fn state_set_logged(&self, scope: Scope, key: &str, value: Vec<u8>, ttl_ms: Option<u64>) {
        if let Err(e) = self.state_set(scope, key, value, ttl_ms) {
            self.log(Level::Warn, &e);
        }
    }

    /// `ws-send`.
    pub fn ws_send(&self, conn: u64, msg: WsPayload) -> Result<(), WsError> {
        self.api.ws_send(conn, msg)
    }
    /// `ws-close`: only a code a peer may receive goes on the wire (RFC 6455 §7.4); any
    /// other is replaced by 1000 and the plugin's log says so. The reason is cut to 123
    /// bytes on a character boundary.
    pub fn ws_close(&self, conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
        let (sent, reason, replaced) = crate::ws_registry::plugin_close(code, reason);
        if replaced {
            self.log(
                Level::Warn,
                &format!(
                    "ws-close code {code} cannot be sent (RFC 6455 §7.4 allows 1000-1003, \
                     1007-1011, 3000-4999): closing with {sent} instead"
                ),
            );
        }
        self.api.ws_close(conn, sent, reason)
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

    /// The grant check of every pin operation: the one place it happens, for every host
    /// and both engines. A refusal is logged (plugin and pin) and is `not-granted`.
    fn check_pin(&self, pin: u8, what: &str) -> Result<(), DeviceError> {
        if self.gpio.allows(pin) {
            return Ok(());
        }
        let plugin = &*self.plugin;
        self.api.denied(
            plugin,
            &format!(
                "{what} on gpio pin {pin} refused: not granted to plugin {plugin} \
                 (add it to [grants.{plugin}] gpio)"
            ),
        );
        Err(DeviceError::NotGranted)
    }

    /// `gpio-write`.
    pub fn gpio_write(&self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.check_pin(pin, "gpio-write")?;
        self.api.gpio_write(&self.plugin, pin, high)
    }
    /// `gpio-read`.
    pub fn gpio_read(&self, pin: u8) -> Result<bool, DeviceError> {
        self.check_pin(pin, "gpio-read")?;
        self.api.gpio_read(&self.plugin, pin)
    }
    /// `memory`.
    pub fn memory(&self) -> MemoryStats {
        self.api.memory()
    }
    /// `memory-collect`.
    pub fn memory_collect(&self) {
        self.api.memory_collect(&self.plugin)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::state::{MemoryStore, StdClock};
    use std::sync::Mutex;

    /// Records what reaches the host behind the grant check.
    #[derive(Default)]
    struct Recorder {
        store: MemoryStore<StdClock>,
        writes: Mutex<Vec<(String, u8, bool)>>,
        warnings: Mutex<Vec<String>>,
    }

    impl HostApi for Recorder {
        fn log(&self, plugin: &str, level: Level, message: &str) {
            if level == Level::Warn {
                self.warnings
                    .lock()
                    .expect("lock")
                    .push(format!("{plugin}: {message}"));
            }
        }
        fn store(&self) -> &dyn Store {
            &self.store
        }
        fn now_ms(&self) -> u64 {
            0
        }
        fn random_u64(&self) -> u64 {
            4
        }
        fn gpio_write(&self, plugin: &str, pin: u8, high: bool) -> Result<(), DeviceError> {
            self.writes
                .lock()
                .expect("lock")
                .push((plugin.into(), pin, high));
            Ok(())
        }
    }

    #[test]
    fn only_granted_pins_reach_the_host() {
        let api = Arc::new(Recorder::default());
        let grant = GpioGrant::from_pins(&[2]).unwrap();
        let device = PluginHost::new(api.clone(), "device").with_gpio(grant);
        let other = PluginHost::new(api.clone(), "other");
        assert_eq!(device.gpio_write(2, true), Ok(()));
        assert_eq!(device.gpio_write(3, true), Err(DeviceError::NotGranted));
        assert_eq!(other.gpio_write(2, false), Err(DeviceError::NotGranted));
        assert_eq!(other.gpio_read(2), Err(DeviceError::NotGranted));
        // A granted read reaches a host without GPIO, which says so.
        assert_eq!(device.gpio_read(2), Err(DeviceError::Unsupported));
        assert_eq!(
            *api.writes.lock().expect("lock"),
            [("device".into(), 2, true)]
        );
        let warnings = api.warnings.lock().expect("lock");
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("device: gpio-write on gpio pin 3 refused"));
        assert!(warnings[1].contains("pin 2") && warnings[1].contains("[grants.other] gpio"));
        assert_eq!(device.memory(), MemoryStats::default());
    }
}
