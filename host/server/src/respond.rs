//! Turns the pipeline's final response into HTTP, whatever its body: bytes, a
//! Server-Sent Events subscription, a file, or a stream pulled from the guest.

use std::sync::Arc;

use berth_core::model::{Body, Response};
use http_body_util::BodyExt;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION};

use crate::body::{apply_headers, empty_body, error_response, to_hyper, ResponseBody};
use crate::file_response::{self, FileReply};
use crate::invoker::Origin;
use crate::meta::RequestMeta;
use crate::snapshot::Snapshot;
use crate::static_files::Located;
use crate::stream::ChunkBody;
use crate::Shared;
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
        Body::Bytes(_) => to_hyper(response, head),
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
            let Some((pool, instance)) = origin.and_then(|o| Some((o.pool, o.instance?))) else {
                tracing::error!("a streamed body lost its instance");
                return error_response(500, "Plugin failed", head);
            };
            let body = if body_allowed(response.status, head) {
                ChunkBody::new(pool, *id, instance, pull).boxed()
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
