//! The compression suite's client side: raw responses and their decoding, the site its
//! servers serve (with precompressed siblings made here), and readers of a chunked
//! body received in part.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_tests::http_client::client;
use berth_tests::TestServer;
use reqwest::Method;

/// A response as it came: status, headers (lower-case names), body bytes.
pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }

    pub fn encoding(&self) -> Option<&str> {
        self.header("content-encoding")
    }

    pub fn varies(&self) -> bool {
        self.headers
            .get_all("vary")
            .iter()
            .flat_map(|v| v.to_str().expect("ascii").split(','))
            .any(|n| n.trim().eq_ignore_ascii_case("accept-encoding"))
    }

    /// The body decoded by its `Content-Encoding`.
    pub fn decoded(&self) -> Vec<u8> {
        decode(self.encoding(), &self.body)
    }
}

pub fn decode(encoding: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        None => out.extend_from_slice(bytes),
        Some("gzip") => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    out
}

pub fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Got {
    let mut req = client().request(method, s.url(path));
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    let r = req.send().expect("request");
    Got {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().expect("body").to_vec(),
    }
}

pub fn get(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> Got {
    send(s, Method::GET, path, headers, None)
}

pub fn accept(value: &str) -> [(&str, &str); 1] {
    [("accept-encoding", value)]
}

/// Text that compresses well but not trivially: numbered lines.
pub fn text(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| {
            format!(
                ".rule-{i} {{ margin: {}px; color: #{:06x} }}\n",
                i % 17,
                i * 7919 % 0xffffff
            )
            .into_bytes()
        })
        .collect()
}

/// Bytes that do not compress (xorshift noise), for the image.
pub fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The precompressed siblings are made with other settings than the server's (gzip
/// level 1 with a file name in its header, brotli quality 11), so their bytes differ
/// from what compressing on the fly would send: a test can tell which was served.
pub fn gzip_sibling(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .filename("sibling")
        .write(Vec::new(), flate2::Compression::new(1));
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

pub fn br_sibling(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data).expect("br");
    }
    out
}

/// The site every server of this binary serves (made once).
pub fn site() -> &'static Path {
    static SITE: OnceLock<PathBuf> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = berth_tests::temp_dir("compression");
        let www = dir.join("www");
        std::fs::create_dir_all(&www).expect("mkdir");
        let write =
            |name: &str, bytes: &[u8]| std::fs::write(www.join(name), bytes).expect("write");
        write("big.css", &text(400));
        let pre = text(300);
        write("pre.js", &pre);
        write("pre.js.br", &br_sibling(&pre));
        write("pre.js.gz", &gzip_sibling(&pre));
        let gz_only = text(200);
        write("gz-only.txt", &gz_only);
        write("gz-only.txt.gz", &gzip_sibling(&gz_only));
        // Below the threshold, with a sibling anyway: the sibling is still served.
        write("tiny.txt", b"tiny but precompressed\n");
        write("tiny.txt.gz", &gzip_sibling(b"tiny but precompressed\n"));
        write("small.txt", &text(10)[..200]);
        write("photo.png", &noise(8000));
        write("large.txt", &text(2500));
        write("huge.txt", &text(8000));
        dir
    })
}

pub fn file(name: &str) -> Vec<u8> {
    std::fs::read(site().join("www").join(name)).expect("site file")
}

/// The data of a chunked body received so far (a partial chunk counts).
pub fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        raw = &raw[end + 2..];
        let take = size.min(raw.len());
        out.extend_from_slice(&raw[..take]);
        if size == 0 || take < size {
            break;
        }
        raw = raw.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// What a prefix of a compressed stream decodes to.
pub fn partial_decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut d = flate2::write::GzDecoder::new(Vec::new());
            let _ = d.write_all(bytes);
            let _ = d.flush();
            d.get_ref().clone()
        }
        _ => {
            let mut d = brotli::DecompressorWriter::new(Vec::new(), 4096);
            let _ = d.write_all(bytes);
            let _ = d.flush();
            d.get_ref().clone()
        }
    }
}
