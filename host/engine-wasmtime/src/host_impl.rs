//! The `host` imports on wasmtime: each one forwards to `berth_core::host::PluginHost`,
//! where the semantics live for both engines.

use berth_core::device as core_device;
use berth_core::host as core_host;
use berth_core::model::WsPayload;

use crate::bindings::{berth, t, DeviceError, FromWit, Level, MemoryStats, Scope, WsError};
use crate::StoreData;

fn level(l: Level) -> core_host::Level {
    match l {
        Level::Trace => core_host::Level::Trace,
        Level::Debug => core_host::Level::Debug,
        Level::Info => core_host::Level::Info,
        Level::Warn => core_host::Level::Warn,
        Level::Error => core_host::Level::Error,
    }
}

fn scope(s: Scope) -> core_host::Scope {
    match s {
        Scope::Plugin => core_host::Scope::Plugin,
        Scope::Shared => core_host::Scope::Shared,
    }
}

fn ws_result(r: Result<(), core_host::WsError>) -> Result<(), WsError> {
    r.map_err(|e| match e {
        core_host::WsError::NoSuchConnection => WsError::NoSuchConnection,
        core_host::WsError::QueueFull => WsError::QueueFull,
        core_host::WsError::Unsupported => WsError::Unsupported,
    })
}

fn device_error(e: core_device::DeviceError) -> DeviceError {
    match e {
        core_device::DeviceError::NotGranted => DeviceError::NotGranted,
        core_device::DeviceError::Unsupported => DeviceError::Unsupported,
        core_device::DeviceError::NoSuchPin => DeviceError::NoSuchPin,
    }
}

impl berth::plugin::types::Host for StoreData {}

impl berth::plugin::host::Host for StoreData {
    fn log(&mut self, l: Level, message: String) {
        self.host.log(level(l), &message);
    }

    fn state_get(&mut self, s: Scope, key: String) -> Option<Vec<u8>> {
        self.host.state_get(scope(s), &key)
    }

    fn state_set(&mut self, s: Scope, key: String, value: Vec<u8>, ttl_ms: Option<u64>) {
        self.host.state_set_logged(scope(s), &key, value, ttl_ms);
    }

    fn state_try_set(
        &mut self,
        s: Scope,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), String> {
        self.host.state_set(scope(s), &key, value, ttl_ms)
    }

    fn state_delete(&mut self, s: Scope, key: String) -> bool {
        self.host.state_delete(scope(s), &key)
    }

    fn state_incr(&mut self, s: Scope, key: String, delta: i64) -> Result<i64, String> {
        self.host.state_incr(scope(s), &key, delta)
    }

    fn state_keys(&mut self, s: Scope, prefix: String) -> Vec<String> {
        self.host.state_keys(scope(s), &prefix)
    }

    fn state_try_get(&mut self, s: Scope, key: String) -> Result<Option<Vec<u8>>, String> {
        self.host.state_try_get(scope(s), &key)
    }

    fn state_try_delete(&mut self, s: Scope, key: String) -> Result<bool, String> {
        self.host.state_try_delete(scope(s), &key)
    }

    fn state_try_keys(&mut self, s: Scope, prefix: String) -> Result<Vec<String>, String> {
        self.host.state_try_keys(scope(s), &prefix)
    }

    fn ws_send(&mut self, conn: u64, msg: t::WsPayload) -> Result<(), WsError> {
        ws_result(self.host.ws_send(conn, WsPayload::from_wit(msg)))
    }

    fn ws_close(&mut self, conn: u64, code: u16, reason: String) -> Result<(), WsError> {
        ws_result(self.host.ws_close(conn, code, &reason))
    }

    fn ws_data_get(&mut self, conn: u64, key: String) -> Option<String> {
        self.host.ws_data_get(conn, &key)
    }

    fn ws_data_set(
        &mut self,
        conn: u64,
        key: String,
        value: Option<String>,
    ) -> Result<(), WsError> {
        ws_result(self.host.ws_data_set(conn, &key, value))
    }

    fn ws_join(&mut self, conn: u64, room: String) -> Result<(), WsError> {
        ws_result(self.host.ws_join(conn, &room))
    }

    fn ws_leave(&mut self, conn: u64, room: String) -> Result<(), WsError> {
        ws_result(self.host.ws_leave(conn, &room))
    }

    fn ws_broadcast(
        &mut self,
        room: Option<String>,
        msg: t::WsPayload,
        except: Option<u64>,
    ) -> u32 {
        self.host
            .ws_broadcast(room.as_deref(), WsPayload::from_wit(msg), except)
    }

    fn ws_room_members(&mut self, room: String) -> Vec<u64> {
        self.host.ws_room_members(&room)
    }

    fn publish(
        &mut self,
        topic: String,
        data: String,
        event: Option<String>,
        id: Option<String>,
    ) -> u32 {
        self.host
            .publish(&topic, &data, event.as_deref(), id.as_deref())
    }

    fn now_ms(&mut self) -> u64 {
        self.host.now_ms()
    }

    fn random_u64(&mut self) -> u64 {
        self.host.random_u64()
    }

    fn gpio_write(&mut self, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.host.gpio_write(pin, high).map_err(device_error)
    }

    fn gpio_read(&mut self, pin: u8) -> Result<bool, DeviceError> {
        self.host.gpio_read(pin).map_err(device_error)
    }

    fn memory(&mut self) -> MemoryStats {
        let m = self.host.memory();
        MemoryStats {
            free: m.free,
            used: m.used,
        }
    }

    fn log_enabled(&mut self, l: Level) -> bool {
        self.host.log_enabled(level(l))
    }

    fn memory_collect(&mut self) {
        self.host.memory_collect();
    }
}
