//! The bus between nodes: Redis pub/sub on two channels per node, `berth:to:<n>` (what
//! is addressed to one of this node's connections: send, close, data, join, leave) and
//! `berth:all` (room and all-connection broadcasts, SSE events). Messages are
//! [`BusMsg`] values in postcard, so binary payloads cross as they are.
//!
//! Order: one node publishes on one multiplexed connection and waits for each publish
//! before its plugin call returns, and each node reads its subscription on one
//! connection in one task, so what one sender sends arrives in order everywhere.
//!
//! The subscriber reconnects by itself (with a capped back-off) when Redis goes away;
//! what was published meanwhile is lost, as pub/sub promises nothing else.

use std::sync::Arc;
use std::time::Duration;

use berth_core::model::WsPayload;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::Core;
use crate::sse::SseHub;
use crate::ws::Hub;

/// The channel every node reads.
pub(crate) const ALL: &str = "berth:all";

/// The channel of node `n`.
pub(crate) fn to_node(n: u64) -> String {
    format!("berth:to:{n}")
}

/// A WebSocket payload on the bus.
#[derive(Serialize, Deserialize)]
pub(crate) enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

impl From<&WsPayload> for Payload {
    fn from(p: &WsPayload) -> Payload {
        match p {
            WsPayload::Text(t) => Payload::Text(t.clone()),
            WsPayload::Binary(b) => Payload::Binary(b.clone()),
        }
    }
}

impl From<Payload> for WsPayload {
    fn from(p: Payload) -> WsPayload {
        match p {
            Payload::Text(t) => WsPayload::Text(t),
            Payload::Binary(b) => WsPayload::Binary(b),
        }
    }
}

/// One message between nodes.
#[derive(Serialize, Deserialize)]
pub(crate) enum BusMsg {
    /// `ws-send` to a connection of the receiving node.
    Send { conn: u64, msg: Payload },
    /// `ws-close`.
    Close {
        conn: u64,
        code: u16,
        reason: String,
    },
    /// `ws-data-set` (`None` removes).
    DataSet {
        conn: u64,
        key: String,
        value: Option<String>,
    },
    /// `ws-join`.
    Join { conn: u64, room: String },
    /// `ws-leave`.
    Leave { conn: u64, room: String },
    /// `ws-broadcast` from node `origin` (which has delivered it locally already).
    Broadcast {
        origin: u64,
        room: Option<String>,
        msg: Payload,
        except: Option<u64>,
    },
    /// `publish` from node `origin`.
    Publish {
        origin: u64,
        topic: String,
        data: String,
        event: Option<String>,
        id: Option<String>,
    },
}

impl BusMsg {
    /// The message as bytes for `PUBLISH`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        // Serialising plain owned data into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }
}

/// Reads this node's channels until the cluster is dropped, reconnecting as needed.
/// `ready` is told once the first subscription stands.
pub(crate) async fn subscribe(
    core: Arc<Core>,
    ws: Arc<Hub>,
    sse: Arc<SseHub>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut ready = Some(ready);
    loop {
        match read(&core, &ws, &sse, &mut ready).await {
            Ok(()) => tracing::warn!(target: "cluster", "bus subscription ended; reconnecting"),
            Err(e) => tracing::warn!(target: "cluster", "bus subscription failed ({e}); retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

async fn read(
    core: &Core,
    ws: &Hub,
    sse: &SseHub,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> redis::RedisResult<()> {
    let connect = tokio::time::timeout(core.timeout.max(Duration::from_secs(1)), async {
        let mut pubsub = core.client.get_async_pubsub().await?;
        pubsub.subscribe(to_node(core.node)).await?;
        pubsub.subscribe(ALL).await?;
        redis::RedisResult::Ok(pubsub)
    });
    let pubsub = connect.await.map_err(|_| {
        redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
    })??;
    tracing::info!(target: "cluster", node = core.node, "bus subscribed");
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    let mut messages = pubsub.into_on_message();
    while let Some(msg) = messages.next().await {
        match postcard::from_bytes::<BusMsg>(msg.get_payload_bytes()) {
            Ok(m) => deliver(core, ws, sse, m).await,
            Err(e) => tracing::warn!(target: "cluster", "undecodable bus message dropped: {e}"),
        }
    }
    Ok(())
}

/// Applies one message to this node's connections and topics.
async fn deliver(core: &Core, ws: &Hub, sse: &SseHub, m: BusMsg) {
    match m {
        BusMsg::Send { conn, msg } => {
            let _ = ws.send(conn, msg.into());
        }
        BusMsg::Close { conn, code, reason } => {
            let _ = ws.close(conn, code, &reason);
        }
        BusMsg::DataSet { conn, key, value } => {
            if ws.data_set(conn, &key, value.clone()).is_ok() {
                let mut c = core.conn.clone();
                let _ = super::ws::mirror_data(&mut c, core.node, conn, &key, value).await;
            }
        }
        BusMsg::Join { conn, room } => {
            if ws.join(conn, &room).is_ok() {
                let mut c = core.conn.clone();
                let _: redis::RedisResult<()> = redis::cmd("SADD")
                    .arg(super::ws::room_key(&room))
                    .arg(conn)
                    .query_async(&mut c)
                    .await;
            }
        }
        BusMsg::Leave { conn, room } => {
            if ws.leave(conn, &room).is_ok() {
                let mut c = core.conn.clone();
                let _: redis::RedisResult<()> = redis::cmd("SREM")
                    .arg(super::ws::room_key(&room))
                    .arg(conn)
                    .query_async(&mut c)
                    .await;
            }
        }
        BusMsg::Broadcast {
            origin,
            room,
            msg,
            except,
        } => {
            if origin != core.node {
                ws.broadcast(room.as_deref(), msg.into(), except);
            }
        }
        BusMsg::Publish {
            origin,
            topic,
            data,
            event,
            id,
        } => {
            if origin != core.node {
                sse.publish(&topic, &data, event.as_deref(), id.as_deref());
            }
        }
    }
}
