//! One connection: requests in a fixed buffer, keep-alive, the pipeline, responses —
//! and the hand-over to a WebSocket session or an SSE stream ([`crate::session`]).
//!
//! The host rejects what it must before any plugin runs, with the desktop server's
//! statuses and JSON error bodies: unknown methods 501, bodies over `max_body_size`
//! 413, a long request line 414, too many or too long headers 431, a body that trickles
//! in slower than `body_timeout` 408, malformed requests 400. A head not whole within
//! `header_timeout` is cut without an answer, as on the server.
//! A rejected request closes the connection (its body, if any, was not read).

use alloc::string::String;
use alloc::vec::Vec;

use berth_core::head_rules::check_host;
use berth_core::host::Level;
use berth_core::model::{Body, Method, Request, Response};
use berth_core::respond::{body_allowed, finalise, Note};
use berth_core::stream_pull::{Pulled, Step, StreamPull};
use berth_core::upgrade::{self, OnWsRoute};
use berth_core::uri::parse_target;
use embassy_futures::select::{select, Either};

use crate::http::chunked::{ChunkError, ChunkedDecoder};
use crate::http::head::{body_kind, parse_head, BodyKind, Head, Parsed};
use crate::http::write::{self, Framing};
use crate::io::{error, read_until, send, InBuf};
use crate::net::{Connection, Platform};
use crate::plugins::Plugin;
use crate::server::Server;

/// How reading a request ended, when it did not produce one.
enum Stop {
    /// Silently: the peer closed, or an idle keep-alive connection timed out.
    Quiet,
    /// Answer with this status (JSON error) and close.
    Reject(u16),
}

/// Serves requests on `conn` until it closes or stops being kept alive.
pub(crate) async fn serve<P: Platform, C: Connection>(server: &Server<P>, conn: &mut C) {
    let mut buf = InBuf::new(server.options.head_buffer);
    let remote = conn.remote_addr();
    let mut served: u32 = 0;
    loop {
        let started = server.platform().now_ms();
        let head = match read_head(server, conn, &mut buf, served == 0).await {
            Ok(head) => head,
            Err(Stop::Quiet) => return,
            Err(Stop::Reject(status)) => {
                log_access(server, &remote, "-", "-", status, started);
                let _ = send(conn, error(status), false, false).await;
                return;
            }
        };
        served += 1;
        let Some(method) = Method::parse(&head.method) else {
            log_access(server, &remote, &head.method, &head.target, 501, started);
            let _ = send(conn, error(501), false, false).await;
            return;
        };
        let Some(path_and_query) = origin_form(&head.target) else {
            let _ = send(conn, error(400), false, false).await;
            return;
        };
        let target = parse_target(path_and_query);
        // `[server] allowed_hosts`: berth-core's decision, before any plugin runs.
        let allow = &server.options.allow;
        if let Err(refused) = allow.check_request_host(&head.target, &head.headers) {
            let status = refused.status;
            log_access(server, &remote, &head.method, &head.target, status, started);
            let _ = send(conn, refused, false, false).await;
            return;
        }

        if let Err(r) = check_host(head.minor_version >= 1, &head.headers[..]) {
            log_access(server, &remote, &head.method, &head.target, 400, started);
            let _ = send(conn, r, false, false).await;
            return;
        }

        // The device's admin endpoint, when the store turned it on: the host's own.
        if crate::admin::is_admin_path(&target.path) {
            if let Some(admin) = &server.admin {
                let path = &target.path;
                let (status, keep) = admin
                    .serve(server, conn, &mut buf, &head, path, method)
                    .await;
                log_access(server, &remote, &head.method, &head.target, status, started);
                if keep && head.keep_alive() && !server.is_draining() {
                    continue;
                }
                return;
            }
        }

        // The plugin set this request runs on, whatever is pushed meanwhile.
        let live = server.live();
        // A WebSocket upgrade on a WebSocket route leaves HTTP for good.
        if let Some((route, _)) = live.app.ws_route(&target.path) {
            let attempt = upgrade::check(&head.method, head.minor_version >= 1, &head.headers[..]);
            match upgrade::on_ws_route(attempt, live.app.router(), &target.path) {
                OnWsRoute::Accept(key) => {
                    // `[server] allowed_origins` (berth-core), before `ws-connect` runs.
                    if let Err(refused) = allow.check_origin_header(&head.headers) {
                        let status = refused.status;
                        log_access(server, &remote, &head.method, &head.target, status, started);
                        let _ = send(conn, refused, false, false).await;
                        return;
                    }
                    log_access(server, &remote, &head.method, &head.target, 101, started);
                    let ws = crate::session::WsStart {
                        route,
                        key,
                        target,
                        headers: head.headers,
                        remote: remote.clone(),
                    };
                    return crate::session::websocket(server, &live, conn, &mut buf, ws).await;
                }
                OnWsRoute::Respond(r) => {
                    log_access(
                        server,
                        &remote,
                        &head.method,
                        &head.target,
                        r.status,
                        started,
                    );
                    let _ = send(conn, r, false, false).await;
                    return;
                }
                OnWsRoute::Http => {}
            }
        }

        let body = match read_body(server, conn, &mut buf, &head).await {
            Ok(body) => body,
            Err(Stop::Quiet) => return,
            Err(Stop::Reject(status)) => {
                log_access(server, &remote, &head.method, &head.target, status, started);
                let _ = send(conn, error(status), false, false).await;
                return;
            }
        };
        let keep_alive =
            head.keep_alive() && served < server.options.limits.max_keep_alive_requests;
        let file_request = crate::files::FileRequest::of(&head.headers);
        // Kept for an SSE response's replay (the request moves into the pipeline).
        let last_event_id = head
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("last-event-id"))
            .map(|(_, v)| v.clone());
        let seq = server.next_request_id();
        let request_id = server.request_id(&head.headers, seq);
        let request = Request {
            id: seq,
            method,
            path: target.path,
            query: target.query,
            query_pairs: target.query_pairs,
            params: Vec::new(),
            headers: head.headers,
            body,
            remote_addr: remote.clone(),
        };
        let mut invoker = server.request_invoker(&live);
        let mut response = live.app.handle(request, &mut invoker).await;
        // A shutdown that began meanwhile makes this the connection's last response.
        let keep_alive = keep_alive && !server.is_draining();
        // Read before `finalise` strips it: the pacing header is for the host alone.
        let pull = StreamPull::for_headers(
            &response.headers,
            server.platform().now_ms(),
            server.options.limits.stream_timeout_ms,
        );
        let notes = finalise(&mut response, server.options.limits.max_response_headers);
        warn(server, &notes);
        // The host's id replaces any a plugin set, as on the server runtime.
        response
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("x-request-id"));
        response
            .headers
            .push((String::from("x-request-id"), request_id));
        // A file's status is known once it is located and its conditionals are checked
        // (403, 404, 304, 206…): its access line is written after it is sent.
        if !matches!(response.body, Body::File(_)) {
            let status = response.status;
            log_access(server, &remote, &head.method, &head.target, status, started);
        }
        let is_head = method == Method::Head;
        let owner = invoker
            .stream_owner
            .and_then(|i| live.plugins.get(i))
            .map(|p| &**p);
        let mut generation = 0;
        if let Some(owner) = owner {
            // Counted from here to its end or abandonment (see `Plugin::stream_end`).
            generation = owner.stream_begin();
            if !matches!(response.body, Body::Stream(_)) {
                // A stream the plugin opened but that will not be pulled (replaced by a
                // 500 or by later middleware) must not keep its iterator alive.
                owner.stream_end(false);
            }
        }
        let keep = match response.body {
            Body::Sse(_) => {
                let last = last_event_id.as_deref();
                crate::session::sse(server, conn, &mut buf, response, is_head, last).await;
                false
            }
            Body::Stream(id) => match owner {
                Some(owner) => {
                    let s = PulledStream {
                        plugin: owner,
                        id,
                        generation,
                        pull,
                    };
                    stream(server, conn, response, s, is_head, keep_alive).await
                }
                None => send(conn, error(500), false, keep_alive).await,
            },
            Body::File(ref path) => {
                let path = path.clone();
                let owner = invoker
                    .file_owner
                    .and_then(|i| live.app.plugins().get(i))
                    .map(|p| p.name.as_str());
                let req = &file_request;
                let statics = &server.statics;
                let (keep, status) = crate::files::send(
                    statics, conn, response, &path, owner, req, is_head, keep_alive,
                )
                .await;
                log_access(server, &remote, &head.method, &head.target, status, started);
                keep
            }
            Body::Bytes(_) => send(conn, response, is_head, keep_alive).await,
        };
        if !keep {
            return;
        }
    }
}

/// The path and query of a request target: origin form as it is, absolute form
/// (`http://host/path`) without scheme and authority, `*` for `OPTIONS *`.
fn origin_form(target: &str) -> Option<&str> {
    if target.starts_with('/') || target == "*" {
        return Some(target);
    }
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    // `http://host?q` has no path: it is `/` (the query of such a target is dropped).
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

fn log_access<P: Platform>(
    server: &Server<P>,
    remote: &str,
    method: &str,
    target: &str,
    status: u16,
    started: u64,
) {
    let ms = server.platform().now_ms().saturating_sub(started);
    let line = berth_core::access::AccessLine {
        peer: &remote,
        method,
        target,
        status,
        elapsed_us: ms.saturating_mul(1000),
    };
    server.log(Level::Info, format_args!("{line}"));
}

/// Reads until a whole head is buffered. The first request of a connection has
/// `header_timeout`; later ones wait `keep_alive_timeout` for their first byte.
async fn read_head<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    buf: &mut InBuf,
    first: bool,
) -> Result<Head, Stop> {
    let limits = &server.options.limits;
    let now = server.platform().now_ms();
    let idle = if first {
        limits.header_timeout_ms
    } else {
        limits.keep_alive_timeout_ms
    };
    let mut deadline = now.saturating_add(idle);
    let mut began = !buf.pending().is_empty();
    if began {
        deadline = now.saturating_add(limits.header_timeout_ms);
    }
    loop {
        buf.compact();
        match parse_head(buf.pending(), buf.data.len(), limits) {
            Parsed::Complete(head, len) => {
                buf.start += len;
                return Ok(head);
            }
            Parsed::Reject(status) => return Err(Stop::Reject(status)),
            Parsed::Incomplete => {}
        }
        let free = buf.free();
        let read = read_until(server.platform(), conn, free, deadline);
        // A connection with no request begun is idle: a shutdown closes it at once.
        let read = if began {
            read.await
        } else {
            match select(server.drained(), read).await {
                Either::First(()) => return Err(Stop::Quiet),
                Either::Second(read) => read,
            }
        };
        match read {
            // A head that never completes is cut without an answer, as the server does
            // (`header_timeout` is against slowloris, not a request to reply to).
            None | Some(Ok(0)) | Some(Err(_)) => return Err(Stop::Quiet),
            Some(Ok(n)) => {
                buf.end += n;
                // A connection's first head must be whole `header_timeout` after the
                // accept, however slowly it trickles in; a later one within
                // `header_timeout` of its first byte (it had `keep_alive_timeout` to start).
                if !began && !first {
                    let at = server.platform().now_ms();
                    deadline = at.saturating_add(limits.header_timeout_ms);
                }
                began = true;
            }
        }
    }
}

/// Reads the body the head announces, within `max_body_size` and `body_timeout`.
async fn read_body<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    buf: &mut InBuf,
    head: &Head,
) -> Result<Vec<u8>, Stop> {
    let limits = &server.options.limits;
    let kind = body_kind(head, limits.max_body_size).map_err(Stop::Reject)?;
    if kind == BodyKind::Empty {
        return Ok(Vec::new());
    }
    if head
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && conn
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .is_err()
    {
        return Err(Stop::Quiet);
    }
    let deadline = server
        .platform()
        .now_ms()
        .saturating_add(limits.body_timeout_ms);
    let mut body = Vec::new();
    let mut chunked = ChunkedDecoder::new(limits.max_body_size);
    loop {
        match kind {
            BodyKind::Length(n) => {
                let take = (n - body.len()).min(buf.pending().len());
                body.extend_from_slice(&buf.pending()[..take]);
                buf.start += take;
                if body.len() == n {
                    return Ok(body);
                }
            }
            BodyKind::Chunked => {
                let used = chunked
                    .feed(buf.pending(), &mut body)
                    .map_err(|e| match e {
                        ChunkError::TooLarge => Stop::Reject(413),
                        ChunkError::Invalid => Stop::Reject(400),
                    })?;
                buf.start += used;
                if chunked.is_done() {
                    return Ok(body);
                }
            }
            BodyKind::Empty => return Ok(body),
        }
        let free = buf.free();
        match read_until(server.platform(), conn, free, deadline).await {
            None => return Err(Stop::Reject(408)),
            Some(Ok(0)) | Some(Err(_)) => return Err(Stop::Quiet),
            Some(Ok(n)) => buf.end += n,
        }
    }
}

/// Logs what finalisation changed in a plugin's response.
pub(crate) fn warn<P: Platform>(server: &Server<P>, notes: &[Note]) {
    for note in notes {
        server.log(Level::Warn, format_args!("{note}"));
    }
}

/// A `stream` body and the plugin instance that holds its iterator.
struct PulledStream<'s> {
    plugin: &'s Plugin,
    id: u32,
    /// The instance generation the stream began on (see [`Plugin::stream_lost`]).
    generation: u64,
    pull: StreamPull,
}

/// Writes a `stream` body chunk by chunk, pulling each from the plugin that owns it, as
/// berth-core's [`StreamPull`] paces it. A stream that does not reach its end (HEAD, a
/// bodiless status, a failed write or pull, its budget spent) releases the instance.
async fn stream<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    response: Response,
    mut s: PulledStream<'_>,
    is_head: bool,
    keep_alive: bool,
) -> bool {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = Vec::new();
    write::head(
        &mut out,
        response.status,
        &response.headers,
        Framing::Chunked,
        &[("connection", connection)],
    );
    if conn.write_all(&out).await.is_err() {
        s.plugin.stream_end(false);
        return false;
    }
    if !body_allowed(response.status, is_head) {
        s.plugin.stream_end(false);
        return keep_alive;
    }
    let platform = server.platform();
    loop {
        match s.pull.next(platform.now_ms()) {
            Step::Pull => {}
            Step::WaitUntil(at) => {
                platform.sleep_until(at).await;
                continue;
            }
            Step::Expired => {
                server.log(
                    Level::Warn,
                    format_args!("stream of {} cut off by stream_timeout", s.plugin.name()),
                );
                s.plugin.stream_end(false);
                return false;
            }
        }
        out.clear();
        if s.plugin.stream_lost(s.generation) {
            // Another call failed and took the instance, and this iterator, with it.
            s.plugin.stream_end(false);
            return false;
        }
        let chunk = match s.plugin.next_chunk(s.id).await {
            // The instance may have been replaced while this pull waited for it (another
            // call failed): a fresh one knows no such stream, and its "ended" is a lie.
            Ok(_) if s.plugin.stream_lost(s.generation) => {
                s.plugin.stream_end(false);
                return false;
            }
            Ok(chunk) => chunk,
            // The status is already sent: all we can do is end the body unfinished. The
            // failed instance is gone already.
            Err(_) => {
                s.plugin.stream_end(false);
                return false;
            }
        };
        match s
            .pull
            .pulled(platform.now_ms(), chunk.as_ref().map(Vec::len))
        {
            Pulled::Empty => continue,
            Pulled::Chunk => write::chunk(&mut out, chunk.as_deref().unwrap_or_default()),
            Pulled::End => {
                s.plugin.stream_end(true);
                write::chunk(&mut out, b"");
                return conn.write_all(&out).await.is_ok() && keep_alive;
            }
        }
        if conn.write_all(&out).await.is_err() {
            s.plugin.stream_end(false);
            return false;
        }
        // Every other connection shares this loop: let them run between chunks.
        embassy_futures::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::origin_form;

    #[test]
    fn request_targets() {
        assert_eq!(origin_form("/a?b"), Some("/a?b"));
        assert_eq!(origin_form("*"), Some("*"));
        assert_eq!(origin_form("http://h:80/x?y=1"), Some("/x?y=1"));
        assert_eq!(origin_form("http://h?q"), Some("/"));
        assert_eq!(origin_form("http://h"), Some("/"));
        assert_eq!(origin_form("ftp://h/x"), None);
        assert_eq!(origin_form("x"), None);
    }
}
