//! The server's [`HostApi`]: tracing for logs, the in-memory store, the system clock,
//! the OS random source and the SSE hub behind `publish`.

use std::sync::Arc;

use berth_core::host::{HostApi, Level};
use berth_core::state::{MemoryStore, Store};

use crate::sse::SseHub;

/// What every plugin on this server shares.
#[derive(Default)]
pub struct ServerHost {
    store: MemoryStore,
    sse: Arc<SseHub>,
}

impl ServerHost {
    /// A host whose `publish` feeds `hub`.
    pub fn with_sse(hub: Arc<SseHub>) -> ServerHost {
        ServerHost {
            sse: hub,
            ..ServerHost::default()
        }
    }
}

impl HostApi for ServerHost {
    fn log(&self, plugin: &str, level: Level, message: &str) {
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, "{message}"),
        }
    }

    fn store(&self) -> &dyn Store {
        &self.store
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

    fn publish(&self, topic: &str, data: &str, event: Option<&str>, id: Option<&str>) -> u32 {
        self.sse.publish(topic, data, event, id)
    }
}
