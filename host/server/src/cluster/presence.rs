//! A node's presence: `berth:node:<n>`, a hash of the node's token and connection count
//! that expires after `presence_ttl` unless the heartbeat renews it (five times per
//! TTL), plus the set `berth:nodes` of numbers in use. A node killed without warning
//! stops renewing, so within the TTL its number is free again and every room and member
//! list stops counting its connections (the scripts in `ws` check presence per node).
//!
//! The heartbeat also decides when the cluster is up again after an outage, and when it
//! finds its presence gone (Redis restarted empty, or the node was cut off past the
//! TTL) it writes this node's room memberships back.

use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

use super::{ClusterError, Core, MAX_NODE};
use crate::ws::Hub;

/// Key of node `n`'s presence.
pub(crate) fn node_key(n: u64) -> String {
    format!("berth:node:{n}")
}

/// Key of node `n`'s connection data (fields `<id>:<key>`), expiring with its presence.
pub(crate) fn data_key(n: u64) -> String {
    format!("berth:data:{n}")
}

/// Takes number `ARGV[1]` when it is free.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'token', ARGV[2], 'conns', 0)
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('SADD', 'berth:nodes', ARGV[1])
        return 1",
    )
});

/// Renews this node's presence: -1 when another node holds the number now, 1 when the
/// presence had to be written anew (it had expired or Redis lost it), else 0.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local cur = redis.call('HGET', KEYS[1], 'token')
        if cur and cur ~= ARGV[2] then return -1 end
        redis.call('HSET', KEYS[1], 'token', ARGV[2], 'conns', ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
        redis.call('SADD', 'berth:nodes', ARGV[1])
        if cur then return 0 end
        return 1",
    )
});

/// Sets the connection count, only while the presence exists (an `HSET` alone would
/// recreate an expired presence without its expiry, and it would never die).
static COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'conns', ARGV[1])
        return 1",
    )
});

/// Drops this node's presence if it is still ours.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then return 0 end
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('SREM', 'berth:nodes', ARGV[1])
        return 1",
    )
});

/// Claims a free node number: the sequence proposes one, the script takes it only if
/// no live node has it.
pub(crate) async fn claim(
    conn: &mut ConnectionManager,
    token: &str,
    ttl: Duration,
) -> Result<u64, ClusterError> {
    for _ in 0..MAX_NODE {
        let seq: u64 = redis::cmd("INCR")
            .arg("berth:node-seq")
            .query_async(conn)
            .await?;
        let n = (seq - 1) % MAX_NODE + 1;
        let took: i64 = CLAIM
            .key(node_key(n))
            .arg(n)
            .arg(token)
            .arg(ttl.as_millis() as u64)
            .invoke_async(conn)
            .await?;
        if took == 1 {
            return Ok(n);
        }
    }
    Err(ClusterError::NoNodeNumber)
}

/// Renews the presence every fifth of its TTL, for as long as the cluster lives.
pub(crate) async fn heartbeat(core: Arc<Core>, ws: Arc<Hub>) {
    let every = core.presence_ttl / 5;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut conn = core.conn.clone();
        let renewed = tokio::time::timeout(core.timeout, renew(&core, &mut conn, &ws)).await;
        match renewed {
            Ok(Ok(())) => {
                if !core.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(target: "cluster", "redis reachable again");
                }
                core.run_deferred().await;
            }
            Ok(Err(e)) => core.failed(&ClusterError::Redis(e)),
            Err(_) => core.failed(&ClusterError::Timeout(core.timeout)),
        }
    }
}

async fn renew(core: &Core, conn: &mut ConnectionManager, ws: &Hub) -> RedisResult<()> {
    let state: i64 = RENEW
        .key(node_key(core.node))
        .key(data_key(core.node))
        .arg(core.node)
        .arg(&core.token)
        .arg(ws.len())
        .arg(core.presence_ttl.as_millis() as u64)
        .invoke_async(conn)
        .await?;
    match state {
        -1 => tracing::error!(
            target: "cluster",
            "node number {} was taken by another node while this one was cut off; \
             restart this node",
            core.node
        ),
        1 => {
            // Redis lost what this node had written: put its rooms back.
            let mut pipe = redis::pipe();
            for (room, members) in ws.memberships() {
                pipe.sadd(super::ws::room_key(&room), members).ignore();
            }
            pipe.query_async::<()>(conn).await?;
            tracing::warn!(target: "cluster", "presence was lost; room memberships rewritten");
        }
        _ => {}
    }
    Ok(())
}

/// Publishes this node's connection count at once (broadcasts to all count it), rather
/// than at the next heartbeat; the heartbeat still writes it too.
pub(crate) fn count(core: &Core, n: usize) {
    let key = node_key(core.node);
    core.spawn("counting connections", move |mut conn| async move {
        COUNT.key(key).arg(n).invoke_async::<()>(&mut conn).await
    });
}

/// Drops the presence at shutdown.
pub(crate) async fn release(conn: &mut ConnectionManager, node: u64, token: &str) {
    let _: RedisResult<i64> = RELEASE
        .key(node_key(node))
        .key(data_key(node))
        .arg(node)
        .arg(token)
        .invoke_async(conn)
        .await;
}
