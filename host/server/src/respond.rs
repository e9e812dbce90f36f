//! Turns the pipeline's final response into HTTP, whatever its body: bytes, a
//! Server-Sent Events subscription, a file, or a stream pulled from the guest.
//! Bytes, files and streams are compressed here when `[server.compression]` and the
//! request's `Accept-Encoding` say so ([`crate::compress`]); SSE never is.

use std::sync::Arc;

use berth_core::model::{Body, Response};
use http_body_util::BodyExt;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION};

use crate::body::{apply_headers, empty_body, error_response, to_hyper, ResponseBody};
use crate::compress;
use crate::file_response::{self, FileReply};
use crate::invoker::Origin;
use crate::meta::RequestMeta;
use crate::snapshot::Snapshot;
use crate::static_files::Located;
use crate::stream::ChunkBody;
use crate::Shared;
use berth_core::compression::Decision;
use berth_core::respond::body_allowed;
use berth_core::stream_pull::StreamPull;

/// Builds the HTTP response from a finalised one. `origin` says which plugin produced a
/// non-bytes body (`None` for the host's own static mounts); `pull` paces and bounds a
/// streamed body (its clock starts when the body is first polled).
pub async fn respond(
    shared: &Arc<Shared>,
    snap: &Snapshot,
    response: Response,
    origin: Option<Origin>,
    meta: &RequestMeta,
    head: bool,
    pull: StreamPull,
) -> hyper::Response<ResponseBody> {
    match &response.body {
        Body::Bytes(_) => bytes(shared, response, meta, head).await,
        Body::Sse(topic) => sse(shared, &response, topic, meta, head),
        Body::File(path) => {
            let located = match &origin {
                None => snap.statics.locate_url(path),
                Some(o) => snap.statics.locate_for_plugin(o.plugin, path),
            };
            match located {
                Located::File(file, max_age) => {
                    let reply = FileReply {
                        status: response.status,
                        headers: &response.headers,
                        max_age,
                        head,
                        compression: &shared.compression,
                        metrics: &shared.metrics,
                    };
                    file_response::send(&file, reply, meta).await
                }
                Located::AddSlash(location) => {
                    let mut r = error_response(301, "Moved Permanently", head);
                    if let Ok(v) = HeaderValue::from_str(&location) {
                        r.headers_mut().insert(LOCATION, v);
                    }
                    r
                }
                Located::Refused(403) => error_response(403, "Forbidden", head),
                Located::Refused(_) => error_response(404, "Not Found", head),
            }
        }
        Body::Stream(id) => {
            let id = *id;
            let Some((pool, instance)) = origin.and_then(|o| Some((o.pool, o.instance?))) else {
                tracing::error!("a streamed body lost its instance");
                return error_response(500, "Plugin failed", head);
            };
            let accept = meta.accept_encoding.as_deref();
            let decision = compress::decide(&shared.compression, &response, None, accept);
            let mut response = response;
            if decision != Decision::AsIs {
                compress::mark_pairs(&mut response.headers, decision.coding());
            }
            if let Some(coding) = decision.coding() {
                shared.metrics.compressed(coding, false);
            }
            let body = if body_allowed(response.status, head) {
                let chunks = ChunkBody::new(pool, id, instance, pull);
                match decision.coding() {
                    // Flushed chunk by chunk: the plugin paces what the client sees.
                    Some(c) => compress::Encoded::new(&shared.compression, c, chunks, true).boxed(),
                    None => chunks.boxed(),
                }
            } else {
                // No body will be pulled (HEAD, 204, 304); the instance, holding the
                // iterator, is dropped now rather than kept with it.
                drop(instance);
                empty_body()
            };
            with_body(&response, body, head)
        }
    }
}

/// A body in memory, compressed whole when the rules say so (keeping its
/// `Content-Length`, HEAD included).
async fn bytes(
    shared: &Shared,
    mut response: Response,
    meta: &RequestMeta,
    head: bool,
) -> hyper::Response<ResponseBody> {
    let len = match &response.body {
        Body::Bytes(b) => b.len() as u64,
        _ => 0,
    };
    let accept = meta.accept_encoding.as_deref();
    match compress::decide(&shared.compression, &response, Some(len), accept) {
        Decision::AsIs => {}
        Decision::Vary(None) => compress::mark_pairs(&mut response.headers, None),
        Decision::Vary(Some(coding)) => {
            let Body::Bytes(plain) = std::mem::replace(&mut response.body, Body::Bytes(Vec::new()))
            else {
                return to_hyper(response, head);
            };
            match compress::compress_async(&shared.compression, coding, plain).await {
                Ok(packed) => {
                    response.body = Body::Bytes(packed);
                    compress::mark_pairs(&mut response.headers, Some(coding));
                    shared.metrics.compressed(coding, false);
                }
                Err(e) => {
                    tracing::warn!("compressing a response failed: {e}");
                    return error_response(500, "Internal Server Error", head);
                }
            }
        }
    }
    to_hyper(response, head)
}

/// `text/event-stream` for the topic's subscriber, flushed event by event.
fn sse(
    shared: &Shared,
    response: &Response,
    topic: &str,
    meta: &RequestMeta,
    head: bool,
) -> hyper::Response<ResponseBody> {
    let body = if !body_allowed(response.status, head) {
        empty_body()
    } else {
        let body = shared.sse.subscribe(topic, meta.last_event_id.as_deref());
        if let Some(abort) = &meta.abort {
            body.abort_on_lag(abort.clone());
        }
        body.boxed()
    };
    let mut r = with_body(response, body, head);
    let headers = r.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// The plugin's status and headers around a body the host produces.
fn with_body(response: &Response, body: ResponseBody, head: bool) -> hyper::Response<ResponseBody> {
    let Ok(status) = hyper::StatusCode::from_u16(response.status) else {
        tracing::error!(
            "a response with status {} reached the wire",
            response.status
        );
        return error_response(500, "Internal Server Error", head);
    };
    let mut builder = hyper::Response::builder().status(status);
    if let Some(headers) = builder.headers_mut() {
        apply_headers(headers, &response.headers);
    }
    builder
        .body(body)
        .unwrap_or_else(|_| error_response(500, "Internal Server Error", head))
}
