//! Scale-out through Redis (`[cluster]`): several server nodes behind a load balancer
//! share state, WebSocket rooms and connections, SSE topics and cluster-wide timers.
//! The server runtime only; without `[cluster]` none of this exists.
//!
//! **Wiring.** [`Cluster::connect`] claims a node number in Redis (`presence`), which
//! makes this node's WebSocket ids unique in the cluster: an id is the node number
//! shifted left 40 bits plus a local sequence, so any node can tell from an id alone
//! which node holds the connection (ids stay below 2^53, safe in JSON). Then
//! [`Cluster::attach`] starts the background tasks: the heartbeat that renews the
//! presence, the subscriber of the bus (`bus`), and the timer leases (`lease`).
//! `ServerHost` routes the state imports to [`state::RedisStore`] and the `ws-*` and
//! `publish` imports to this type's methods (`ws`).
//!
//! **Why host calls block, boundedly.** The `HostApi` imports are synchronous (both
//! engines call them from inside a guest call, and the wasmi ABI is hand-written), so a
//! Redis round trip cannot be awaited there. Instead every Redis call runs on a runtime
//! of the cluster's own (one thread, so Redis I/O never waits for a busy server
//! worker), and the calling worker waits for it with a deadline (`[cluster] timeout`)
//! inside `block_in_place`, which hands the worker's other tasks to another thread while
//! it waits. After a failure the cluster is marked down and later calls fail at once
//! until the heartbeat reaches Redis again, so a Redis outage costs each call nothing
//! but an error: state calls return [`StateError::Unavailable`](berth_core::state::StateError)
//! (the SDK answers 503), and WebSocket traffic on this node goes on locally.
//!
//! The Redis client is redis-rs's `ConnectionManager`: one multiplexed connection that
//! pipelines concurrent calls and reconnects by itself. Every multi-key step is one Lua
//! script, so it is atomic across nodes. One Redis (or a primary), not Redis Cluster:
//! the scripts touch keys they compute.

mod bus;
mod lease;
mod presence;
pub(crate) mod state;
mod ws;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use berth_config::{ClusterConfig, TimerScope};
use redis::aio::ConnectionManager;

use crate::sse::SseHub;
use crate::ws::Hub;

/// The bits of a WebSocket id below the node number.
const NODE_SHIFT: u32 = 40;
/// Node numbers are 1 to this (13 bits: ids stay exact in a JSON number).
const MAX_NODE: u64 = 8191;

/// The node holding connection `id` (0 for an id no node made).
pub(crate) fn node_of(id: u64) -> u64 {
    id >> NODE_SHIFT
}

/// Why the cluster could not start, or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis refused the URL, or answered with an error.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer within `[cluster] timeout`.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// An earlier call failed and the heartbeat has not reached Redis since.
    #[error("redis is unreachable (reconnecting)")]
    Down,
    /// `ca_file` could not be read.
    #[error("{0}")]
    Tls(String),
    /// Every node number is taken.
    #[error("no free node number (all {MAX_NODE} are live)")]
    NoNodeNumber,
    /// The cluster's thread could not start.
    #[error("cannot start the cluster thread: {0}")]
    Thread(std::io::Error),
}

/// What every part of the cluster shares: the Redis connection and its runtime.
pub(crate) struct Core {
    /// The cluster's own runtime: every Redis future runs here.
    rt: tokio::runtime::Handle,
    /// Kept so the runtime's thread ends when the cluster is dropped.
    _stop: std::sync::mpsc::SyncSender<()>,
    client: redis::Client,
    conn: ConnectionManager,
    /// This node's number (1..=8191) and the token that proves its presence is ours.
    node: u64,
    token: String,
    name: String,
    timeout: Duration,
    presence_ttl: Duration,
    /// False after a failed call, until the heartbeat reaches Redis again.
    up: AtomicBool,
    /// Clean-ups of connections that left while Redis was unreachable, run by the
    /// heartbeat once it is back (at most [`MAX_DEFERRED`]).
    deferred: Mutex<Vec<ws::Forgotten>>,
}

/// The most clean-ups kept for after an outage; older ones are dropped (their ids then
/// stay in room sets until this node's presence ends).
const MAX_DEFERRED: usize = 100_000;

impl Core {
    /// Runs `f` against Redis on the cluster runtime and waits, at most `timeout`, for
    /// its answer. Fails at once while the cluster is down.
    pub(crate) fn call<T, F, Fut>(&self, f: F) -> Result<T, ClusterError>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>> + Send + 'static,
    {
        if !self.up.load(Ordering::Relaxed) {
            return Err(ClusterError::Down);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let timeout = self.timeout;
        let fut = f(self.conn.clone());
        self.rt.spawn(async move {
            let answer = tokio::time::timeout(timeout, fut).await;
            let _ = tx.send(answer);
        });
        // A little more than the task's own deadline: the task answers first.
        let wait = || rx.recv_timeout(timeout + Duration::from_millis(50));
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        let result = match answer {
            Ok(Ok(Ok(value))) => return Ok(value),
            Ok(Ok(Err(e))) => ClusterError::Redis(e),
            Ok(Err(_)) | Err(_) => ClusterError::Timeout(timeout),
        };
        self.failed(&result);
        Err(result)
    }

    /// Keeps a clean-up for when Redis is back.
    pub(crate) fn defer(&self, gone: ws::Forgotten) {
        let mut deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        if deferred.len() >= MAX_DEFERRED {
            deferred.remove(0);
        }
        deferred.push(gone);
    }

    /// Runs the deferred clean-ups (after the heartbeat reached Redis); those that fail
    /// again are kept.
    pub(crate) async fn run_deferred(&self) {
        let list = std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|p| p.into_inner()));
        if list.is_empty() {
            return;
        }
        let n = list.len();
        if ws::clean(self, &list).await.is_ok() {
            tracing::info!(target: "cluster", "cleaned up {n} connection(s) that left during the outage");
        } else {
            for gone in list {
                self.defer(gone);
            }
        }
    }

    /// Runs `f` against Redis on the cluster runtime without waiting (what needs no
    /// answer and is rewritten by the next heartbeat anyway: the connection count).
    /// Failures are logged.
    pub(crate) fn spawn<F, Fut>(&self, what: &'static str, f: F)
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<()>> + Send + 'static,
    {
        let fut = f(self.conn.clone());
        let timeout = self.timeout;
        self.rt.spawn(async move {
            match tokio::time::timeout(timeout, fut).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(target: "cluster", "{what}: {e}"),
                Err(_) => tracing::warn!(target: "cluster", "{what}: no answer in {timeout:?}"),
            }
        });
    }

    /// Marks the cluster down after a failure that says Redis is not there (not after a
    /// script's own error), and logs the first one.
    fn failed(&self, e: &ClusterError) {
        let unreachable = match e {
            ClusterError::Redis(r) => {
                r.is_io_error() || r.is_connection_dropped() || r.is_timeout()
            }
            _ => true,
        };
        if unreachable && self.up.swap(false, Ordering::Relaxed) {
            tracing::error!(target: "cluster", "redis unreachable ({e}); failing fast until it is back");
        }
    }
}

/// A node of a cluster: the Redis connection plus this node's hubs.
pub struct Cluster {
    core: Arc<Core>,
    ws: OnceLock<Arc<Hub>>,
    sse: OnceLock<Arc<SseHub>>,
    timers: std::collections::BTreeMap<String, TimerScope>,
    leases: lease::Leases,
}

impl Cluster {
    /// Connects to `config.redis` (within a few timeouts) and claims a node number.
    pub async fn connect(config: &ClusterConfig) -> Result<Arc<Cluster>, ClusterError> {
        let client = client(config)?;
        let (stop, stopped) = std::sync::mpsc::sync_channel::<()>(0);
        let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("berth-cluster".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                // Runs the spawned Redis tasks until the cluster is dropped.
                rt.block_on(async move {
                    let _ = tokio::task::spawn_blocking(move || stopped.recv()).await;
                });
            })
            .map_err(ClusterError::Thread)?;
        let rt = handle_rx
            .await
            .map_err(|_| ClusterError::Thread(std::io::Error::other("cluster thread died")))?
            .map_err(ClusterError::Thread)?;
        let name = match &config.node {
            Some(name) => name.clone(),
            None => default_node_name(),
        };
        let timeout = config.timeout;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_secs(1))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connect_client = client.clone();
        let conn = rt
            .spawn(async move {
                ConnectionManager::new_with_config(connect_client, manager_config).await
            })
            .await
            .map_err(|e| ClusterError::Thread(std::io::Error::other(e)))??;
        let token = format!("{name}#{:016x}", getrandom::u64().unwrap_or_default());
        let ttl = config.presence_ttl;
        let mut claim_conn = conn.clone();
        let claim_token = token.clone();
        let node = rt
            .spawn(async move { presence::claim(&mut claim_conn, &claim_token, ttl).await })
            .await
            .map_err(|e| ClusterError::Thread(std::io::Error::other(e)))??;
        tracing::info!(target: "cluster", node = name, number = node, "joined the cluster");
        let core = Arc::new(Core {
            rt,
            _stop: stop,
            client,
            conn,
            node,
            token,
            name,
            timeout,
            presence_ttl: ttl,
            up: AtomicBool::new(true),
            deferred: Mutex::new(Vec::new()),
        });
        Ok(Arc::new(Cluster {
            leases: lease::Leases::new(core.clone()),
            core,
            ws: OnceLock::new(),
            sse: OnceLock::new(),
            timers: config.timers.clone(),
        }))
    }

    /// The ids this node's WebSocket registry starts after.
    pub fn id_base(&self) -> u64 {
        self.core.node << NODE_SHIFT
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// Whether Redis answers: false from a failed call (or heartbeat) until the
    /// heartbeat reaches it again. `/readyz` reports it.
    pub fn reachable(&self) -> bool {
        self.core.up.load(Ordering::Relaxed)
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Starts the heartbeat, the bus subscriber and the leases, delivering what other
    /// nodes send to `ws` and `sse`; returns once the bus is subscribed (so a node
    /// that listens hears the others), or fails after a few timeouts.
    pub async fn attach(
        self: &Arc<Self>,
        ws: Arc<Hub>,
        sse: Arc<SseHub>,
    ) -> Result<(), ClusterError> {
        let _ = self.ws.set(ws.clone());
        let _ = self.sse.set(sse.clone());
        let core = self.core.clone();
        ws.on_leave(Box::new(move |id, rooms, keys| {
            ws::forget(&core, id, rooms, keys)
        }));
        let core = self.core.clone();
        ws.on_count(Box::new(move |n| presence::count(&core, n)));
        self.core
            .rt
            .spawn(presence::heartbeat(self.core.clone(), ws.clone()));
        let (ready, subscribed) = tokio::sync::oneshot::channel();
        self.core
            .rt
            .spawn(bus::subscribe(self.core.clone(), ws, sse, ready));
        self.core.rt.spawn(self.leases.run());
        let wait = self.core.timeout.max(Duration::from_secs(1)) * 3;
        match tokio::time::timeout(wait, subscribed).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(ClusterError::Timeout(wait)),
        }
    }

    /// Whether this node fires `plugin`'s timer number `index` now: always for a
    /// per-node timer; for a cluster-wide one, only while this node holds its lease.
    pub(crate) fn fires_timer(&self, plugin: &str, index: usize) -> bool {
        match self.timers.get(plugin).copied().unwrap_or_default() {
            TimerScope::Node => true,
            TimerScope::Cluster => self.leases.holds(&format!("timer:{plugin}:{index}")),
        }
    }

    /// Leaves the cluster at shutdown: releases leases and presence, so another node
    /// takes over at once rather than after the TTL.
    pub async fn leave(&self) {
        let core = self.core.clone();
        let leases = self.leases.names();
        let done = self.core.rt.spawn(async move {
            let mut conn = core.conn.clone();
            lease::release(&mut conn, &core.token, &leases).await;
            presence::release(&mut conn, core.node, &core.token).await;
        });
        let _ = tokio::time::timeout(self.core.timeout * 2, done).await;
    }

    fn hub(&self) -> Option<&Arc<Hub>> {
        self.ws.get()
    }
}

/// The Redis client for `config.redis`: for `rediss://`, rustls with the ring provider
/// (installed unless the process has one already) and `ca_file`'s roots, or the
/// system's.
fn client(config: &ClusterConfig) -> Result<redis::Client, ClusterError> {
    if !config.redis.starts_with("rediss://") {
        return Ok(redis::Client::open(config.redis.as_str())?);
    }
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Fails only when another thread installed one meanwhile: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let root_cert = match &config.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            ClusterError::Tls(format!(
                "cannot read [cluster] ca_file {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let certs = redis::TlsCertificates {
        client_tls: None,
        root_cert,
    };
    Ok(redis::Client::build_with_tls(config.redis.as_str(), certs)?)
}

/// The host name and process id, when `[cluster] node` is not set.
fn default_node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", std::process::id())
}
