//! Sending one file: validators (`ETag`, `Last-Modified`), conditional requests (304),
//! byte ranges (206, 416) and the content type by berth-core's [`files`] rules (the
//! embedded runtime's too), and a body read from disk in 64 KiB
//! pieces as the connection drains — a large file is never read whole into memory.
//! A file of at most one piece is read in the same blocking call that opens it: one
//! thread hop per request instead of three (open, metadata, read).
//!
//! **Compression** (`[server.compression]`, berth-core's
//! [`compression`](berth_core::compression) rules): when the client accepts it, a
//! precompressed sibling (`app.js.br`, `app.js.gz`, a regular file next to the one
//! named — a symbolic link is not followed, as it could lead out of the root) is sent
//! with the original's `Content-Type`; else a compressible file is compressed on the
//! fly: whole when it is one piece (so it keeps a `Content-Length`), piece by piece
//! when larger. Each encoded variant has its own `ETag` (`"…-br"`), so `If-None-Match`
//! answers 304 for the variant the client holds. A range request gets the identity
//! file, so ranges stay bytes of the file. Requesting `app.js.gz` itself is just a file.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use berth_config::CompressionConfig;
use berth_core::compression::{self, Candidate, Coding};
use berth_core::files::{self, Conditionals, Plan};
use berth_core::model::Pairs;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING,
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED,
};
use std::io::Read;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::body::{apply_headers, empty_body, error_response, BodyError, ResponseBody};
use crate::compress;
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
    /// `[server.compression]`.
    pub compression: &'a CompressionConfig,
    /// Where a compressed response is counted.
    pub metrics: &'a crate::metrics::Metrics,
}

/// Which representation of the file goes out.
enum Variant {
    /// The file as it is.
    Identity,
    /// Its precompressed sibling.
    Sibling(Coding),
    /// The file, compressed as it is sent.
    OnTheFly(Coding),
}

/// Serves `path`, which the caller already located and checked.
pub async fn send(
    path: &Path,
    reply: FileReply<'_>,
    meta: &RequestMeta,
) -> hyper::Response<ResponseBody> {
    let policy = &reply.compression.policy;
    let wanted: &[Coding] = if policy.enabled { &policy.codings } else { &[] };
    let (mut info, mut contents, siblings) = match open(path, wanted).await {
        Ok(opened) => opened,
        Err(e) => return io_error(path, &e),
    };
    if !info.is_file() {
        return error_response(404, "Not Found", reply.head);
    }
    let modified = info.modified().ok();
    let last_modified = modified.map(httpdate::fmt_http_date);

    let mut builder = hyper::Response::builder();
    let Some(headers) = builder.headers_mut() else {
        return error_response(500, "Internal Server Error", reply.head);
    };
    apply_headers(headers, reply.headers);
    let content_type = match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(plugin_set) => plugin_set.to_string(),
        None => files::content_type(path),
    };
    let candidate = Candidate {
        status: reply.status,
        content_type: Some(&content_type),
        encoded: headers.contains_key(CONTENT_ENCODING),
        no_transform: compress::headers_no_transform(headers),
        len: Some(info.len()),
        ranged: meta.range.is_some(),
    };
    let accept = meta.accept_encoding.as_deref();
    let decision = compression::decide(policy, &candidate, &siblings, true, accept);
    let variant = match decision.coding() {
        None => Variant::Identity,
        Some(c) if siblings.contains(&c) => Variant::Sibling(c),
        Some(c) => Variant::OnTheFly(c),
    };
    let etag = match variant {
        Variant::Identity => etag(info.len(), modified),
        Variant::OnTheFly(c) => compression::variant_etag(&etag(info.len(), modified), c),
        Variant::Sibling(c) => {
            let sibling = sibling_path(path, c);
            match open(&sibling, &[]).await {
                Ok((sib_info, sib_contents, _)) => {
                    (info, contents) = (sib_info, sib_contents);
                    compression::variant_etag(&etag(info.len(), info.modified().ok()), c)
                }
                Err(e) => return io_error(&sibling, &e),
            }
        }
    };
    set_default(headers, ETAG, &etag);
    if let Some(lm) = &last_modified {
        set_default(headers, LAST_MODIFIED, lm);
    }
    if let Some(age) = reply.max_age {
        set_default(headers, CACHE_CONTROL, &format!("max-age={age}"));
    }
    if decision != compression::Decision::AsIs {
        compress::vary_headers(headers);
    }

    let identity = matches!(variant, Variant::Identity);
    let conditionals = Conditionals {
        if_none_match: meta.if_none_match.as_deref(),
        not_modified_since: modified_since(meta, modified),
        // An encoded variant is only ever sent whole.
        range: meta.range.as_deref().filter(|_| identity),
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
    set_default(headers, CONTENT_TYPE, &content_type);
    set_default(headers, ACCEPT_RANGES, "bytes");
    if let Variant::Sibling(c) | Variant::OnTheFly(c) = variant {
        compress::encoding_header(headers, c);
        reply
            .metrics
            .compressed(c, matches!(variant, Variant::Sibling(_)));
    }
    if let Variant::OnTheFly(coding) = variant {
        return on_the_fly(builder, reply, coding, contents, len).await;
    }

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
        Contents::Large(file) => match file_body(path, file, start, count).await {
            Ok(body) => body.boxed(),
            Err(r) => return r,
        },
    };
    finish(builder.status(status), body)
}

/// The whole file compressed with `coding` as it is sent: in one go when it was read
/// whole (keeping a `Content-Length`, also for HEAD), else piece by piece.
async fn on_the_fly(
    mut builder: hyper::http::response::Builder,
    reply: FileReply<'_>,
    coding: Coding,
    contents: Contents,
    len: u64,
) -> hyper::Response<ResponseBody> {
    let status = reply.status;
    match contents {
        Contents::Small(bytes) => {
            let packed =
                match compress::compress_async(reply.compression, coding, bytes.to_vec()).await {
                    Ok(packed) => packed,
                    Err(e) => {
                        tracing::warn!("compressing a file failed: {e}");
                        return error_response(500, "Internal Server Error", reply.head);
                    }
                };
            if let Some(headers) = builder.headers_mut() {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(packed.len()));
            }
            let body = if reply.head {
                empty_body()
            } else {
                Full::new(Bytes::from(packed))
                    .map_err(|never| match never {})
                    .boxed()
            };
            finish(builder.status(status), body)
        }
        // No `Content-Length`: its encoded length is known only once it is sent.
        Contents::Large(_) if reply.head => finish(builder.status(status), empty_body()),
        Contents::Large(file) => {
            let file = tokio::fs::File::from_std(file);
            let body = FileBody {
                file: file.take(len),
                remaining: len,
                buf: BytesMut::new(),
            };
            let encoded = compress::Encoded::new(reply.compression, coding, body, false);
            finish(builder.status(status), encoded.boxed())
        }
    }
}

/// The body of `count` bytes of `file` from `start`.
async fn file_body(
    path: &Path,
    file: std::fs::File,
    start: u64,
    count: u64,
) -> Result<FileBody, hyper::Response<ResponseBody>> {
    let mut file = tokio::fs::File::from_std(file);
    if start > 0 {
        if let Err(e) = file.seek(SeekFrom::Start(start)).await {
            return Err(io_error(path, &e));
        }
    }
    Ok(FileBody {
        file: file.take(count),
        remaining: count,
        buf: BytesMut::new(),
    })
}

/// `app.js` → `app.js.br`.
fn sibling_path(path: &Path, coding: Coding) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(coding.extension());
    PathBuf::from(name)
}

/// A file's contents: read already when small, else the open file to stream from.
enum Contents {
    Small(Bytes),
    Large(std::fs::File),
}

/// Opens `path` and reads its metadata, and its contents when they fit in one piece,
/// and finds which of `siblings` it has (regular files only), all in one blocking call.
async fn open(
    path: &Path,
    siblings: &[Coding],
) -> std::io::Result<(std::fs::Metadata, Contents, Vec<Coding>)> {
    let path = path.to_path_buf();
    let siblings = siblings.to_vec();
    let opened = tokio::task::spawn_blocking(move || {
        let present = siblings
            .into_iter()
            .filter(|c| {
                std::fs::symlink_metadata(sibling_path(&path, *c))
                    .is_ok_and(|m| m.file_type().is_file())
            })
            .collect();
        let mut file = std::fs::File::open(&path)?;
        let info = file.metadata()?;
        if info.is_file() && info.len() <= CHUNK as u64 {
            let mut bytes = Vec::with_capacity(info.len() as usize);
            file.read_to_end(&mut bytes)?;
            if bytes.len() as u64 != info.len() {
                // Rewritten while we read: the length no longer matches the validators.
                return Err(std::io::Error::other("file changed while being read"));
            }
            return Ok((info, Contents::Small(Bytes::from(bytes)), present));
        }
        Ok((info, Contents::Large(file), present))
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
