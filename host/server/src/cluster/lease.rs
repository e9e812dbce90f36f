//! Leases for cluster-wide timers: `berth:lease:<name>` holds the token of the one node
//! that fires the timer, with an expiry (`SET NX PX`, renewed by a compare-and-expire
//! script). Every node tries each second; the holder renews, the others find it taken.
//! When the holder dies, its lease expires within [`TTL`] and the next try elsewhere
//! takes it: a timer moves in at most `TTL` + one second.
//!
//! A node believes it holds a lease only until the expiry it last wrote, minus a
//! margin, so a node cut off from Redis stops firing before another can start.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;
use tokio::time::Instant;

use super::Core;

/// How long a lease lives without renewal.
const TTL: Duration = Duration::from_secs(3);
/// How often every node tries its leases.
const EVERY: Duration = Duration::from_secs(1);
/// How long before the written expiry a holder stops trusting its lease.
const MARGIN: Duration = Duration::from_millis(500);

/// Takes the lease when free, renews it when ours: 1 when held.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local cur = redis.call('GET', KEYS[1])
        if cur == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return 1
        end
        if cur then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1",
    )
});

/// Deletes the lease if ours.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 1",
    )
});

fn key(name: &str) -> String {
    format!("berth:lease:{name}")
}

/// The leases this node wants, and until when it holds each.
pub(crate) struct Leases {
    core: Arc<Core>,
    held: Arc<Mutex<BTreeMap<String, Option<Instant>>>>,
}

impl Leases {
    pub(crate) fn new(core: Arc<Core>) -> Leases {
        Leases {
            core,
            held: Arc::default(),
        }
    }

    fn lock(
        held: &Mutex<BTreeMap<String, Option<Instant>>>,
    ) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<Instant>>> {
        // Single inserts and updates: a panic cannot leave the map torn.
        held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this node holds lease `name` now; the first question makes the node
    /// want it (it is tried within a second).
    pub(crate) fn holds(&self, name: &str) -> bool {
        let mut held = Self::lock(&self.held);
        match held.get(name) {
            Some(Some(until)) => Instant::now() < *until,
            Some(None) => false,
            None => {
                held.insert(name.to_string(), None);
                false
            }
        }
    }

    /// The leases wanted (for releasing them at shutdown).
    pub(crate) fn names(&self) -> Vec<String> {
        Self::lock(&self.held).keys().cloned().collect()
    }

    /// Tries every wanted lease each second, forever.
    pub(crate) fn run(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let core = self.core.clone();
        let held = self.held.clone();
        async move {
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tick.tick().await;
                let names: Vec<String> = Self::lock(&held).keys().cloned().collect();
                let mut conn = core.conn.clone();
                for name in names {
                    let started = Instant::now();
                    let mut invocation = ACQUIRE.key(key(&name));
                    invocation.arg(&core.token).arg(TTL.as_millis() as u64);
                    let got = invocation.invoke_async::<i64>(&mut conn);
                    let until = match tokio::time::timeout(core.timeout, got).await {
                        Ok(Ok(1)) => Some(started + TTL - MARGIN),
                        _ => None,
                    };
                    let mut map = Self::lock(&held);
                    let was = map.get(&name).copied().flatten().is_some();
                    if until.is_some() != was {
                        let action = if until.is_some() { "took" } else { "lost" };
                        tracing::info!(target: "cluster", lease = name, "{action} the lease");
                    }
                    map.insert(name, until);
                }
            }
        }
    }
}

/// Releases `names` if this node (`token`) holds them.
pub(crate) async fn release(conn: &mut ConnectionManager, token: &str, names: &[String]) {
    for name in names {
        let _: redis::RedisResult<i64> = RELEASE.key(key(name)).arg(token).invoke_async(conn).await;
    }
}
