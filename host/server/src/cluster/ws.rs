//! The `ws-*` imports and `publish` across nodes. A connection of this node is handled
//! by the local hub as without a cluster, and Redis is told what other nodes must see
//! (room sets `berth:room:<room>`, data in `berth:data:<node>`); a connection of
//! another node (its id says which) gets a message on that node's channel.
//!
//! A room's member list and a broadcast's count are read from the room set, keeping
//! only members whose node is present ([`presence`](super::presence)) and removing the
//! others, so a killed node's connections vanish from every room within the presence
//! TTL. When Redis is down, local delivery goes on and only the other nodes miss out.

use std::sync::{Arc, LazyLock};

use berth_core::host::WsError;
use berth_core::model::WsPayload;
use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

use super::bus::{self, BusMsg};
use super::presence::data_key;
use super::{node_of, Cluster, Core};

/// Key of a room's member set.
pub(crate) fn room_key(room: &str) -> String {
    format!("berth:room:{room}")
}

/// The members of room `KEYS[1]` whose node is present (the others are removed).
static MEMBERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local span = 1099511627776
        local alive = {}
        local out = {}
        for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
            local n = math.floor(tonumber(m) / span)
            if alive[n] == nil then
                alive[n] = redis.call('EXISTS', 'berth:node:' .. n) == 1
            end
            if alive[n] then table.insert(out, m) else redis.call('SREM', KEYS[1], m) end
        end
        return out",
    )
});

/// Publishes broadcast `ARGV[3]` and counts whom it reaches on other nodes: the present
/// members of room `KEYS[1]` (when `ARGV[4]` is 1), or every other present node's
/// connections; `ARGV[1]` is this node, `ARGV[2]` the excepted id ('' for none).
static BROADCAST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local span = 1099511627776
        local me = tonumber(ARGV[1])
        local count = 0
        if ARGV[4] == '1' then
            local alive = {}
            for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
                local n = math.floor(tonumber(m) / span)
                if n ~= me then
                    if alive[n] == nil then
                        alive[n] = redis.call('EXISTS', 'berth:node:' .. n) == 1
                    end
                    if not alive[n] then
                        redis.call('SREM', KEYS[1], m)
                    elseif m ~= ARGV[2] then
                        count = count + 1
                    end
                end
            end
        else
            for _, n in ipairs(redis.call('SMEMBERS', 'berth:nodes')) do
                if tonumber(n) ~= me then
                    local c = redis.call('HGET', 'berth:node:' .. n, 'conns')
                    if c then count = count + tonumber(c) else redis.call('SREM', 'berth:nodes', n) end
                end
            end
            if ARGV[2] ~= '' and math.floor(tonumber(ARGV[2]) / span) ~= me and count > 0 then
                count = count - 1
            end
        end
        redis.call('PUBLISH', KEYS[2], ARGV[3])
        return count",
    )
});

/// Writes (or removes) one data entry of connection `id` of node `node`.
pub(crate) async fn mirror_data(
    conn: &mut ConnectionManager,
    node: u64,
    id: u64,
    key: &str,
    value: Option<String>,
) -> RedisResult<()> {
    let field = format!("{id}:{key}");
    match value {
        Some(v) => {
            redis::pipe()
                .hset(data_key(node), field, v)
                .ignore()
                // Past a minute without this node: the heartbeat cuts it to the presence
                // TTL each second, so a dead node's data goes soon after its presence.
                .cmd("PEXPIRE")
                .arg(data_key(node))
                .arg(60_000)
                .ignore()
                .query_async(conn)
                .await
        }
        None => {
            redis::cmd("HDEL")
                .arg(data_key(node))
                .arg(field)
                .query_async(conn)
                .await
        }
    }
}

/// What a connection that left held in Redis: its rooms and data keys.
pub(crate) struct Forgotten {
    id: u64,
    rooms: Vec<String>,
    keys: Vec<String>,
}

/// After connection `id` left: out of its rooms' sets, its data gone. When Redis cannot
/// be reached, the clean-up waits for the heartbeat to see Redis again (see
/// [`Core::defer`]), so a connection that closed during an outage is not listed forever.
pub(crate) fn forget(core: &Arc<Core>, id: u64, rooms: Vec<String>, keys: Vec<String>) {
    if rooms.is_empty() && keys.is_empty() {
        return;
    }
    let gone = Forgotten { id, rooms, keys };
    let core = core.clone();
    core.rt.clone().spawn(async move {
        let list = [gone];
        if clean(&core, &list).await.is_err() {
            let [gone] = list;
            core.defer(gone);
        }
    });
}

/// Removes what `list` held, in one pipeline, within the timeout.
pub(crate) async fn clean(core: &Core, list: &[Forgotten]) -> Result<(), ()> {
    let mut pipe = redis::pipe();
    for gone in list {
        for room in &gone.rooms {
            pipe.srem(room_key(room), gone.id).ignore();
        }
        if !gone.keys.is_empty() {
            let fields: Vec<String> = gone
                .keys
                .iter()
                .map(|k| format!("{}:{k}", gone.id))
                .collect();
            pipe.hdel(data_key(core.node), fields).ignore();
        }
    }
    let mut conn = core.conn.clone();
    match tokio::time::timeout(core.timeout, pipe.query_async::<()>(&mut conn)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

impl Cluster {
    fn local(&self, conn: u64) -> bool {
        node_of(conn) == self.core.node
    }

    /// Publishes `msg` to the node holding `conn`: `NoSuchConnection` when no node
    /// holds that number (no subscriber) or Redis cannot be reached.
    fn to_owner(&self, conn: u64, msg: BusMsg) -> Result<(), WsError> {
        let channel = bus::to_node(node_of(conn));
        let bytes = msg.encode();
        let reached: i64 = self
            .core
            .call(move |mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(bytes)
                    .query_async(&mut c)
                    .await
            })
            .map_err(|e| {
                tracing::warn!(target: "cluster", conn, "cannot reach the connection's node: {e}");
                WsError::NoSuchConnection
            })?;
        if reached == 0 {
            return Err(WsError::NoSuchConnection);
        }
        Ok(())
    }

    /// Runs a Redis write that other nodes need to see; a failure is logged, not
    /// returned (the local part already happened).
    fn tell<F, Fut>(&self, what: &str, f: F)
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = RedisResult<()>> + Send + 'static,
    {
        if let Err(e) = self.core.call(f) {
            tracing::warn!(target: "cluster", "{what} not shared with the other nodes: {e}");
        }
    }

    /// `ws-send`.
    pub(crate) fn ws_send(&self, conn: u64, msg: WsPayload) -> Result<(), WsError> {
        match self.hub() {
            Some(hub) if self.local(conn) => hub.send(conn, msg),
            _ => self.to_owner(
                conn,
                BusMsg::Send {
                    conn,
                    msg: (&msg).into(),
                },
            ),
        }
    }

    /// `ws-close`.
    pub(crate) fn ws_close(&self, conn: u64, code: u16, reason: &str) -> Result<(), WsError> {
        match self.hub() {
            Some(hub) if self.local(conn) => hub.close(conn, code, reason),
            _ => self.to_owner(
                conn,
                BusMsg::Close {
                    conn,
                    code,
                    reason: reason.into(),
                },
            ),
        }
    }

    /// `ws-data-get`: local data from the hub, another node's from its data hash.
    pub(crate) fn ws_data_get(&self, conn: u64, key: &str) -> Option<String> {
        if let Some(hub) = self.hub().filter(|_| self.local(conn)) {
            return hub.data_get(conn, key);
        }
        let (hash, field) = (data_key(node_of(conn)), format!("{conn}:{key}"));
        self.core
            .call(move |mut c| async move {
                redis::cmd("HGET")
                    .arg(hash)
                    .arg(field)
                    .query_async(&mut c)
                    .await
            })
            .inspect_err(|e| tracing::warn!(target: "cluster", conn, "ws-data-get: {e}"))
            .ok()
            .flatten()
    }

    /// `ws-data-set`.
    pub(crate) fn ws_data_set(
        &self,
        conn: u64,
        key: &str,
        value: Option<String>,
    ) -> Result<(), WsError> {
        let Some(hub) = self.hub().filter(|_| self.local(conn)) else {
            let key = key.to_string();
            return self.to_owner(conn, BusMsg::DataSet { conn, key, value });
        };
        hub.data_set(conn, key, value.clone())?;
        let (node, key) = (self.core.node, key.to_string());
        self.tell("ws-data-set", move |mut c| async move {
            mirror_data(&mut c, node, conn, &key, value).await
        });
        Ok(())
    }

    /// `ws-join`.
    pub(crate) fn ws_join(&self, conn: u64, room: &str) -> Result<(), WsError> {
        let Some(hub) = self.hub().filter(|_| self.local(conn)) else {
            let room = room.to_string();
            return self.to_owner(conn, BusMsg::Join { conn, room });
        };
        hub.join(conn, room)?;
        let key = room_key(room);
        self.tell("ws-join", move |mut c| async move {
            redis::cmd("SADD")
                .arg(key)
                .arg(conn)
                .query_async(&mut c)
                .await
        });
        Ok(())
    }

    /// `ws-leave`.
    pub(crate) fn ws_leave(&self, conn: u64, room: &str) -> Result<(), WsError> {
        let Some(hub) = self.hub().filter(|_| self.local(conn)) else {
            let room = room.to_string();
            return self.to_owner(conn, BusMsg::Leave { conn, room });
        };
        hub.leave(conn, room)?;
        let key = room_key(room);
        self.tell("ws-leave", move |mut c| async move {
            redis::cmd("SREM")
                .arg(key)
                .arg(conn)
                .query_async(&mut c)
                .await
        });
        Ok(())
    }

    /// `ws-broadcast`: delivered here at once, then published for the other nodes;
    /// the count is both.
    pub(crate) fn ws_broadcast(
        &self,
        room: Option<&str>,
        msg: WsPayload,
        except: Option<u64>,
    ) -> u32 {
        let bytes = BusMsg::Broadcast {
            origin: self.core.node,
            room: room.map(str::to_string),
            msg: (&msg).into(),
            except,
        }
        .encode();
        let local = self.hub().map_or(0, |hub| hub.broadcast(room, msg, except));
        let key = room.map_or_else(String::new, room_key);
        let (me, in_room) = (self.core.node, if room.is_some() { "1" } else { "0" });
        let except = except.map_or_else(String::new, |e| e.to_string());
        let remote = self.core.call(move |mut c| async move {
            BROADCAST
                .key(key)
                .key(bus::ALL)
                .arg(me)
                .arg(except)
                .arg(bytes)
                .arg(in_room)
                .invoke_async::<u32>(&mut c)
                .await
        });
        match remote {
            Ok(n) => local.saturating_add(n),
            Err(e) => {
                tracing::warn!(target: "cluster", "ws-broadcast reached this node only: {e}");
                local
            }
        }
    }

    /// `ws-room-members`: every present node's members, in id order (this node's only,
    /// while Redis is down).
    pub(crate) fn ws_room_members(&self, room: &str) -> Vec<u64> {
        let key = room_key(room);
        let listed = self.core.call(move |mut c| async move {
            MEMBERS.key(key).invoke_async::<Vec<u64>>(&mut c).await
        });
        match listed {
            Ok(mut ids) => {
                ids.sort_unstable();
                ids
            }
            Err(e) => {
                tracing::warn!(target: "cluster", "ws-room-members lists this node only: {e}");
                self.hub()
                    .map_or_else(Vec::new, |hub| hub.room_members(room))
            }
        }
    }

    /// `publish`: delivered here, then to every other node's subscribers. The count is
    /// this node's subscribers (pub/sub does not say how many others had).
    pub(crate) fn publish(
        &self,
        topic: &str,
        data: &str,
        event: Option<&str>,
        id: Option<&str>,
    ) -> u32 {
        let local = self
            .sse
            .get()
            .map_or(0, |sse| sse.publish(topic, data, event, id));
        let bytes = BusMsg::Publish {
            origin: self.core.node,
            topic: topic.into(),
            data: data.into(),
            event: event.map(str::to_string),
            id: id.map(str::to_string),
        }
        .encode();
        self.tell("publish", move |mut c| async move {
            redis::cmd("PUBLISH")
                .arg(bus::ALL)
                .arg(bytes)
                .query_async(&mut c)
                .await
        });
        local
    }
}
