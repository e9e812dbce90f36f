//! Connections that outlive a request: WebSocket sessions and SSE streams.
//!
//! What a WebSocket event *means* (hooks then route, refusals, reply/stop/echo) is
//! berth-core's [`App::ws_connect`], [`App::ws_message`] and [`App::ws_disconnect`];
//! this module only moves frames. Each session waits on three things at once — bytes
//! from the peer, its queue in the [`Hub`](crate::host::Hub) (what plugins sent it),
//! and its ping/pong timer — and acts on whichever comes first.
//!
//! [`App::ws_connect`]: berth_core::pipeline::App::ws_connect
//! [`App::ws_message`]: berth_core::pipeline::App::ws_message
//! [`App::ws_disconnect`]: berth_core::pipeline::App::ws_disconnect

use alloc::string::String;
use alloc::vec::Vec;
use core::task::{Context, Poll, Waker};

use berth_core::model::{Event, Pairs, Response, WsConnect, WsDisconnect, WsMessage, WsPayload};
use berth_core::pipeline::Target;
use berth_core::uri::Target as UriTarget;
use berth_core::ws::Endpoint;
use embassy_futures::select::{select3, Either3};

use crate::host::Outgoing;
use crate::http::write::{self, Framing};
use crate::io::{send, InBuf};
use crate::net::{Connection, Platform};
use crate::server::{Live, Server};
use crate::ws::codec::{accept_key, code, encode, encode_close, op, Decoder, Incoming};

/// An accepted upgrade request, on its way to becoming a session.
pub(crate) struct WsStart {
    pub(crate) route: Target,
    pub(crate) key: String,
    pub(crate) target: UriTarget,
    pub(crate) headers: Pairs,
    pub(crate) remote: String,
}

/// How long we wait for the peer's close frame after sending ours.
const CLOSE_GRACE_MS: u64 = 2_000;

fn frame(out: &mut Vec<u8>, payload: &WsPayload) {
    match payload {
        WsPayload::Text(t) => encode(out, op::TEXT, t.as_bytes()),
        WsPayload::Binary(b) => encode(out, op::BINARY, b),
    }
}

/// What ended a session: the close code and reason `ws-disconnect` reports.
struct End(u16, String);

/// Runs a WebSocket from the upgrade to `ws-disconnect`.
pub(crate) async fn websocket<P: Platform, C: Connection>(
    server: &Server<P>,
    live: &Live,
    conn: &mut C,
    buf: &mut InBuf,
    ws: WsStart,
) {
    let limits = &server.options.limits;
    if server.host.ws_count() >= limits.ws_max_connections {
        let _ = send(conn, berth_core::upgrade::too_many(), false, false).await;
        return;
    }
    // Registered before `ws-connect`, so a connect handler can already send ("Welcome!")
    // and set per-connection data.
    let id = server.host.ws_open();
    let endpoint = Endpoint::Route(ws.route);
    let path = ws.target.path;
    let connect = Event::WsConnect(WsConnect {
        conn: id,
        path: path.clone(),
        query_pairs: ws.target.query_pairs,
        headers: ws.headers,
        remote_addr: ws.remote,
    });
    if let Err(refusal) = live
        .app
        .ws_connect(endpoint, &connect, &mut server.invoker(live))
        .await
    {
        server.host.ws_end(id);
        let r = berth_core::upgrade::refusal(refusal.status, &refusal.reason);
        let _ = send(conn, r, false, false).await;
        return;
    }
    drop(connect);
    let mut out = Vec::new();
    let accept = accept_key(&ws.key);
    write::head(
        &mut out,
        101,
        &Vec::new(),
        Framing::Length(0),
        &[
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", &accept),
        ],
    );
    let End(code, reason) = if conn.write_all(&out).await.is_err() {
        End(code::ABNORMAL, String::new())
    } else {
        session(server, live, conn, buf, id, endpoint, &path).await
    };
    let event = Event::WsDisconnect(WsDisconnect {
        conn: id,
        path,
        code,
        reason,
    });
    live.app
        .ws_disconnect(endpoint, &event, &mut server.invoker(live))
        .await;
    server.host.ws_end(id);
}

/// Writes everything the hub has queued for `id` right now. `Some(end)` when it held a
/// close (or overflowed) and the session must end.
async fn flush<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    items: Result<Vec<Outgoing>, ()>,
) -> Result<(), End> {
    let mut out = Vec::new();
    let items = match items {
        Ok(items) => items,
        Err(()) => {
            encode_close(&mut out, code::POLICY, "send queue overflow");
            let _ = conn.write_all(&out).await;
            return Err(End(code::POLICY, "send queue overflow".into()));
        }
    };
    for item in items {
        match item {
            Outgoing::Message(payload) => frame(&mut out, &payload),
            Outgoing::Close(code, reason) => {
                encode_close(&mut out, code, &reason);
                let _ = conn.write_all(&out).await;
                await_close(server, conn).await;
                return Err(End(code, reason));
            }
        }
    }
    if !out.is_empty() && conn.write_all(&out).await.is_err() {
        return Err(End(code::ABNORMAL, String::new()));
    }
    let _ = server;
    Ok(())
}

/// After our close frame: wait, a moment at most, for the peer's, then return so the
/// connection closes (RFC 6455 §7.1.1: the server closes the TCP connection first).
/// Frames the peer sent before its close are dropped; bytes that do not decode mean it
/// will not answer properly, and then only its going away or the moment's end stops the
/// wait.
async fn await_close<P: Platform, C: Connection>(server: &Server<P>, conn: &mut C) {
    let limits = &server.options.limits;
    let deadline = server.platform().now_ms() + CLOSE_GRACE_MS;
    let mut decoder = Decoder::new(limits.ws_max_frame, limits.ws_max_message);
    let mut decodable = true;
    let mut pending = Vec::new();
    let mut scratch = [0u8; 128];
    while let Some(Ok(n)) =
        crate::io::read_until(server.platform(), conn, &mut scratch, deadline).await
    {
        if n == 0 {
            return;
        }
        if !decodable {
            continue;
        }
        pending.extend_from_slice(&scratch[..n]);
        loop {
            match decoder.feed(&pending) {
                Ok((_, Some(Incoming::Close(..)))) => return,
                Ok((0, None)) => break,
                Ok((used, _)) => {
                    pending.drain(..used);
                }
                Err(_) => {
                    decodable = false;
                    pending = Vec::new();
                    break;
                }
            }
        }
    }
}

fn queued<P: Platform>(server: &Server<P>, id: u64) -> Result<Vec<Outgoing>, ()> {
    match server
        .host
        .ws_poll(id, &mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(r) => r,
        Poll::Pending => Ok(Vec::new()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn session<P: Platform, C: Connection>(
    server: &Server<P>,
    live: &Live,
    conn: &mut C,
    buf: &mut InBuf,
    id: u64,
    endpoint: Endpoint,
    path: &str,
) -> End {
    let limits = &server.options.limits;
    let mut decoder = Decoder::new(limits.ws_max_frame, limits.ws_max_message);
    let mut heard = server.platform().now_ms();
    let mut pinged = false;
    let mut out = Vec::new();
    loop {
        // Everything already buffered, item by item.
        loop {
            let (used, item) = match decoder.feed(buf.pending()) {
                Ok(r) => r,
                Err(failure) => {
                    out.clear();
                    encode_close(&mut out, failure.code, failure.reason);
                    let _ = conn.write_all(&out).await;
                    await_close(server, conn).await;
                    return End(failure.code, failure.reason.into());
                }
            };
            buf.start += used;
            let Some(item) = item else {
                if used == 0 || buf.pending().is_empty() {
                    break;
                }
                continue;
            };
            out.clear();
            match item {
                Incoming::Text(_) | Incoming::Binary(_) => {
                    let payload = match item {
                        Incoming::Text(t) => WsPayload::Text(t),
                        Incoming::Binary(b) => WsPayload::Binary(b),
                        _ => continue,
                    };
                    let event = Event::WsMessage(WsMessage {
                        conn: id,
                        path: path.into(),
                        payload,
                    });
                    let reply = live
                        .app
                        .ws_message(endpoint, &event, &mut server.invoker(live))
                        .await;
                    // What handlers sent while running goes out before the reply.
                    if let Err(end) = flush(server, conn, queued(server, id)).await {
                        return end;
                    }
                    if let Some(reply) = reply {
                        frame(&mut out, &reply);
                    }
                }
                Incoming::Ping(payload) => encode(&mut out, op::PONG, &payload),
                Incoming::Pong => {}
                Incoming::Close(code, reason) => {
                    // Echo the peer's code (an empty close is answered with an empty one).
                    if code == code::NO_STATUS {
                        encode(&mut out, op::CLOSE, &[]);
                    } else {
                        encode_close(&mut out, code, "");
                    }
                    let _ = conn.write_all(&out).await;
                    return End(code, reason);
                }
            }
            if !out.is_empty() && conn.write_all(&out).await.is_err() {
                return End(code::ABNORMAL, String::new());
            }
        }

        let deadline = heard.saturating_add(if pinged {
            limits.ws_pong_timeout_ms
        } else {
            limits.ws_ping_interval_ms
        });
        let host = &server.host;
        let outbox = core::future::poll_fn(|cx| host.ws_poll(id, cx));
        let free = buf.free();
        let woke = select3(
            conn.read(free),
            outbox,
            server.platform().sleep_until(deadline),
        )
        .await;
        match woke {
            Either3::First(Ok(0)) | Either3::First(Err(_)) => {
                return End(code::ABNORMAL, String::new())
            }
            Either3::First(Ok(n)) => {
                buf.end += n;
                heard = server.platform().now_ms();
                pinged = false;
            }
            Either3::Second(items) => {
                if let Err(end) = flush(server, conn, items).await {
                    return end;
                }
            }
            Either3::Third(()) if !pinged => {
                out.clear();
                encode(&mut out, op::PING, b"berth");
                if conn.write_all(&out).await.is_err() {
                    return End(code::ABNORMAL, String::new());
                }
                pinged = true;
            }
            Either3::Third(()) => {
                out.clear();
                encode_close(&mut out, code::UNRESPONSIVE, "ping timeout");
                let _ = conn.write_all(&out).await;
                return End(code::UNRESPONSIVE, "ping timeout".into());
            }
        }
    }
}

/// Streams the events published to the response's topic until the client goes away:
/// first what berth-core's replay ring kept after `last_event_id`, then live events,
/// with a heartbeat comment on the core schedule when idle.
pub(crate) async fn sse<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    buf: &mut InBuf,
    mut response: Response,
    is_head: bool,
    last_event_id: Option<&str>,
) {
    let berth_core::model::Body::Sse(topic) = &response.body else {
        return;
    };
    let topic = topic.clone();
    response.add_header_if_absent("content-type", "text/event-stream");
    response.add_header_if_absent("cache-control", "no-cache");
    // As on the server: proxies must not buffer an event stream.
    response.add_header_if_absent("x-accel-buffering", "no");
    let mut out = Vec::new();
    write::head(
        &mut out,
        response.status,
        &response.headers,
        Framing::UntilClose,
        &[("connection", "close")],
    );
    // HEAD (or a bodiless status) gets the head alone and subscribes nobody.
    if !berth_core::respond::body_allowed(response.status, is_head) {
        let _ = conn.write_all(&out).await;
        return;
    }
    // Subscribed before the head goes out: a client that saw the head misses nothing.
    let (sub, replay) = server.host.sse_subscribe_after(&topic, last_event_id);
    out.extend(replay.concat().into_bytes());
    if conn.write_all(&out).await.is_err() {
        server.host.sse_end(sub);
        return;
    }
    let host = &server.host;
    let mut heartbeat = host.sse_heartbeat(server.platform().now_ms());
    loop {
        let deadline = heartbeat.deadline();
        let events = core::future::poll_fn(|cx| host.sse_poll(sub, cx));
        buf.start = buf.end; // whatever the client sends now is ignored
        let free = buf.free();
        let result = match select3(
            conn.read(free),
            events,
            server.platform().sleep_until(deadline),
        )
        .await
        {
            Either3::First(Ok(0)) | Either3::First(Err(_)) => break,
            Either3::First(Ok(_)) => Ok(()),
            Either3::Second(Ok(events)) => {
                heartbeat.reset(server.platform().now_ms());
                let text: String = events.concat();
                conn.write_all(text.as_bytes()).await
            }
            // A subscriber that cannot keep up is dropped rather than buffered forever.
            Either3::Second(Err(())) => break,
            Either3::Third(()) => {
                heartbeat.reset(server.platform().now_ms());
                conn.write_all(berth_core::sse::HEARTBEAT.as_bytes()).await
            }
        };
        if result.is_err() {
            break;
        }
    }
    server.host.sse_end(sub);
}
