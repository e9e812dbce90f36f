//! One connection: requests in a fixed buffer, keep-alive, the pipeline, responses —
//! and the hand-over to a WebSocket session or an SSE stream ([`crate::session`]).
//!
//! The host rejects what it must before any plugin runs, with the desktop server's
//! statuses and JSON error bodies: unknown methods 501, bodies over `max_body_size`
//! 413, a long request line 414, too many or too long headers 431, a head or body that
//! trickles in slower than `header_timeout`/`body_timeout` 408, malformed requests 400.
//! A rejected request closes the connection (its body, if any, was not read).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use berth_core::host::Level;
use berth_core::json::error_body;
use berth_core::model::{Body, Method, Request, Response};
use berth_core::uri::parse_target;

use crate::http::chunked::{ChunkError, ChunkedDecoder};
use crate::http::head::{body_kind, parse_head, BodyKind, Head, Parsed};
use crate::http::write::{self, error_message, valid_status, Framing};
use crate::net::{Connection, Platform};
use crate::server::{read_until, Server};
use crate::ws::upgrade::{self, Upgrade};

/// The connection's fixed read buffer: `data[start..end]` is received but unparsed.
pub(crate) struct InBuf {
    pub(crate) data: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl InBuf {
    fn new(size: usize) -> InBuf {
        InBuf {
            data: vec![0; size.max(64)],
            start: 0,
            end: 0,
        }
    }

    /// The unparsed bytes.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Moves unparsed bytes to the front, so the free tail is as large as it can be.
    pub(crate) fn compact(&mut self) {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Space to read into (after compacting).
    pub(crate) fn free(&mut self) -> &mut [u8] {
        self.compact();
        &mut self.data[self.end..]
    }
}

/// How reading a request ended, when it did not produce one.
enum Stop {
    /// Silently: the peer closed, or an idle keep-alive connection timed out.
    Quiet,
    /// Answer with this status (JSON error) and close.
    Reject(u16),
}

/// Answers a connection the server will not serve (503 when all slots are busy).
pub(crate) async fn refuse<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    status: u16,
) {
    let _ = send(server, conn, error(status), false, false).await;
}

fn error(status: u16) -> Response {
    Response::error(status, error_message(status))
}

/// Whether `path` is also an HTTP `GET` route.
fn is_http_route<P: Platform>(server: &Server<P>, path: &str) -> bool {
    matches!(
        server.app.router().find(Method::Get, path),
        berth_core::router::Match::Found { .. }
    )
}

/// 426 for a plain request on a WebSocket-only path, with the desktop's message.
fn upgrade_required() -> Response {
    let mut r = Response::error(426, "Upgrade Required: this is a WebSocket endpoint");
    r.headers.push(("upgrade".into(), "websocket".into()));
    r.headers.push(("connection".into(), "Upgrade".into()));
    r
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
                let _ = send(server, conn, error(status), false, false).await;
                return;
            }
        };
        served += 1;
        let Some(method) = Method::parse(&head.method) else {
            log_access(server, &remote, &head.method, &head.target, 501, started);
            let _ = send(server, conn, error(501), false, false).await;
            return;
        };
        let Some(path_and_query) = origin_form(&head.target) else {
            let _ = send(server, conn, error(400), false, false).await;
            return;
        };
        let target = parse_target(path_and_query);
        // `[server] allowed_hosts`: berth-core's decision, before any plugin runs.
        let allow = &server.options.allow;
        if let Err(refused) = allow.check_request_host(&head.target, &head.headers) {
            let status = refused.status;
            log_access(server, &remote, &head.method, &head.target, status, started);
            let _ = send(server, conn, refused, false, false).await;
            return;
        }

        // A WebSocket upgrade on a WebSocket route leaves HTTP for good.
        if let Some((route, _)) = server.app.ws_route(&target.path) {
            match upgrade::check(&head) {
                Upgrade::Yes(key) => {
                    // `[server] allowed_origins` (berth-core), before `ws-connect` runs.
                    if let Err(refused) = allow.check_origin_header(&head.headers) {
                        let status = refused.status;
                        log_access(server, &remote, &head.method, &head.target, status, started);
                        let _ = send(server, conn, refused, false, false).await;
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
                    return crate::session::websocket(server, conn, &mut buf, ws).await;
                }
                Upgrade::Invalid(status) => {
                    let mut r = error(status);
                    if status == 426 {
                        r.headers
                            .push(("sec-websocket-version".into(), "13".into()));
                    }
                    let _ = send(server, conn, r, false, false).await;
                    return;
                }
                // A plain request on a path that is only a WebSocket route is told to
                // upgrade, as the desktop server does; HTTP routes on it win.
                Upgrade::No if !is_http_route(server, &target.path) => {
                    log_access(server, &remote, &head.method, &head.target, 426, started);
                    let _ = send(server, conn, upgrade_required(), false, false).await;
                    return;
                }
                Upgrade::No => {}
            }
        }

        let body = match read_body(server, conn, &mut buf, &head).await {
            Ok(body) => body,
            Err(Stop::Quiet) => return,
            Err(Stop::Reject(status)) => {
                log_access(server, &remote, &head.method, &head.target, status, started);
                let _ = send(server, conn, error(status), false, false).await;
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
        let request = Request {
            id: server.next_request_id(),
            method,
            path: target.path,
            query: target.query,
            query_pairs: target.query_pairs,
            params: Vec::new(),
            headers: head.headers,
            body,
            remote_addr: remote.clone(),
        };
        let mut invoker = server.request_invoker();
        let response = server.app.handle(request, &mut invoker).await;
        let status = response.status;
        log_access(server, &remote, &head.method, &head.target, status, started);
        let is_head = method == Method::Head;
        let keep = match response.body {
            Body::Sse(_) => {
                let last = last_event_id.as_deref();
                crate::session::sse(server, conn, &mut buf, response, is_head, last).await;
                false
            }
            Body::Stream(id) => match invoker.stream_owner {
                Some(owner) => stream(server, conn, response, owner, id, is_head, keep_alive).await,
                None => send(server, conn, error(500), false, keep_alive).await,
            },
            Body::File(ref path) => {
                let path = path.clone();
                let owner = invoker.file_owner;
                let req = &file_request;
                crate::files::send(
                    server, conn, response, &path, owner, req, is_head, keep_alive,
                )
                .await
            }
            Body::Bytes(_) => send(server, conn, response, is_head, keep_alive).await,
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
        match read_until(server.platform(), conn, free, deadline).await {
            None if began => return Err(Stop::Reject(408)),
            None | Some(Ok(0)) | Some(Err(_)) => return Err(Stop::Quiet),
            Some(Ok(n)) => {
                buf.end += n;
                if !began {
                    began = true;
                    let at = server.platform().now_ms();
                    deadline = at.saturating_add(limits.header_timeout_ms);
                }
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

/// Writes a response with a whole body. Returns whether the connection stays open.
pub(crate) async fn send<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    response: Response,
    is_head: bool,
    keep_alive: bool,
) -> bool {
    let response = if valid_status(response.status) {
        response
    } else {
        server.log(
            Level::Warn,
            format_args!("plugin returned invalid status {}", response.status),
        );
        Response::error(500, "Plugin returned an invalid status")
    };
    let bytes = match response.body {
        Body::Bytes(bytes) => bytes,
        _ => Vec::new(),
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = Vec::with_capacity(160 + if is_head { 0 } else { bytes.len() });
    let dropped = write::head(
        &mut out,
        response.status,
        &response.headers,
        Framing::Length(bytes.len()),
        &[("connection", connection)],
    );
    warn_dropped(server, &dropped);
    let bodiless = is_head || response.status < 200 || matches!(response.status, 204 | 304);
    if !bodiless {
        out.extend_from_slice(&bytes);
    }
    conn.write_all(&out).await.is_ok() && keep_alive
}

pub(crate) fn warn_dropped<P: Platform>(server: &Server<P>, dropped: &[String]) {
    for name in dropped {
        server.log(
            Level::Warn,
            format_args!("dropping invalid response header {name:?}"),
        );
    }
}

/// Writes a `stream` body chunk by chunk, pulling each from the plugin that owns it.
async fn stream<P: Platform, C: Connection>(
    server: &Server<P>,
    conn: &mut C,
    response: Response,
    owner: usize,
    id: u32,
    is_head: bool,
    keep_alive: bool,
) -> bool {
    if !valid_status(response.status) {
        return send(server, conn, error(500), is_head, keep_alive).await;
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = Vec::new();
    let dropped = write::head(
        &mut out,
        response.status,
        &response.headers,
        Framing::Chunked,
        &[("connection", connection)],
    );
    warn_dropped(server, &dropped);
    if conn.write_all(&out).await.is_err() {
        return false;
    }
    if is_head {
        return keep_alive;
    }
    let Some(plugin) = server.plugins.get(owner) else {
        return false;
    };
    loop {
        out.clear();
        match plugin.next_chunk(id).await {
            Ok(Some(chunk)) if chunk.is_empty() => continue,
            Ok(Some(chunk)) => write::chunk(&mut out, &chunk),
            Ok(None) => {
                write::chunk(&mut out, b"");
                return conn.write_all(&out).await.is_ok() && keep_alive;
            }
            // The status is already sent: all we can do is end the body unfinished.
            Err(_) => return false,
        }
        if conn.write_all(&out).await.is_err() {
            return false;
        }
    }
}

/// The JSON error response for a refused WebSocket upgrade.
pub(crate) fn refusal_response(status: u16, reason: &str) -> Response {
    let status = if (400..600).contains(&status) {
        status
    } else {
        403
    };
    Response::json(status, error_body(status, reason))
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
