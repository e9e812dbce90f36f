//! State on Redis: berth-core's [`Store`] with the same namespaces, expiry, atomic
//! increments and quotas as the in-memory store, shared by every node.
//!
//! Keys: a value is `berth:s:<ns>:<key>` (a Redis string with Redis's own expiry), and
//! each namespace has an index `berth:si:<ns>` (a sorted set of its keys by expiry
//! time) and a cost table `berth:sc:<ns>` (each key's cost, and the total under the
//! empty field), which the quota checks read. Every write is one Lua script, so a
//! quota holds across nodes. As in memory, expired entries count until swept, and a
//! write that would pass the quota first sweeps the namespace (the index's expired
//! range) and checks again. `keys` walks with `SCAN` (never `KEYS`).
//!
//! A call that cannot reach Redis in time fails with [`StateError::Unavailable`],
//! which the plugin sees through the `state-try-*` imports (the SDKs answer 503). The
//! older `state-get`, `state-delete` and `state-keys` have no error in the WIT: berth-core
//! answers them "missing" / `false` / empty and logs the failure.

use std::sync::{Arc, LazyLock};

use berth_core::state::{Quota, StateError, Store, ENTRY_OVERHEAD};
use redis::Script;

use super::{ClusterError, Core};

/// The shared Lua helpers: `now` in milliseconds, and `sweep` (drop the expired
/// entries of the namespace from its index and cost table).
const PRELUDE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function sweep()
    for _, k in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
        local c = tonumber(redis.call('HGET', KEYS[3], k) or '0')
        redis.call('HDEL', KEYS[3], k)
        redis.call('ZREM', KEYS[2], k)
        redis.call('HINCRBY', KEYS[3], '', -c)
    end
end
-- Whether an entry of cost `cost` fits for key ARGV[1]: '' or the quota it passes.
local function fits(cost, max_keys, max_bytes)
    local old = redis.call('HGET', KEYS[3], ARGV[1])
    local n = redis.call('ZCARD', KEYS[2])
    local total = tonumber(redis.call('HGET', KEYS[3], '') or '0')
    if not old then
        if n + 1 > max_keys then return 'keys' end
        old = 0
    end
    if total - tonumber(old) + cost > max_bytes then return 'bytes' end
    return ''
end
local function check(cost, max_keys, max_bytes)
    local why = fits(cost, max_keys, max_bytes)
    if why ~= '' then
        sweep()
        why = fits(cost, max_keys, max_bytes)
    end
    return why
end
local function account(cost, expires)
    local old = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
    redis.call('HSET', KEYS[3], ARGV[1], cost)
    redis.call('HINCRBY', KEYS[3], '', cost - old)
    redis.call('ZADD', KEYS[2], expires, ARGV[1])
end
";

/// ARGV: key, value, ttl ms ('' none), max keys, max bytes, entry overhead.
static SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}
        local cost = #ARGV[1] + #ARGV[2] + tonumber(ARGV[6])
        local why = check(cost, tonumber(ARGV[4]), tonumber(ARGV[5]))
        if why ~= '' then return why end
        if ARGV[3] == '' then
            redis.call('SET', KEYS[1], ARGV[2])
            account(cost, '+inf')
        else
            redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
            account(cost, now + tonumber(ARGV[3]))
        end
        return ''"
    ))
});

/// ARGV: key, delta, max keys, max bytes, entry overhead. Returns {ok, value} or
/// {err, reason}.
static INCR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}
        local before = redis.call('GET', KEYS[1])
        local guess = #ARGV[1] + 20 + tonumber(ARGV[5])
        if not before then
            local why = check(guess, tonumber(ARGV[3]), tonumber(ARGV[4]))
            if why ~= '' then return {{0, why}} end
        end
        local r = redis.pcall('INCRBY', KEYS[1], ARGV[2])
        if type(r) == 'table' and r.err then
            if string.find(r.err, 'overflow') then return {{0, 'overflow'}} end
            return {{0, 'integer'}}
        end
        -- The value as Redis holds it: Lua's numbers are doubles, exact only to 2^53.
        local value = redis.call('GET', KEYS[1])
        local pttl = redis.call('PTTL', KEYS[1])
        local expires = '+inf'
        if pttl > 0 then expires = now + pttl end
        account(#ARGV[1] + #value + tonumber(ARGV[5]), expires)
        return {{1, value}}"
    ))
});

/// ARGV: key. Returns 1 when the key was live.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}
        local live = redis.call('DEL', KEYS[1])
        local c = redis.call('HGET', KEYS[3], ARGV[1])
        if c then
            redis.call('HDEL', KEYS[3], ARGV[1])
            redis.call('ZREM', KEYS[2], ARGV[1])
            redis.call('HINCRBY', KEYS[3], '', -tonumber(c))
        end
        return live"
    ))
});

/// `SCAN`'s glob with `*?[]\` escaped, so a prefix matches only itself.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The store every node shares.
pub(crate) struct RedisStore {
    core: Arc<Core>,
    quota: Quota,
}

impl RedisStore {
    /// A store in Redis bounded by `quota` per namespace.
    pub(crate) fn new(core: Arc<Core>, quota: Quota) -> RedisStore {
        RedisStore { core, quota }
    }

    fn keys_of(ns: &str, key: &str) -> [String; 3] {
        [
            format!("berth:s:{ns}:{key}"),
            format!("berth:si:{ns}"),
            format!("berth:sc:{ns}"),
        ]
    }

    fn unavailable(e: ClusterError) -> StateError {
        StateError::Unavailable(e.to_string())
    }

    fn quota_error(&self, why: &str) -> StateError {
        match why {
            "keys" => StateError::TooManyKeys {
                max: self.quota.max_keys,
            },
            _ => StateError::NamespaceFull {
                max: self.quota.max_bytes,
            },
        }
    }
}

impl Store for RedisStore {
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let [k, _, _] = Self::keys_of(ns, key);
        self.core
            .call(move |mut c| async move { redis::cmd("GET").arg(k).query_async(&mut c).await })
            .map_err(Self::unavailable)
    }

    fn set(
        &self,
        ns: &str,
        key: &str,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), StateError> {
        if value.len() > self.quota.max_value {
            return Err(StateError::ValueTooLarge {
                size: value.len(),
                max: self.quota.max_value,
            });
        }
        let [k, index, costs] = Self::keys_of(ns, key);
        let (name, q) = (key.to_string(), self.quota);
        // A TTL of 0 expires at once, as in memory: Redis refuses PX 0, so use 1 ms.
        let ttl = ttl_ms.map_or_else(String::new, |t| t.max(1).to_string());
        let why: String = self
            .core
            .call(move |mut c| async move {
                SET.key(k)
                    .key(index)
                    .key(costs)
                    .arg(name)
                    .arg(value)
                    .arg(ttl)
                    .arg(q.max_keys)
                    .arg(q.max_bytes)
                    .arg(ENTRY_OVERHEAD)
                    .invoke_async(&mut c)
                    .await
            })
            .map_err(Self::unavailable)?;
        if why.is_empty() {
            Ok(())
        } else {
            Err(self.quota_error(&why))
        }
    }

    fn delete(&self, ns: &str, key: &str) -> Result<bool, StateError> {
        let [k, index, costs] = Self::keys_of(ns, key);
        let name = key.to_string();
        self.core
            .call(move |mut c| async move {
                DELETE
                    .key(k)
                    .key(index)
                    .key(costs)
                    .arg(name)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .map(|n| n > 0)
            .map_err(Self::unavailable)
    }

    fn incr(&self, ns: &str, key: &str, delta: i64) -> Result<i64, StateError> {
        let [k, index, costs] = Self::keys_of(ns, key);
        let (name, q) = (key.to_string(), self.quota);
        let (ok, value): (i64, String) = self
            .core
            .call(move |mut c| async move {
                INCR.key(k)
                    .key(index)
                    .key(costs)
                    .arg(name)
                    .arg(delta)
                    .arg(q.max_keys)
                    .arg(q.max_bytes)
                    .arg(ENTRY_OVERHEAD)
                    .invoke_async(&mut c)
                    .await
            })
            .map_err(Self::unavailable)?;
        match (ok, value.as_str()) {
            (1, n) => n
                .parse()
                .map_err(|_| StateError::Unavailable(format!("redis answered {n:?}"))),
            (_, "overflow") => Err(StateError::Overflow),
            (_, "integer") => Err(StateError::NotAnInteger),
            (_, quota) => Err(self.quota_error(quota)),
        }
    }

    fn keys(&self, ns: &str, prefix: &str) -> Result<Vec<String>, StateError> {
        let head = format!("berth:s:{ns}:");
        let pattern = format!("{}{}*", glob_escape(&head), glob_escape(prefix));
        let max = self.quota.max_keys;
        let listed = self.core.call(move |mut c| async move {
            let mut found: Vec<String> = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut c)
                    .await?;
                found.extend(
                    batch
                        .into_iter()
                        .filter_map(|k| k.strip_prefix(head.as_str()).map(str::to_string)),
                );
                // A namespace holds at most `max` keys; SCAN may repeat some.
                if next == 0 || found.len() > max.saturating_mul(2) {
                    break;
                }
                cursor = next;
            }
            Ok(found)
        });
        let mut keys = listed.map_err(Self::unavailable)?;
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::glob_escape;

    #[test]
    fn prefixes_match_only_themselves() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(glob_escape("plugin/x:"), "plugin/x:");
    }
}
