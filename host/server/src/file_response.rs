//! Sending one file: validators (`ETag`, `Last-Modified`), conditional requests (304),
//! byte ranges (206, 416) and the content type by berth-core's [`files`] rules (the
//! embedded runtime's too), and a body read from disk in 64 KiB
//! pieces as the connection drains — a large file is never read whole into memory.
//! A file of at most one piece is read in the same blocking call that opens it: one
//! thread hop per request instead of three (open, metadata, read).

use std::io::SeekFrom;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use berth_core::files::{self, Conditionals, Plan};
use berth_core::model::Pairs;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH,
    CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED,
};
use std::io::Read;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::body::{apply_headers, empty_body, error_response, BodyError, ResponseBody};
use crate::meta::RequestMeta;

/// Bytes read from disk per frame.
const CHUNK: usize = 64 << 10;

/// What the caller knows about the response besides the file.
pub struct FileReply<'a> {
    /// The plugin's status (200 for mounts); conditionals and ranges apply only to 200.
    pub status: u16,
    /// Headers the plugin (or middleware) set; they win over the host's defaults.
    pub headers: &'a Pairs,
    /// `Cache-Control: max-age` for files served from a mount.
    pub max_age: Option<u32>,
    /// Whether this is a HEAD request.
    pub head: bool,
}

/// Serves `path`, which the caller already located and checked.
pub async fn send(
    path: &Path,
    reply: FileReply<'_>,
    meta: &RequestMeta,
) -> hyper::Response<ResponseBody> {
    let (info, contents) = match open(path).await {
        Ok(opened) => opened,
        Err(e) => return io_error(path, &e),
    };
    if !info.is_file() {
        return error_response(404, "Not Found", reply.head);
    }
    let modified = info.modified().ok();
    let etag = etag(info.len(), modified);
    let last_modified = modified.map(httpdate::fmt_http_date);

    let mut builder = hyper::Response::builder();
    let Some(headers) = builder.headers_mut() else {
        return error_response(500, "Internal Server Error", reply.head);
    };
    apply_headers(headers, reply.headers);
    set_default(headers, ETAG, &etag);
    if let Some(lm) = &last_modified {
        set_default(headers, LAST_MODIFIED, lm);
    }
    if let Some(age) = reply.max_age {
        set_default(headers, CACHE_CONTROL, &format!("max-age={age}"));
    }

    let conditionals = Conditionals {
        if_none_match: meta.if_none_match.as_deref(),
        not_modified_since: modified_since(meta, modified),
        range: meta.range.as_deref(),
        if_range: meta.if_range.as_deref(),
    };
    let len = info.len();
    let plan = files::plan(
        reply.status,
        reply.head,
        &conditionals,
        &etag,
        last_modified.as_deref(),
        len,
    );
    if plan == Plan::NotModified {
        headers.remove(CONTENT_TYPE);
        return finish(builder.status(304), empty_body());
    }
    set_default(headers, CONTENT_TYPE, &files::content_type(path));
    set_default(headers, ACCEPT_RANGES, "bytes");

    let mut status = reply.status;
    let (mut start, mut count) = (0, len);
    match plan {
        Plan::NotModified | Plan::Whole => {}
        Plan::Part { from, to } => {
            status = 206;
            (start, count) = (from, to - from + 1);
            set_default(headers, CONTENT_RANGE, &format!("bytes {from}-{to}/{len}"));
        }
        Plan::Unsatisfiable => {
            headers.remove(CONTENT_TYPE);
            let mut r = error_response(416, "Range Not Satisfiable", false);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            return r;
        }
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(count));
    if reply.head {
        return finish(builder.status(status), empty_body());
    }
    let body = match contents {
        Contents::Small(bytes) => {
            // `start + count <= len == bytes.len()`: checked by `range`.
            let part = bytes.slice(start as usize..(start + count) as usize);
            Full::new(part).map_err(|never| match never {}).boxed()
        }
        Contents::Large(file) => {
            let mut file = tokio::fs::File::from_std(file);
            if start > 0 {
                if let Err(e) = file.seek(SeekFrom::Start(start)).await {
                    return io_error(path, &e);
                }
            }
            FileBody {
                file: file.take(count),
                remaining: count,
                buf: BytesMut::new(),
            }
            .boxed()
        }
    };
    finish(builder.status(status), body)
}

/// A file's contents: read already when small, else the open file to stream from.
enum Contents {
    Small(Bytes),
    Large(std::fs::File),
}

/// Opens `path` and reads its metadata, and its contents when they fit in one piece,
/// all in one blocking call.
async fn open(path: &Path) -> std::io::Result<(std::fs::Metadata, Contents)> {
    let path = path.to_path_buf();
    let opened = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let info = file.metadata()?;
        if info.is_file() && info.len() <= CHUNK as u64 {
            let mut bytes = Vec::with_capacity(info.len() as usize);
            file.read_to_end(&mut bytes)?;
            if bytes.len() as u64 != info.len() {
                // Rewritten while we read: the length no longer matches the validators.
                return Err(std::io::Error::other("file changed while being read"));
            }
            return Ok((info, Contents::Small(Bytes::from(bytes))));
        }
        Ok((info, Contents::Large(file)))
    })
    .await;
    opened.map_err(std::io::Error::other)?
}

/// Sets a header unless the plugin already set one of that name.
fn set_default(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if !headers.contains_key(&name) {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    }
}

fn finish(
    builder: hyper::http::response::Builder,
    body: ResponseBody,
) -> hyper::Response<ResponseBody> {
    builder
        .body(body)
        .unwrap_or_else(|_| error_response(500, "Internal Server Error", false))
}

fn io_error(path: &Path, e: &std::io::Error) -> hyper::Response<ResponseBody> {
    match e.kind() {
        std::io::ErrorKind::NotFound => error_response(404, "Not Found", false),
        std::io::ErrorKind::PermissionDenied => error_response(403, "Forbidden", false),
        _ => {
            tracing::warn!("cannot read {}: {e}", path.display());
            error_response(500, "Internal Server Error", false)
        }
    }
}

/// `"<mtime in ns, hex>-<length, hex>"`: changes whenever the file is rewritten.
fn etag(len: u64, modified: Option<SystemTime>) -> String {
    let nanos = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{nanos:x}-{len:x}\"")
}

/// Whether `If-Modified-Since` says the client's copy is current (HTTP dates have
/// whole seconds: compared at that precision).
fn modified_since(meta: &RequestMeta, modified: Option<SystemTime>) -> bool {
    match (&meta.if_modified_since, modified) {
        (Some(since), Some(modified)) => httpdate::parse_http_date(since)
            .is_ok_and(|since| whole_seconds(modified) <= whole_seconds(since)),
        _ => false,
    }
}

fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A file (or the part of it being sent), read as the connection asks for more.
struct FileBody {
    file: tokio::io::Take<tokio::fs::File>,
    remaining: u64,
    buf: BytesMut,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        if this.buf.capacity() < CHUNK {
            this.buf.reserve(CHUNK);
        }
        match tokio_util::io::poll_read_buf(Pin::new(&mut this.file), cx, &mut this.buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(0)) => {
                // The file shrank under us: abort rather than send a short body.
                Poll::Ready(Some(Err("file ended early".into())))
            }
            Poll::Ready(Ok(n)) => {
                this.remaining = this.remaining.saturating_sub(n as u64);
                Poll::Ready(Some(Ok(Frame::data(this.buf.split().freeze()))))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e.into()))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
