//! Compressing responses on the server runtime (`[server.compression]`): the encoders
//! and the response surgery. *Whether* and *with what* are berth-core's
//! [`compression`](berth_core::compression) rules, which the embedded runtime shares;
//! this module only applies them.
//!
//! - A body in memory (a plugin's bytes, a small file) is compressed whole, so it keeps
//!   its `Content-Length`; above [`INLINE`] bytes the work goes to a blocking thread
//!   rather than stall the connection's worker.
//! - A stream (a plugin's `stream` body, a large file) goes through [`Encoded`], a body
//!   that compresses each frame as it passes (a file's 64 KiB pieces: a few
//!   milliseconds of a worker each, between which it serves others). For plugin streams each frame is flushed
//!   (a sync flush costs a few bytes), so a client sees every chunk when the plugin sent
//!   it; a file is flushed only at its end. Such a response has no `Content-Length`.
//! - Memory per response is bounded by the encoder: gzip's 32 KiB window and its hash
//!   tables, brotli's `2^brotli_window` ring buffer plus its hash tables at the chosen
//!   quality.
//!
//! The encoders are flate2 (on miniz_oxide, pure Rust) and brotli (the pure-Rust port
//! of Google's encoder). async-compression does the same over `AsyncRead`, but a body
//! is frames, not a reader: writing each frame into an encoder that writes into a
//! `Vec` is the whole adaptor, and it is where the per-chunk flush is decided.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_config::CompressionConfig;
use berth_core::compression::{self, Candidate, Coding, Decision};
use berth_core::model::{Pairs, Response};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_ENCODING, VARY};

use crate::body::BodyError;

/// Bodies up to this many bytes are compressed on the worker that serves the request;
/// larger ones on a blocking thread. Measured on a loaded 2-core machine, gzip 6 does
/// 10–60 MB/s and brotli 4 18–80 MB/s on text, so 16 KiB costs the worker 0.3–1.5 ms.
const INLINE: usize = 16 << 10;

/// An encoder writing into a `Vec` the body drains after each frame. Both are boxed:
/// with flate2's zlib-rs backend (which yawc's window sizes need, see ws/deflate.rs) the
/// gzip encoder is as large as brotli's is.
enum Encoder {
    Gzip(Box<flate2::write::GzEncoder<Vec<u8>>>),
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
}

impl Encoder {
    fn new(config: &CompressionConfig, coding: Coding) -> Encoder {
        match coding {
            Coding::Gzip => Encoder::Gzip(Box::new(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(config.gzip_level),
            ))),
            Coding::Br => Encoder::Br(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                // The encoder's own output buffer (bytes are copied from it into the Vec).
                16 << 10,
                config.brotli_quality,
                config.brotli_window,
            ))),
        }
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Br(e) => e.write_all(data),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Br(e) => e.flush(),
        }
    }

    /// What the encoder has written so far (taken: the `Vec` is only ever appended to).
    fn take(&mut self) -> Vec<u8> {
        match self {
            Encoder::Gzip(e) => std::mem::take(e.get_mut()),
            Encoder::Br(e) => std::mem::take(e.get_mut()),
        }
    }

    /// Ends the stream; returns the rest of the output.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Br(e) => Ok(e.into_inner()),
        }
    }
}

/// `bytes` compressed with `coding`, whole.
pub(crate) fn compress(
    config: &CompressionConfig,
    coding: Coding,
    bytes: &[u8],
) -> std::io::Result<Vec<u8>> {
    let mut encoder = Encoder::new(config, coding);
    encoder.write(bytes)?;
    let mut out = encoder.take();
    out.extend_from_slice(&encoder.finish()?);
    Ok(out)
}

/// [`compress`] off the worker thread when the body is large.
pub(crate) async fn compress_async(
    config: &CompressionConfig,
    coding: Coding,
    bytes: Vec<u8>,
) -> std::io::Result<Vec<u8>> {
    if bytes.len() <= INLINE {
        return compress(config, coding, &bytes);
    }
    let config = config.clone();
    tokio::task::spawn_blocking(move || compress(&config, coding, &bytes))
        .await
        .map_err(std::io::Error::other)?
}

/// A body compressed frame by frame as it is sent.
pub(crate) struct Encoded<B> {
    inner: B,
    /// `None` once the stream has been finished.
    encoder: Option<Encoder>,
    /// Flush after every frame (plugin streams) rather than only at the end (files).
    flush_each: bool,
}

impl<B> Encoded<B> {
    /// `inner` compressed with `coding`.
    pub(crate) fn new(
        config: &CompressionConfig,
        coding: Coding,
        inner: B,
        flush_each: bool,
    ) -> Self {
        Encoded {
            inner,
            encoder: Some(Encoder::new(config, coding)),
            flush_each,
        }
    }
}

impl<B> Body for Encoded<B>
where
    B: Body<Data = Bytes, Error = BodyError> + Unpin,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    // Trailers cannot be compressed, and no body here has them.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    encoder.write(&data)?;
                    if this.flush_each {
                        encoder.flush()?;
                    }
                    let out = encoder.take();
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Poll::Ready(None) => {
                    let Some(encoder) = this.encoder.take() else {
                        return Poll::Ready(None);
                    };
                    let mut out = Vec::new();
                    let mut encoder = encoder;
                    out.extend_from_slice(&encoder.take());
                    out.extend_from_slice(&encoder.finish()?);
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A header of a finalised response (names compared without case).
fn header<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether a `Cache-Control` value holds `no-transform`.
pub(crate) fn no_transform(cache_control: Option<&str>) -> bool {
    cache_control.is_some_and(|v| {
        v.split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-transform"))
    })
}

/// What the rules see of a finalised plugin response whose body is `len` bytes (`None`
/// for a stream).
pub(crate) fn candidate(response: &Response, len: Option<u64>) -> Candidate<'_> {
    let h = |name| header(&response.headers, name);
    Candidate {
        status: response.status,
        content_type: h("content-type"),
        encoded: h("content-encoding").is_some(),
        no_transform: no_transform(h("cache-control")),
        len,
        ranged: h("content-range").is_some(),
    }
}

/// Decides a plugin response (nothing precompressed; the server compresses on the fly).
pub(crate) fn decide(
    config: &CompressionConfig,
    response: &Response,
    len: Option<u64>,
    accept: Option<&str>,
) -> Decision {
    compression::decide(&config.policy, &candidate(response, len), &[], true, accept)
}

/// Marks a plugin response as encoded: `Content-Encoding`, `Vary` merged, and its own
/// strong `ETag` made weak (the bytes differ from the ones it was computed over). With
/// `None` only `Vary` is added.
pub(crate) fn mark_pairs(pairs: &mut Pairs, coding: Option<Coding>) {
    compression::vary_pairs(pairs);
    let Some(coding) = coding else {
        return;
    };
    pairs.push(("content-encoding".into(), coding.token().into()));
    for (name, value) in pairs.iter_mut() {
        if name.eq_ignore_ascii_case("etag") {
            *value = compression::weak_etag(value);
        }
    }
}

/// Adds `Accept-Encoding` to a hyper response's `Vary`.
pub(crate) fn vary_headers(headers: &mut HeaderMap) {
    let existing: Vec<&str> = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = existing.join(", ");
    let merged = compression::vary((!existing.is_empty()).then_some(joined.as_str()));
    if let Some(v) = merged.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(VARY, v);
    }
}

/// `Content-Encoding` on a hyper response.
pub(crate) fn encoding_header(headers: &mut HeaderMap, coding: Coding) {
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
}

/// Whether hyper headers say `Cache-Control: no-transform`.
pub(crate) fn headers_no_transform(headers: &HeaderMap) -> bool {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .any(|v| no_transform(v.to_str().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        (0..20_000)
            .flat_map(|i| format!("line {i} of a sample body\n").into_bytes())
            .collect()
    }

    fn inflate(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("gzip"),
            Coding::Br => brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .expect("br"),
        };
        out
    }

    #[test]
    fn whole_bodies_round_trip() {
        let config = CompressionConfig::default();
        let body = sample();
        for coding in Coding::ALL {
            let packed = compress(&config, coding, &body).expect("compress");
            assert!(
                packed.len() < body.len() / 4,
                "{coding:?}: {}",
                packed.len()
            );
            assert_eq!(inflate(coding, &packed), body);
        }
    }

    #[test]
    fn marking_merges_vary_and_weakens_the_plugins_etag() {
        let mut pairs: Pairs = vec![
            ("Vary".into(), "Origin".into()),
            ("etag".into(), "\"v1\"".into()),
        ];
        mark_pairs(&mut pairs, Some(Coding::Br));
        let get = |name: &str| header(&pairs, name).map(str::to_string);
        assert_eq!(get("vary").as_deref(), Some("Origin, Accept-Encoding"));
        assert_eq!(get("content-encoding").as_deref(), Some("br"));
        assert_eq!(get("etag").as_deref(), Some("W/\"v1\""));
        // Identity: Vary only, the ETag untouched; a Vary that covers it is left alone.
        let mut pairs: Pairs = vec![
            ("vary".into(), "accept-encoding".into()),
            ("etag".into(), "\"v1\"".into()),
        ];
        mark_pairs(&mut pairs, None);
        assert_eq!(
            pairs,
            vec![
                ("vary".to_string(), "accept-encoding".to_string()),
                ("etag".to_string(), "\"v1\"".to_string())
            ]
        );
        assert!(no_transform(Some("public, No-Transform")));
        assert!(!no_transform(Some("no-store")));
    }

    #[test]
    fn flushed_frames_decode_as_they_come() {
        let config = CompressionConfig::default();
        for coding in Coding::ALL {
            let mut encoder = Encoder::new(&config, coding);
            encoder.write(b"first chunk ").expect("write");
            encoder.flush().expect("flush");
            let first = encoder.take();
            assert!(!first.is_empty());
            encoder.write(b"second chunk").expect("write");
            let mut all = first;
            all.extend(encoder.take());
            all.extend(encoder.finish().expect("finish"));
            assert_eq!(inflate(coding, &all), b"first chunk second chunk");
        }
    }
}
