//! The server's [`HostApi`]: tracing for logs, the in-memory store, the WebSocket hub,
//! the SSE hub behind `publish`, the system clock, the OS random source, a simulated
//! GPIO bank, the process's memory figures, and trimming the instance pools when a
//! plugin asks for `memory-collect`.

use std::sync::{Arc, OnceLock};

use berth_core::device::{self, DeviceError, MemoryStats, SimulatedPins};
use berth_core::host::{HostApi, Level, WsError};
use berth_core::limits::Limits;
use berth_core::model::WsPayload;
use berth_core::state::{MemoryStore, StdClock, Store};

use crate::cluster::Cluster;
use crate::sse::SseHub;
use crate::ws::Hub;

/// What every plugin on this server shares.
pub struct ServerHost {
    /// berth-core's bounded store, on the process's monotonic clock; or, in a cluster,
    /// the one in Redis every node shares.
    store: Box<dyn Store>,
    /// In a cluster, the `ws-*` imports and `publish` go through it (to other nodes too).
    cluster: Option<Arc<Cluster>>,
    ws: Arc<Hub>,
    sse: Arc<SseHub>,
    /// A desktop has no GPIO: pins live in memory, and every write is logged.
    pins: SimulatedPins,
    /// Drops idle warm instances; set once the pools exist (they are built after the
    /// host, since every instance holds it). Returns how many it dropped.
    collector: OnceLock<Collector>,
}

/// What `memory-collect` runs: see [`ServerHost::set_collector`].
pub type Collector = Box<dyn Fn() -> usize + Send + Sync>;

/// This process's resident set and the machine's available memory, from `/proc` (zeros
/// where a figure cannot be read, e.g. off Linux).
fn process_memory() -> MemoryStats {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    MemoryStats {
        free: device::meminfo_available(&read("/proc/meminfo")).unwrap_or(0),
        used: device::status_rss(&read("/proc/self/status")).unwrap_or(0),
    }
}

impl ServerHost {
    /// A host whose `ws-*` imports act on `ws`, whose `publish` feeds `sse`, and whose
    /// state store is bounded by `limits`.
    pub fn new(ws: Arc<Hub>, sse: Arc<SseHub>, limits: &Limits) -> ServerHost {
        ServerHost {
            store: Box::new(MemoryStore::new(limits.state(), StdClock::default())),
            cluster: None,
            ws,
            sse,
            pins: SimulatedPins::new(),
            collector: OnceLock::new(),
        }
    }

    /// The same host as a node of `cluster`: state in Redis (bounded by `limits`' state
    /// quota), WebSockets and SSE across every node.
    pub fn with_cluster(mut self, cluster: Arc<Cluster>, limits: &Limits) -> ServerHost {
        self.store = Box::new(crate::cluster::state::RedisStore::new(
            cluster.core().clone(),
            limits.state(),
        ));
        self.cluster = Some(cluster);
        self
    }

    /// Counts every state call on `metrics` (`berth_state_*`).
    pub(crate) fn metered(mut self, metrics: &crate::metrics::Metrics) -> ServerHost {
        self.store = Box::new(crate::state_metrics::MeteredStore::new(
            self.store,
            metrics.state(),
        ));
        self
    }

    /// Sets what `memory-collect` does (the server passes "trim every pool to one idle
    /// instance"); only the first call counts.
    pub fn set_collector(&self, collector: Collector) {
        let _ = self.collector.set(collector);
    }
}

impl Default for ServerHost {
    /// A host with empty hubs of the default limits (for tools like `berth inspect`).
    fn default() -> Self {
        let limits = Limits::default();
        ServerHost::new(
            Arc::new(Hub::new(&limits)),
            Arc::new(SseHub::default()),
            &limits,
        )
    }
}

impl HostApi for ServerHost {
    fn log(&self, plugin: &str, level: Level, message: &str) {
        // The id of the request whose plugin call writes this, when there is one.
        crate::request_id::with_current(|request_id| match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, request_id, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, request_id, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, request_id, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, request_id, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, request_id, "{message}"),
        })
    }

    /// Answers from the subscriber's filter for the `plugin` target (`[log]`, RUST_LOG).
    fn log_enabled(&self, _plugin: &str, level: Level) -> bool {
        match level {
            Level::Trace => tracing::enabled!(target: "plugin", tracing::Level::TRACE),
            Level::Debug => tracing::enabled!(target: "plugin", tracing::Level::DEBUG),
            Level::Info => tracing::enabled!(target: "plugin", tracing::Level::INFO),
            Level::Warn => tracing::enabled!(target: "plugin", tracing::Level::WARN),
            Level::Error => tracing::enabled!(target: "plugin", tracing::Level::ERROR),
        }
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn random_u64(&self) -> u64 {
        // The OS source only fails on exotic platforms early in boot; a server never
        // gets there, and a predictable fallback would be worse than stopping.
        getrandom::u64().unwrap_or_else(|e| panic!("OS random source failed: {e}"))
    }

    fn ws_send(&self, conn: u64, msg: WsPayload) -> Result<(), WsError> {
        match &self.cluster {
            Some(cluster) => cluster.ws_send(conn, msg),
            None => self.ws.send(conn, msg),
        }
    }

    fn ws_close(&self, conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
        match &self.cluster {
            Some(cluster) => cluster.ws_close(conn, code, reason),
            None => self.ws.close(conn, code, reason),
        }
    }

    fn ws_data_get(&self, conn: u64, key: &str) -> Option<String> {
        match &self.cluster {
            Some(cluster) => cluster.ws_data_get(conn, key),
            None => self.ws.data_get(conn, key),
        }
    }

    fn ws_data_set(&self, conn: u64, key: &str, value: Option<String>) -> Result<(), WsError> {
        match &self.cluster {
            Some(cluster) => cluster.ws_data_set(conn, key, value),
            None => self.ws.data_set(conn, key, value),
        }
    }

    fn ws_join(&self, conn: u64, room: &str) -> Result<(), WsError> {
        match &self.cluster {
            Some(cluster) => cluster.ws_join(conn, room),
            None => self.ws.join(conn, room),
        }
    }

    fn ws_leave(&self, conn: u64, room: &str) -> Result<(), WsError> {
        match &self.cluster {
            Some(cluster) => cluster.ws_leave(conn, room),
            None => self.ws.leave(conn, room),
        }
    }

    fn ws_broadcast(&self, room: Option<&str>, msg: WsPayload, except: Option<u64>) -> u32 {
        match &self.cluster {
            Some(cluster) => cluster.ws_broadcast(room, msg, except),
            None => self.ws.broadcast(room, msg, except),
        }
    }

    fn ws_room_members(&self, room: &str) -> Vec<u64> {
        match &self.cluster {
            Some(cluster) => cluster.ws_room_members(room),
            None => self.ws.room_members(room),
        }
    }

    fn publish(&self, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
        match &self.cluster {
            Some(cluster) => cluster.publish(topic, data, event, id),
            None => self.sse.publish(topic, data, event, id),
        }
    }

    fn gpio_write(&self, plugin: &str, pin: u8, high: bool) -> Result<(), DeviceError> {
        self.pins.write(pin, high)?;
        let level = if high { "high" } else { "low" };
        tracing::info!(target: "gpio", "gpio pin={pin} level={level} plugin={plugin}");
        Ok(())
    }

    fn gpio_read(&self, _plugin: &str, pin: u8) -> Result<bool, DeviceError> {
        self.pins.read(pin)
    }

    fn memory(&self) -> MemoryStats {
        process_memory()
    }

    fn memory_collect(&self, plugin: &str) {
        let dropped = self.collector.get().map_or(0, |collect| collect());
        tracing::info!("memory-collect plugin={plugin}: dropped {dropped} idle instance(s)");
    }

    fn denied(&self, plugin: &str, message: &str) {
        tracing::warn!(plugin, "{message}");
    }
}
