//! One WebSocket connection after the handshake: a reader that turns whole messages into
//! plugin events, and a writer that drains the connection's send queue, pings, and
//! sends the close frame.
//!
//! tungstenite does the framing (masking, fragmentation, UTF-8, control frames, the
//! automatic pong and close replies); this file decides what happens around it:
//!
//! | what happened                          | close code sent |
//! |----------------------------------------|-----------------|
//! | a frame or message over the limits     | 1009            |
//! | a protocol violation (RSV bits, …)     | 1002            |
//! | text that is not UTF-8                 | 1007            |
//! | nothing heard for `ws_pong_timeout`    | 1011            |
//! | the client stopped reading (queue full)| 1008            |
//! | server shutdown                        | 1001            |
//! | a plugin's `ws::close`                 | the plugin's    |
//!
//! `ws-disconnect` is delivered last, while the connection's data and rooms still exist
//! (seed 000's chat reads `ws.data.room` to leave it), then the hub forgets it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::model::{Event, WsDisconnect, WsMessage, WsPayload};
use berth_core::ws::Endpoint;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::hub::{Conn, Outbox, Outgoing};
use crate::pool::PoolInvoker;
use crate::snapshot::Snapshot;
use crate::Shared;

/// How long a close handshake may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// "No status received" and "abnormal closure" (RFC 6455 §7.4.1): reported to plugins,
/// never sent.
const NO_STATUS: u16 = 1005;
pub const ABNORMAL: u16 = 1006;

type Socket = WebSocketStream<TokioIo<Upgraded>>;
type Sink = futures_util::stream::SplitSink<Socket, Message>;

/// Serves one upgraded connection to its end, then delivers `ws-disconnect`.
pub async fn run(shared: Arc<Shared>, conn: Arc<Conn>, outbox: Outgoing, upgraded: Upgraded) {
    let limits = &shared.limits;
    let config = WebSocketConfig::default()
        .max_frame_size(Some(limits.ws_max_frame))
        .max_message_size(Some(limits.ws_max_message))
        // Small read chunks keep idle connections cheap; messages still grow as needed.
        .read_buffer_size(4 << 10);
    let socket: Socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (sink, stream) = socket.split();

    let started = Instant::now();
    let heard = AtomicU64::new(0);
    let reader = read(&shared, &conn, stream, started, &heard);
    let writer = write(&shared, &conn, outbox, sink, started, &heard);
    tokio::pin!(reader, writer);

    let (code, reason) = tokio::select! {
        peer = &mut reader => {
            // The peer closed, broke the protocol or vanished: let the writer send the
            // close frame the reader asked for (a no-op when the peer closed first).
            conn.request_close(peer.0, &peer.1);
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut writer).await;
            peer
        }
        () = &mut writer => {
            // We closed (plugin, shutdown, keepalive, slow client): wait for the peer's
            // close frame, briefly.
            match tokio::time::timeout(CLOSE_TIMEOUT, &mut reader).await {
                Ok(peer) => peer,
                Err(_) => conn.closing().await,
            }
        }
    };

    finish(&shared, &conn, code, reason).await;
}

/// Delivers `ws-disconnect` while the connection's data and rooms still exist, then
/// forgets the connection. Also used when the upgrade itself failed after `ws-connect`.
pub async fn finish(shared: &Shared, conn: &Conn, code: u16, reason: String) {
    // Nothing more can be queued for it from here on.
    conn.request_close(code, &reason);
    let event = Event::WsDisconnect(WsDisconnect {
        conn: conn.id,
        path: conn.path.clone(),
        code,
        reason,
    });
    // The plugin set live now; a route whose plugin went away leaves the hooks only.
    let snap = shared.live.load_full();
    let endpoint = endpoint(&snap, conn).unwrap_or(Endpoint::Hooks);
    snap.app
        .ws_disconnect(endpoint, &event, &mut PoolInvoker(&snap.pools))
        .await;
    shared.ws.unregister(conn.id);
}

/// Reads until the connection ends; returns the close code and reason to report.
async fn read(
    shared: &Shared,
    conn: &Conn,
    mut stream: futures_util::stream::SplitStream<Socket>,
    started: Instant,
    heard: &AtomicU64,
) -> (u16, String) {
    let mut closed_with = (ABNORMAL, String::new());
    while let Some(item) = stream.next().await {
        heard.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let payload = match item {
            Ok(Message::Text(text)) => WsPayload::Text(text.as_str().to_string()),
            Ok(Message::Binary(bytes)) => WsPayload::Binary(bytes.to_vec()),
            Ok(Message::Close(frame)) => {
                // tungstenite queues the reply; reading on flushes it and ends the stream.
                closed_with = match frame {
                    Some(f) => (u16::from(f.code), f.reason.as_str().to_string()),
                    None => (NO_STATUS, String::new()),
                };
                continue;
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Err(e) => {
                let (code, reason) = close_for(&e);
                if code == 1009 {
                    shared.metrics.limit_hit("1009");
                }
                tracing::debug!(conn = conn.id, "closing with {code}: {e}");
                return (code, reason.to_string());
            }
        };
        let size = match &payload {
            WsPayload::Text(t) => t.len(),
            WsPayload::Binary(b) => b.len(),
        };
        shared.metrics.ws_message(true, size);
        if conn.is_closing() {
            // Closing: what arrives now is drained, not served.
            continue;
        }
        let event = Event::WsMessage(WsMessage {
            conn: conn.id,
            path: conn.path.clone(),
            payload,
        });
        // Plugin calls are deadline-bounded futures, like HTTP handlers; the messages of
        // one connection are handled in order.
        // Each message goes to the plugin set live when it arrives: after a swap, the new
        // version answers on the same connection (its data and rooms are the host's).
        let snap = shared.live.load_full();
        let Some(endpoint) = endpoint(&snap, conn) else {
            // Its route went away in a swap, which is closing the connection (1001).
            continue;
        };
        let reply = snap
            .app
            .ws_message(endpoint, &event, &mut PoolInvoker(&snap.pools))
            .await;
        if let Some(reply) = reply {
            let _ = shared.ws.send(conn.id, reply);
        }
    }
    closed_with
}

/// Who hears the events of `conn` in `snap`: the hooks, and the route it connected
/// through while its plugin still serves that route (`None` once it does not).
fn endpoint(snap: &Snapshot, conn: &Conn) -> Option<Endpoint> {
    match &conn.owner {
        None => Some(Endpoint::Hooks),
        Some(owner) => snap.ws_route_of(&conn.path, owner).map(Endpoint::Route),
    }
}

/// The close code for a read error, and its reason.
fn close_for(e: &WsError) -> (u16, &'static str) {
    match e {
        WsError::Capacity(_) => (1009, "Message too big"),
        WsError::Protocol(_) => (1002, "Protocol error"),
        WsError::Utf8(_) => (1007, "Invalid UTF-8"),
        WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_) => (ABNORMAL, ""),
        _ => (1011, "Internal error"),
    }
}

/// Drains the send queue and pings until a close is requested; then sends the close
/// frame once everything queued before it is out. A send blocked on a client that does
/// not read is abandoned for the close.
async fn write(
    shared: &Shared,
    conn: &Conn,
    mut outbox: Outgoing,
    mut sink: Sink,
    started: Instant,
    heard: &AtomicU64,
) {
    let ping_every = Duration::from_millis(shared.limits.ws_ping_interval_ms.max(1));
    let silence_allowed = shared.limits.ws_pong_timeout_ms;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    loop {
        tokio::select! {
            next = outbox.next() => match next {
                Outbox::Messages(messages) => {
                    for message in messages {
                        shared.metrics.ws_message(false, message.len());
                        if !deliver(&mut sink, conn, message).await {
                            return;
                        }
                    }
                }
                Outbox::Close(code, reason) => return send_close(&mut sink, code, reason).await,
                Outbox::Gone => return,
            },
            _ = ping.tick() => {
                // The reader stores `heard` from its own clock reading, which can be later
                // than this one: saturate, or a healthy socket would look silent for ever.
                let now = started.elapsed().as_millis() as u64;
                let silent = now.saturating_sub(heard.load(Ordering::Relaxed));
                if silent > silence_allowed {
                    conn.request_close(1011, "Keepalive timeout");
                } else if !deliver(&mut sink, conn, Message::Ping(Default::default())).await {
                    return;
                }
            }
        }
    }
}

/// Sends one message; `false` when the writer is done: the socket failed, or a close was
/// requested while the send was blocked (the close frame is then sent instead).
async fn deliver(sink: &mut Sink, conn: &Conn, message: Message) -> bool {
    tokio::select! {
        biased;
        sent = sink.send(message) => sent.is_ok(),
        (code, reason) = conn.closing() => {
            send_close(sink, code, reason).await;
            false
        }
    }
}

async fn send_close(sink: &mut Sink, code: u16, reason: String) {
    // 1005 and 1006 are only reported (and no other unsendable code is ever requested:
    // plugins' codes are checked in berth-core); the reason was cut when requested.
    if !berth_core::ws_registry::sendable_close_code(code) {
        return;
    }
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
}
