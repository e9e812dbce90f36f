//! One HTTP request, from hyper to the pipeline and back.
//!
//! The host owns everything about the wire: it rejects what it must before any plugin
//! runs (a request line over `max_request_line` → 414, a header line over
//! `max_header_size` → 431, unknown methods → 501, bodies over `max_body_size` → 413, a
//! body that trickles in slower than `body_timeout` → 408), builds the plugin-facing [`Request`], runs the
//! pipeline, and turns the plugin's [`Response`] back into HTTP, dropping a body for HEAD.
//! Bodies that are not in memory (SSE, files, streams) are built by [`crate::respond`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use berth_core::head_rules::check_host;
use berth_core::model::{Method, Request, Response};
use berth_core::respond::finalise;
use berth_core::stream_pull::StreamPull;
use berth_core::upgrade::{self, OnWsRoute, Upgrade};
use berth_core::uri::parse_target;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH};

use tracing::Instrument;

use crate::activity::Activity;
use crate::body::{to_hyper, ResponseBody};
use crate::invoker::TrackingInvoker;
use crate::meta::{Headers, RequestMeta};
use crate::respond::respond;
use crate::snapshot::Snapshot;
use crate::{ws, Port, Shared};
use berth_core::ws::Endpoint;

/// A connection's peer: its address, and that address as the text every request carries
/// (`Request::remote_addr`), formatted once per connection. Formatting it per request
/// cost ≈ 1,100 instructions of a `GET /hello` (callgrind), more than copying the text.
#[derive(Debug)]
pub struct Peer {
    /// The peer's address.
    pub addr: SocketAddr,
    /// `addr` as `ip:port`.
    text: Box<str>,
}

impl Peer {
    /// The peer at `addr`.
    pub fn new(addr: SocketAddr) -> Arc<Peer> {
        Arc::new(Peer {
            addr,
            text: addr.to_string().into_boxed_str(),
        })
    }
}

/// Serves one request. Never fails: every failure is an HTTP response.
pub async fn serve(
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    peer: Arc<Peer>,
    port: Port,
    mut req: hyper::Request<Incoming>,
) -> Result<hyper::Response<ResponseBody>, Infallible> {
    let started = std::time::Instant::now();
    let last = activity.begin();
    let h2 = req.version() == hyper::Version::HTTP_2;
    if h2 {
        authority_as_host(&mut req);
    }
    let seq = shared.next_request_id.fetch_add(1, Ordering::Relaxed);
    let request_id = crate::request_id::of(&req, shared.request_id_prefix, seq);
    // Both are cheap clones (an enum and shared bytes): no per-request string building.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let span = crate::spans::request(
        method.as_str(),
        uri.path(),
        request_id.to_str().unwrap_or(""),
        req.headers(),
    );
    let checked = check_head(&shared.limits, &req)
        .and_then(|()| crate::allow::check_host(&shared.allow, &req));
    // The plugin set this request runs on, start to finish, whatever swaps happen
    // meanwhile (see `snapshot`).
    let snap = shared.live.load_full();
    let mut routed = None;
    let mut response = if let Err(rejection) = checked {
        limit_hit(&shared, rejection.status);
        to_hyper(rejection, false)
    } else {
        match websocket(&snap, port, &req) {
            Some(Ok((endpoint, key))) => {
                ws::accept(&shared, &snap, peer.addr, req, endpoint, &key)
                    .instrument(span.clone())
                    .await
            }
            Some(Err(refused)) => to_hyper(refused, false),
            None => {
                // Boxed: the pipeline's future is large, and the wrappers below (the request id,
                // the span) would each move it by value.
                let handled = Box::pin(http(&shared, &snap, &activity, &peer, seq, req));
                let (response, target) = crate::request_id::scope(request_id.clone(), handled)
                    .instrument(span.clone())
                    .await;
                routed = target;
                response
            }
        }
    };
    // (HTTP/2 has no `Connection`: its connection task sends GOAWAY instead.)
    if last && !h2 && response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
        // `max_keep_alive_requests`: hyper closes the connection after this response.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
        .headers_mut()
        .insert("x-request-id", request_id.clone());
    let response = response.map(|body| activity.track(body));
    // Seed 002's access line: ip | METHOD path | status | ms (time to the response head;
    // a streamed body may go on after it).
    // The line's shape and escaping are berth-core's (`access`), shared with the
    // embedded runtime; the JSON format keeps the fields as well.
    let (ip, status) = (peer.addr.ip(), response.status().as_u16());
    let elapsed = started.elapsed();
    let (plugin, route) = routed.map_or(("", ""), |t| snap.route_label(t));
    shared
        .metrics
        .request(plugin, route, method.as_str(), status, elapsed);
    crate::spans::finish(&span, method.as_str(), route, status);
    let ms = elapsed.as_secs_f64() * 1000.0;
    // An origin-form target is already text; only an absolute-form one is rebuilt.
    let target = match (uri.authority(), uri.path_and_query()) {
        (None, Some(pq)) => std::borrow::Cow::Borrowed(pq.as_str()),
        _ => std::borrow::Cow::Owned(uri.to_string()),
    };
    let line = berth_core::access::AccessLine {
        peer: &ip,
        method: method.as_str(),
        target: &target,
        status,
        elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    };
    let request_id = request_id.to_str().unwrap_or("");
    tracing::info!(target: "access", %ip, %method, uri = %line.target, status, ms, request_id, "{line}");
    Ok(response)
}

/// HTTP/2 carries the host in `:authority` (RFC 9113 §8.3.1), which hyper puts in the
/// URI: it becomes the `Host` header the host rules, the allow-lists and plugins read.
fn authority_as_host<B>(req: &mut hyper::Request<B>) {
    if req.headers().contains_key(hyper::header::HOST) {
        return;
    }
    let host = req
        .uri()
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    if let Some(host) = host {
        req.headers_mut().insert(hyper::header::HOST, host);
    }
}

/// The head checks hyper cannot make (see [`crate::conn`] for the ones it makes): the
/// request line against `max_request_line` (414) and each header line, `name: value`,
/// against `max_header_size` (431). hyper has already bounded the whole head, so these
/// only read what is there.
pub fn check_head<B>(
    limits: &berth_core::limits::Limits,
    req: &hyper::Request<B>,
) -> Result<(), Response> {
    let uri = req.uri();
    let target = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => scheme.len() + "://".len() + authority.as_str().len(),
        (None, Some(authority)) => authority.as_str().len(),
        _ => 0,
    } + uri.path_and_query().map_or(0, |p| p.as_str().len());
    // `METHOD SP target SP HTTP/1.1`
    let line = req.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len();
    if line > limits.max_request_line {
        return Err(Response::error(414, "URI Too Long"));
    }
    // hyper counts HTTP/1 headers itself; an HTTP/2 header list is only bounded in bytes.
    if req.headers().len() > limits.max_headers {
        return Err(Response::error(431, "Request Header Fields Too Large"));
    }
    let too_large = req.headers().iter().any(|(name, value)| {
        name.as_str().len() + ": ".len() + value.len() > limits.max_header_size
    });
    if too_large {
        return Err(Response::error(431, "Request Header Fields Too Large"));
    }
    // hyper leaves the Host rule to the application; berth-core's copy of it.
    let http_1_1 = req.version() >= hyper::Version::HTTP_11;
    check_host(http_1_1, &Headers(req.headers()))
}

/// Whether the request is for a WebSocket: `None` for plain HTTP, else the endpoint
/// that serves it (with the client's key) or the response that says why it cannot be
/// one. The rules are berth-core's [`upgrade`]; this only knows the ports.
fn websocket(
    snap: &Snapshot,
    port: Port,
    req: &hyper::Request<Incoming>,
) -> Option<Result<(Endpoint, String), Response>> {
    let attempt = ws::check(req);
    match port {
        Port::WebSocket => Some(match attempt {
            Upgrade::Yes(key) => Ok((Endpoint::Hooks, key)),
            Upgrade::Invalid(r) => Err(r),
            Upgrade::No => Err(upgrade::upgrade_required()),
        }),
        Port::Http => {
            let path = req.uri().path();
            let (target, _) = snap.app.ws_route(path)?;
            match upgrade::on_ws_route(attempt, snap.app.router(), path) {
                OnWsRoute::Accept(key) => Some(Ok((Endpoint::Route(target), key))),
                OnWsRoute::Http => None,
                OnWsRoute::Respond(r) => Some(Err(r)),
            }
        }
    }
}

/// Counts a request the host refused for a limit (by the status it got).
fn limit_hit(shared: &Shared, status: u16) {
    let kind = match status {
        408 => "408",
        413 => "413",
        414 => "414",
        431 => "431",
        _ => return,
    };
    shared.metrics.limit_hit(kind);
}

/// Serves a plain HTTP request through the pipeline; also returns the route handler it
/// reached, if any (the metrics' labels).
async fn http(
    shared: &Arc<Shared>,
    snap: &Arc<Snapshot>,
    activity: &Activity,
    peer: &Peer,
    seq: u64,
    req: hyper::Request<Incoming>,
) -> (
    hyper::Response<ResponseBody>,
    Option<berth_core::pipeline::Target>,
) {
    match read_request(shared, peer, seq, req).await {
        Ok(request) => {
            let head = request.method == Method::Head;
            let mut meta = RequestMeta::of(&request);
            meta.abort = Some(activity.abort.clone());
            // Plugin calls run inline as futures that yield while the guest computes, each
            // bounded by `plugin_timeout` and all of them by `request_timeout`.
            let budget = Duration::from_millis(shared.limits.request_timeout_ms);
            let mut invoker = TrackingInvoker::new(&snap.pools, budget);
            let mut response = snap.app.handle(request, &mut invoker).await;
            // Read before `finalise` strips it: the pacing header is for the host alone.
            let pull =
                StreamPull::for_headers(&response.headers, 0, shared.limits.stream_timeout_ms);
            for note in finalise(&mut response, shared.limits.max_response_headers) {
                tracing::warn!("{note}");
            }
            let routed = invoker.routed;
            let origin = invoker.into_origin(&response.body);
            let response = respond(shared, snap, response, origin, &meta, head, pull).await;
            (response, routed)
        }
        Err(rejection) => {
            limit_hit(shared, rejection.status);
            (to_hyper(rejection, false), None)
        }
    }
}

/// Reads and checks the request; `Err` is the response that rejects it.
async fn read_request(
    shared: &Shared,
    peer: &Peer,
    seq: u64,
    req: hyper::Request<Incoming>,
) -> Result<Request, Response> {
    let limits = &shared.limits;
    let Some(method) = Method::parse(req.method().as_str()) else {
        return Err(Response::error(501, "Method Not Implemented"));
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_size as u64) {
        return Err(Response::error(413, "Payload Too Large"));
    }
    let (parts, body) = req.into_parts();
    let target = parse_target(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    );
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();

    // A request that has no body (most GETs) needs no timer to read it.
    let body = if http_body::Body::is_end_stream(&body) {
        Vec::new()
    } else {
        read_body(body, limits).await?
    };

    Ok(Request {
        id: seq,
        method,
        path: target.path,
        query: target.query,
        query_pairs: target.query_pairs,
        params: Vec::new(),
        headers,
        body,
        remote_addr: String::from(&*peer.text),
    })
}

/// Reads a request body within `max_body_size` (413) and `body_timeout` (408).
async fn read_body(
    body: Incoming,
    limits: &berth_core::limits::Limits,
) -> Result<Vec<u8>, Response> {
    let limited = Limited::new(body, limits.max_body_size);
    let timeout = Duration::from_millis(limits.body_timeout_ms);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(Response::error(408, "Request Timeout")),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Response::error(413, "Payload Too Large"))
        }
        Ok(Err(_)) => Err(Response::error(400, "Bad Request")),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
    }
}
