//! One WebSocket connection after the handshake: a reader that turns whole messages into
//! plugin events, and a writer that drains the connection's send queue, pings, and
//! sends the close frame.
//!
//! yawc does the framing (masking, fragmentation, UTF-8, control frames, the automatic
//! pong and close replies, and permessage-deflate when the handshake agreed it: see
//! [`super::deflate`]); this file decides what happens around it:
//!
//! | what happened                                 | close code sent |
//! |-----------------------------------------------|-----------------|
//! | a frame or message over the limits (inflated) | 1009            |
//! | a protocol violation (RSV bits, opcode, …)    | 1002            |
//! | compressed data that does not inflate         | 1002            |
//! | text that is not UTF-8                        | 1007            |
//! | nothing heard for `ws_pong_timeout`           | 1011            |
//! | the client stopped reading (queue full)       | 1008            |
//! | server shutdown                               | 1001            |
//! | a plugin's `ws::close`                        | the plugin's    |
//!
//! Exactly one close frame goes out per connection, with the code of this table:
//! [`Socket`] drops any later one (and any data after it) and sets yawc aside when the
//! connection fails (see [`super::socket`]), and a reader that hears the peer's answer
//! to our close stops there, before yawc's automatic reply to it would be flushed.
//!
//! `ws-disconnect` is delivered last, while the connection's data and rooms still exist
//! (seed 000's chat reads `ws.data.room` to leave it), then the hub forgets it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::model::{Event, WsDisconnect, WsMessage, WsPayload};
use berth_core::ws::Endpoint;
use berth_core::ws_deflate::Agreed;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use yawc::close::CloseCode;
use yawc::{Frame, OpCode, Role, WebSocket, WebSocketError};

use super::hub::{Conn, Message, Outbox, Outgoing};
use super::socket::{Io, ReadError, Socket};
use crate::pool::PoolInvoker;
use crate::snapshot::Snapshot;
use crate::Shared;

/// How long a close handshake may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// "No status received" and "abnormal closure" (RFC 6455 §7.4.1): reported to plugins,
/// never sent.
const NO_STATUS: u16 = 1005;
pub const ABNORMAL: u16 = 1006;

type WriteHalf = futures_util::stream::SplitSink<Socket, Frame>;

/// Serves one upgraded connection to its end, then delivers `ws-disconnect`.
/// `deflate` is the permessage-deflate the `101` agreed, if any.
pub async fn run(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    outbox: Outgoing,
    upgraded: Upgraded,
    deflate: Option<Agreed>,
) {
    let options = shared.ws_deflate.options(&shared.limits, deflate.as_ref());
    let settings = deflate.as_ref().map(Agreed::settings);
    let io = Io::new(upgraded);
    let ws = match WebSocket::from_stream_with_extensions(
        io.clone(),
        Role::Server,
        settings.as_deref(),
        options,
    ) {
        Ok(ws) => ws,
        Err(e) => {
            // Only when compression was agreed but not enabled: a bug, not the peer's.
            tracing::error!(conn = conn.id, "WebSocket set-up failed: {e}");
            return finish(&shared, &conn, 1011, String::new()).await;
        }
    };
    let (sink, stream) = Socket::new(ws, io).split();

    let started = Instant::now();
    let heard = AtomicU64::new(0);
    let we_closed = AtomicBool::new(false);
    let reader = read(&shared, &conn, stream, started, &heard, &we_closed);
    let writer = write(&shared, &conn, outbox, sink, started, &heard, &we_closed);
    tokio::pin!(reader, writer);

    let (code, reason) = tokio::select! {
        peer = &mut reader => {
            // The peer closed, broke the protocol or vanished: let the writer send the
            // close frame the reader asked for (a no-op when one already went out).
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
    we_closed: &AtomicBool,
) -> (u16, String) {
    let mut closed_with = (ABNORMAL, String::new());
    while let Some(item) = stream.next().await {
        heard.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let frame = match item {
            Ok(frame) => frame,
            Err(e) => {
                let (code, reason) = close_for(&e);
                if code == 1009 {
                    shared.metrics.limit_hit("1009");
                }
                tracing::debug!(conn = conn.id, "closing with {code}: {e:?}");
                return (code, reason.to_string());
            }
        };
        let payload = match frame.opcode() {
            OpCode::Text => match std::str::from_utf8(frame.payload()) {
                Ok(text) => WsPayload::Text(text.to_string()),
                // yawc checked it already; kept so no path trusts that blindly.
                Err(_) => return (1007, "Invalid UTF-8".to_string()),
            },
            OpCode::Binary => WsPayload::Binary(frame.payload().to_vec()),
            OpCode::Close => {
                closed_with = match frame.close_code() {
                    Some(code) => (
                        u16::from(code),
                        frame
                            .close_reason()
                            .ok()
                            .flatten()
                            .unwrap_or("")
                            .to_string(),
                    ),
                    None => (NO_STATUS, String::new()),
                };
                if we_closed.load(Ordering::Acquire) {
                    // The answer to our close: the handshake is done. (Reading on would
                    // flush yawc's automatic reply, a second close frame.)
                    return closed_with;
                }
                // Reading on flushes yawc's reply and ends the stream.
                continue;
            }
            _ => continue,
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
fn close_for(e: &ReadError) -> (u16, &'static str) {
    let e = match e {
        ReadError::ControlTooLong => return (1002, "Protocol error"),
        ReadError::Ws(e) => e,
    };
    match e {
        WebSocketError::FrameTooLarge => (1009, "Message too big"),
        WebSocketError::InvalidUTF8 => (1007, "Invalid UTF-8"),
        WebSocketError::ReservedBitsNotZero
        | WebSocketError::InvalidOpCode(_)
        | WebSocketError::ControlFrameFragmented
        | WebSocketError::PingFrameTooLarge
        | WebSocketError::InvalidFragment
        | WebSocketError::InvalidCloseFrame
        | WebSocketError::InvalidCloseCode
        | WebSocketError::FragmentTimeout
        | WebSocketError::InvalidContinuationFrame
        | WebSocketError::CompressionNotSupported => (1002, "Protocol error"),
        // yawc reports a deflate stream that does not inflate as an I/O error of kind
        // InvalidInput; any other I/O error is the socket's.
        WebSocketError::IoError(io) if io.kind() == std::io::ErrorKind::InvalidInput => {
            (1002, "Invalid compressed data")
        }
        WebSocketError::ConnectionClosed | WebSocketError::IoError(_) => (ABNORMAL, ""),
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
    mut sink: WriteHalf,
    started: Instant,
    heard: &AtomicU64,
    we_closed: &AtomicBool,
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
                        if !deliver(&mut sink, conn, we_closed, message).await {
                            return;
                        }
                    }
                }
                Outbox::Close(code, reason) => return send_close(&mut sink, we_closed, code, reason).await,
                Outbox::Gone => return,
            },
            _ = ping.tick() => {
                // The reader stores `heard` from its own clock reading, which can be later
                // than this one: saturate, or a healthy socket would look silent for ever.
                let now = started.elapsed().as_millis() as u64;
                let silent = now.saturating_sub(heard.load(Ordering::Relaxed));
                if silent > silence_allowed {
                    conn.request_close(1011, "Keepalive timeout");
                } else if !deliver(&mut sink, conn, we_closed, Message::Ping).await {
                    return;
                }
            }
        }
    }
}

/// Sends one message; `false` when the writer is done: the socket failed, or a close was
/// requested while the send was blocked (the close frame is then sent instead).
async fn deliver(
    sink: &mut WriteHalf,
    conn: &Conn,
    we_closed: &AtomicBool,
    message: Message,
) -> bool {
    tokio::select! {
        biased;
        sent = sink.send(message.frame()) => sent.is_ok(),
        (code, reason) = conn.closing() => {
            send_close(sink, we_closed, code, reason).await;
            false
        }
    }
}

async fn send_close(sink: &mut WriteHalf, we_closed: &AtomicBool, code: u16, reason: String) {
    // 1005 and 1006 are only reported (and no other unsendable code is ever requested:
    // plugins' codes are checked in berth-core); the reason was cut when requested.
    if !berth_core::ws_registry::sendable_close_code(code) {
        return;
    }
    we_closed.store(true, Ordering::Release);
    let frame = Frame::close(CloseCode::from(code), reason.as_bytes());
    // A close already out (yawc's reply, or its failure close) makes this one a no-op
    // that still flushes it.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(frame)).await;
}
