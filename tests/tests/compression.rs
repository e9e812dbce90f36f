//! Response compression (`[server.compression]`) as a client sees it, on every runtime:
//! the server runtime compresses plugin bodies, streams and files on the fly and serves
//! precompressed siblings; the embedded runtime serves the siblings only.
//!
//! The client is reqwest with its own decoding off (it sends no `Accept-Encoding` of its
//! own and hands over the bytes as they came), so each test sees the raw
//! `Content-Encoding` and decodes the body itself with flate2 or brotli, to prove the
//! bytes are the original's.

mod compression_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use berth_server::config::StaticMountConfig;
use berth_tests::http_client::client;
use berth_tests::{config, per_runtime, Runtime, TestServer};
use compression_support::{accept, dechunk, decode, file, get, partial_decode, send, site, Got};
use reqwest::Method;

/// The plugins, and time enough for wasmi (in a debug build, on a busy machine) to parse
/// and re-serialise the 9 KiB JSON document.
const PLUGINS: &str =
    "[plugins]\nload = [\"bench-kit\", \"wire-probe\", \"sse-sensor\", \"ws-echo\"]\n\
     [plugin.sse-sensor]\ninterval = 0.2\n[limits]\nplugin_timeout = 10.0\nrequest_timeout = 20.0\n";

fn make(rt: Runtime, compression: &str) -> berth_tests::Config {
    let mut c = config(&format!("{PLUGINS}[server.compression]\n{compression}"), rt);
    c.statics.mounts.push(StaticMountConfig {
        prefix: "/files".into(),
        dir: site().join("www"),
        max_age: 60,
    });
    c.statics.base = site().to_path_buf();
    c
}

/// The default policy, with a cap (`max_size`) that `huge.txt` is over.
fn server(rt: Runtime) -> &'static TestServer {
    rt.shared("on", || make(rt, "max_size = 250000\n"))
}

/// `[server.compression] enabled = false`.
fn off(rt: Runtime) -> &'static TestServer {
    rt.shared("off", || make(rt, "enabled = false\n"))
}

/// A JSON document of about 9 KiB.
fn document() -> Vec<u8> {
    let items: Vec<String> = (0..150)
        .map(|i| format!("{{\"id\":{i},\"name\":\"item number {i}\",\"tags\":[\"a\",\"b\"]}}"))
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

fn plugin_json(s: &TestServer, accept_encoding: Option<&str>, body: Vec<u8>) -> Got {
    let headers: Vec<(&str, &str)> = accept_encoding
        .map(|a| ("accept-encoding", a))
        .into_iter()
        .collect();
    send(s, Method::POST, "/echo-json", &headers, Some(body))
}

fn plugin_json_is_compressed(rt: Runtime) {
    let s = server(rt);
    let plain = plugin_json(s, None, document());
    assert_eq!(plain.status, 200);
    assert_eq!(plain.encoding(), None);
    assert!(plain.body.len() > 4000, "{}", plain.body.len());
    for (ae, want) in [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br", "br")] {
        let r = plugin_json(s, Some(ae), document());
        assert_eq!(r.status, 200);
        if rt.is_embedded() {
            // The embedded runtime never compresses on the fly.
            assert_eq!(r.encoding(), None, "{ae}");
            assert!(!r.varies());
            assert_eq!(r.body, plain.body);
            continue;
        }
        assert_eq!(r.encoding(), Some(want), "{ae}");
        assert!(r.varies(), "{ae}: Vary: {:?}", r.header("vary"));
        assert_eq!(r.header("content-type"), plain.header("content-type"));
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
        assert!(
            r.body.len() * 4 < plain.body.len(),
            "{ae}: {} of {}",
            r.body.len(),
            plain.body.len()
        );
        assert_eq!(r.decoded(), plain.body, "{ae}");
    }
    // Identity chosen: the response still varies on the server.
    let r = plugin_json(s, Some("identity"), document());
    assert_eq!(r.encoding(), None);
    assert_eq!(r.varies(), !rt.is_embedded());
    assert_eq!(r.body, plain.body);
    // Below the threshold: never compressed, and no Vary.
    let small = plugin_json(s, Some("br, gzip"), b"{\"small\":true}".to_vec());
    assert_eq!(small.encoding(), None);
    assert!(!small.varies());
    assert_eq!(small.body, b"{\"small\":true}");
}

/// Every way of writing `Accept-Encoding`, against a file the server compresses on the
/// fly: what the client must get.
fn negotiation_follows_accept_encoding(rt: Runtime) {
    let s = server(rt);
    let original = file("big.css");
    let cases: &[(&str, Option<&str>)] = &[
        ("br", Some("br")),
        ("gzip", Some("gzip")),
        ("x-gzip", Some("gzip")),
        ("gzip, br", Some("br")),
        ("br;q=1.0, gzip;q=1.0", Some("br")),
        ("br;q=0.5, gzip;q=0.9", Some("gzip")),
        ("  GZIP ; Q=0.8 ,\tBr;q=0.2", Some("gzip")),
        ("br;q=0, gzip", Some("gzip")),
        ("br;q=0, gzip;q=0", None),
        ("*", Some("br")),
        ("*;q=0.1, br;q=0", Some("gzip")),
        ("*;q=0", None),
        ("identity", None),
        ("identity;q=1, gzip;q=0.5", None),
        ("deflate, zstd", None),
        ("br;q=abc, gzip;q=0.1", Some("gzip")),
        ("", None),
    ];
    for (ae, want) in cases {
        let r = get(s, "/files/big.css", &accept(ae));
        assert_eq!(r.status, 200, "{ae:?}");
        let want = if rt.is_embedded() { None } else { *want };
        assert_eq!(r.encoding(), want, "Accept-Encoding: {ae:?}");
        assert_eq!(r.varies(), !rt.is_embedded(), "{ae:?}");
        assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
        assert_eq!(r.decoded(), original, "{ae:?}");
    }
    // No Accept-Encoding at all: identity (but the response varies all the same).
    let r = get(s, "/files/big.css", &[]);
    assert_eq!(r.encoding(), None);
    assert_eq!(r.body, original);
    assert_eq!(r.varies(), !rt.is_embedded());
}

fn precompressed_siblings_are_served(rt: Runtime) {
    let s = server(rt);
    let original = file("pre.js");
    for (ae, coding, sibling) in [
        ("br, gzip", "br", "pre.js.br"),
        ("gzip", "gzip", "pre.js.gz"),
    ] {
        let r = get(s, "/files/pre.js", &accept(ae));
        assert_eq!(r.status, 200);
        assert_eq!(r.encoding(), Some(coding), "{ae}");
        assert!(r.varies());
        // The original's type, the sibling's bytes (made with other settings than the
        // server's: not compressed on the fly), which decode to the original.
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        let packed = file(sibling);
        assert_eq!(
            r.header("content-length"),
            Some(packed.len().to_string().as_str())
        );
        assert!(r.body == packed, "{ae}: not the bytes of {sibling}");
        assert_eq!(r.decoded(), original);
    }
    // Only a gzip sibling: taken over compressing with brotli at equal q.
    let gz_only = file("gz-only.txt");
    let r = get(s, "/files/gz-only.txt", &accept("br, gzip"));
    assert_eq!(r.encoding(), Some("gzip"));
    assert!(r.body == file("gz-only.txt.gz"));
    // Brotli only: the server compresses it; the embedded runtime sends it as it is.
    let r = get(s, "/files/gz-only.txt", &accept("br"));
    assert_eq!(
        r.encoding(),
        if rt.is_embedded() { None } else { Some("br") }
    );
    assert!(r.varies());
    assert_eq!(r.decoded(), gz_only);
    // A sibling is served whatever the size.
    let r = get(s, "/files/tiny.txt", &accept("gzip"));
    assert_eq!(r.encoding(), Some("gzip"));
    assert_eq!(r.decoded(), b"tiny but precompressed\n");
    // Asking for the sibling itself is just a file: its own type, no Content-Encoding.
    let r = get(s, "/files/pre.js.gz", &accept("gzip"));
    assert_eq!(r.status, 200);
    assert_eq!(r.encoding(), None);
    assert_eq!(r.header("content-type"), Some("application/gzip"));
    assert!(r.body == file("pre.js.gz"));
    // Without Accept-Encoding: the original.
    let r = get(s, "/files/pre.js", &[]);
    assert_eq!(r.encoding(), None);
    assert!(r.varies());
    assert!(r.body == original);
}

fn not_compressed_when_it_should_not_be(rt: Runtime) {
    let s = server(rt);
    // Small files, and already compressed types: as they are, with no Vary.
    for name in ["small.txt", "photo.png"] {
        let r = get(s, &format!("/files/{name}"), &accept("br, gzip"));
        assert_eq!(r.status, 200);
        assert_eq!(r.encoding(), None, "{name}");
        assert!(!r.varies(), "{name}");
        assert!(r.body == file(name), "{name}");
    }
    // SSE: never, whatever the client accepts.
    let r = client()
        .get(s.url("/events"))
        .header("accept-encoding", "br, gzip")
        .send()
        .expect("SSE");
    assert_eq!(r.status(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    assert!(r.headers().get("content-encoding").is_none());
    let mut sse = berth_tests::clients::SseReader::new(r);
    let event = sse.next_event();
    assert!(event.data.contains('{'), "{event:?}");
    drop(sse);
    // Over the on-the-fly cap: as it is (the server runtime; the embedded one never
    // compresses on the fly anyway).
    let r = get(s, "/files/huge.txt", &accept("br, gzip"));
    assert_eq!(r.encoding(), None);
    assert!(!r.varies());
    assert!(r.body == file("huge.txt"));
}

fn head_matches_get(rt: Runtime) {
    let s = server(rt);
    for (path, ae) in [
        ("/files/big.css", "br"),
        ("/files/big.css", "gzip"),
        ("/files/pre.js", "gzip"),
        ("/files/big.css", "identity"),
        // Compressed piece by piece on the server: no Content-Length on either.
        ("/files/large.txt", "gzip"),
    ] {
        let g = get(s, path, &accept(ae));
        let h = send(s, Method::HEAD, path, &accept(ae), None);
        assert_eq!(h.status, 200);
        assert!(h.body.is_empty());
        for name in [
            "content-encoding",
            "content-length",
            "content-type",
            "etag",
            "vary",
        ] {
            assert_eq!(h.header(name), g.header(name), "{path} {ae}: {name}");
        }
        if g.header("content-length").is_some() {
            assert_eq!(
                g.header("content-length"),
                Some(g.body.len().to_string().as_str())
            );
        }
    }
}

fn ranges_get_the_identity_file(rt: Runtime) {
    let s = server(rt);
    for path in ["/files/big.css", "/files/pre.js"] {
        let original = file(&path["/files/".len()..]);
        let r = get(
            s,
            path,
            &[("accept-encoding", "br, gzip"), ("range", "bytes=10-109")],
        );
        assert_eq!(r.status, 206, "{path}");
        assert_eq!(r.encoding(), None, "{path}");
        // It varies wherever a coding could have been sent to a request without a range
        // (on the embedded runtime, only where a sibling exists).
        let negotiable = !rt.is_embedded() || path == "/files/pre.js";
        assert_eq!(r.varies(), negotiable, "{path}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes 10-109/{}", original.len()).as_str())
        );
        assert!(r.body == original[10..110], "{path}");
    }
}

fn etags_name_the_variant(rt: Runtime) {
    let s = server(rt);
    for path in ["/files/big.css", "/files/pre.js"] {
        let identity = get(s, path, &accept("identity"));
        let br = get(s, path, &accept("br"));
        let gzip = get(s, path, &accept("gzip"));
        let tag = |g: &Got| g.header("etag").expect("etag").to_string();
        if rt.is_embedded() && path == "/files/big.css" {
            // Nothing to negotiate there: one representation, one tag.
            assert_eq!(tag(&identity), tag(&br));
            continue;
        }
        assert_ne!(tag(&identity), tag(&br), "{path}");
        assert_ne!(tag(&identity), tag(&gzip), "{path}");
        assert_ne!(tag(&br), tag(&gzip), "{path}");
        // Each variant's tag revalidates that variant: 304, with Vary and the tag.
        for (variant, ae) in [(&br, "br"), (&gzip, "gzip"), (&identity, "identity")] {
            let t = tag(variant);
            let r = get(s, path, &[("accept-encoding", ae), ("if-none-match", &t)]);
            assert_eq!(r.status, 304, "{path} {ae}");
            assert!(r.body.is_empty());
            assert_eq!(r.header("etag"), Some(t.as_str()));
            assert!(r.varies(), "{path} {ae}");
            assert_eq!(r.encoding(), None);
        }
        // A tag of another variant does not: the client gets the one it asked for.
        let r = get(
            s,
            path,
            &[("accept-encoding", "gzip"), ("if-none-match", &tag(&br))],
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.encoding(), Some("gzip"));
        assert_eq!(r.decoded(), file(&path["/files/".len()..]));
    }
}

/// A file larger than one read is compressed piece by piece, without `Content-Length`.
fn large_files_are_compressed_as_they_stream(rt: Runtime) {
    let s = server(rt);
    let original = file("large.txt");
    assert!(original.len() > 64 << 10);
    for ae in ["br", "gzip"] {
        let r = get(s, "/files/large.txt", &accept(ae));
        assert_eq!(r.status, 200);
        if rt.is_embedded() {
            assert_eq!(r.encoding(), None);
            assert!(r.body == original);
            continue;
        }
        assert_eq!(r.encoding(), Some(ae));
        assert_eq!(r.header("content-length"), None);
        assert!(r.body.len() * 4 < original.len(), "{ae}: {}", r.body.len());
        assert!(r.decoded() == original, "{ae}");
    }
}

/// A plugin's stream is compressed chunk by chunk, and each chunk is flushed: the client
/// can decode the first chunk while the plugin still holds back the rest.
fn streams_are_compressed_and_flushed(rt: Runtime) {
    let s = server(rt);
    let want: String = (0..40).map(|i| format!("chunk {i}\n")).collect();
    let r = get(s, "/stream?chunks=40", &accept("gzip"));
    assert_eq!(r.status, 200);
    if rt.is_embedded() {
        assert_eq!(r.encoding(), None);
        assert_eq!(r.body, want.as_bytes());
        return;
    }
    assert_eq!(r.encoding(), Some("gzip"));
    assert!(r.varies());
    assert_eq!(r.decoded(), want.as_bytes());
    let r = get(s, "/stream?chunks=40", &accept("br"));
    assert_eq!(r.encoding(), Some("br"));
    assert_eq!(r.decoded(), want.as_bytes());

    // Three chunks 1.5 s apart: the first must decode long before the second is due.
    for coding in ["gzip", "br"] {
        let mut conn = TcpStream::connect(s.addr).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            conn,
            "GET /stream?chunks=3&interval=1500 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {coding}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let started = Instant::now();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let first = loop {
            let n = conn.read(&mut buf).expect("read");
            assert!(n > 0, "closed before the first chunk");
            seen.extend_from_slice(&buf[..n]);
            let Some(split) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let decoded = partial_decode(coding, &dechunk(&seen[split + 4..]));
            if decoded.starts_with(b"chunk 0\n") {
                break started.elapsed();
            }
        };
        assert!(
            first < Duration::from_millis(1200),
            "{coding}: the first chunk took {first:?} (not flushed?)"
        );
    }
}

fn switched_off_nothing_is_compressed(rt: Runtime) {
    let s = off(rt);
    for path in [
        "/files/big.css",
        "/files/pre.js",
        "/files/gz-only.txt",
        "/files/large.txt",
    ] {
        let r = get(s, path, &accept("br, gzip"));
        assert_eq!(r.status, 200);
        assert_eq!(r.encoding(), None, "{path}");
        assert!(!r.varies(), "{path}");
        assert!(r.body == file(&path["/files/".len()..]), "{path}");
    }
    let r = plugin_json(s, Some("br, gzip"), document());
    assert_eq!(r.encoding(), None);
    assert!(!r.varies());
    let r = get(s, "/stream?chunks=40", &accept("gzip"));
    assert_eq!(r.encoding(), None);
}

/// curl, as an operator would try it: `--compressed` asks for every coding curl knows
/// (brotli, gzip, zstd, deflate) and decodes what comes; the bytes must be the files'.
fn curl_decodes_what_it_gets(rt: Runtime) {
    let s = server(rt);
    for (name, coding) in [
        ("big.css", Some("br")),
        ("pre.js", Some("br")),
        ("gz-only.txt", Some("gzip")),
        ("large.txt", Some("br")),
        ("photo.png", None),
    ] {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--compressed", "-D", "/dev/stderr"])
            .arg(s.url(&format!("/files/{name}")))
            .output()
            .expect("curl (scripts/test-deps.sh installs it)");
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let head = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
        // The embedded runtime only has siblings: pre.js (br) and gz-only.txt (gzip).
        let sent = match coding {
            Some(_) if rt.is_embedded() && !matches!(name, "pre.js" | "gz-only.txt") => None,
            c => c,
        };
        match sent {
            Some(c) => assert!(
                head.contains(&format!("content-encoding: {c}\r\n")),
                "{name}: {head}"
            ),
            None => assert!(!head.contains("content-encoding"), "{name}: {head}"),
        }
        assert!(out.stdout == file(name), "{name}: curl decoded other bytes");
    }
}

/// A plugin's `Response::file` follows the same rules as a mount (misbehave's
/// `/send-file?path=www/…`, granted the site's folder).
fn plugin_files_are_compressed_too(rt: Runtime) {
    let s = rt.shared("files", || {
        let mut c = config(
            "[plugins]\nload = [\"misbehave\"]\n[server.compression]\n",
            rt,
        );
        c.statics.base = site().to_path_buf();
        c.statics
            .grants
            .insert("misbehave".into(), vec![site().join("www")]);
        c
    });
    let r = get(s, "/send-file?path=www/pre.js", &accept("br"));
    assert_eq!(r.status, 200);
    assert_eq!(r.encoding(), Some("br"));
    assert!(r.varies());
    assert!(r.body == file("pre.js.br"));
    let r = get(s, "/send-file?path=www/big.css", &accept("gzip"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.encoding(),
        if rt.is_embedded() { None } else { Some("gzip") }
    );
    assert_eq!(r.decoded(), file("big.css"));
    let r = get(s, "/send-file?path=www/photo.png", &accept("gzip"));
    assert_eq!(r.encoding(), None);
    assert!(r.body == file("photo.png"));
}

/// `berth_responses_compressed_total` on the admin listener moves by exactly what was
/// sent compressed, by encoding and by how (server runtime only: the embedded runtime
/// has no admin listener).
fn compressed_responses_are_counted(rt: Runtime) {
    let mut c = make(rt, "");
    c.admin.listen = Some("127.0.0.1:0".into());
    let s = rt.start(c).expect("server with an admin listener");
    let admin = s.admin_addr.expect("admin listener");
    let count = |encoding: &str, how: &str| -> u64 {
        let text = client()
            .get(format!("http://{admin}/metrics"))
            .send()
            .and_then(|r| r.text())
            .expect("scrape");
        let series =
            format!("berth_responses_compressed_total{{encoding=\"{encoding}\",how=\"{how}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .map_or(0, |v| v.trim().parse().expect("a count"))
    };
    let before = [
        count("br", "on_the_fly"),
        count("gzip", "on_the_fly"),
        count("br", "precompressed"),
        count("gzip", "precompressed"),
    ];
    for _ in 0..3 {
        assert_eq!(
            get(&s, "/files/big.css", &accept("br")).encoding(),
            Some("br")
        );
    }
    for _ in 0..2 {
        assert_eq!(
            get(&s, "/stream?chunks=5", &accept("gzip")).encoding(),
            Some("gzip")
        );
    }
    assert_eq!(
        get(&s, "/files/pre.js", &accept("br")).encoding(),
        Some("br")
    );
    for _ in 0..4 {
        assert_eq!(
            get(&s, "/files/pre.js", &accept("gzip")).encoding(),
            Some("gzip")
        );
    }
    // Not compressed: not counted.
    assert_eq!(get(&s, "/files/photo.png", &accept("br")).encoding(), None);
    assert_eq!(
        get(&s, "/files/big.css", &accept("identity")).encoding(),
        None
    );
    let after = [
        count("br", "on_the_fly"),
        count("gzip", "on_the_fly"),
        count("br", "precompressed"),
        count("gzip", "precompressed"),
    ];
    let moved: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(moved, [3, 2, 1, 4]);
    s.shutdown();
    assert!(s.wait_stopped(Duration::from_secs(10)));
}

/// Over HTTP/2 (h2c with prior knowledge, server runtime only) the same rules hold.
fn http2_responses_are_compressed(rt: Runtime) {
    let s = server(rt);
    let h2 = reqwest::blocking::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client");
    let original = file("big.css");
    for (path, ae, want) in [
        ("/files/big.css", "br", "br"),
        ("/files/pre.js", "gzip", "gzip"),
        ("/stream?chunks=40", "br", "br"),
    ] {
        let r = h2
            .get(s.url(path))
            .header("accept-encoding", ae)
            .send()
            .expect("h2c GET");
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        let encoding = r
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().expect("ascii").to_string());
        assert_eq!(encoding.as_deref(), Some(want), "{path}");
        let body = r.bytes().expect("body");
        let decoded = decode(Some(want), &body);
        match path {
            "/files/big.css" => assert!(decoded == original),
            "/files/pre.js" => assert!(decoded == file("pre.js")),
            _ => assert!(decoded.starts_with(b"chunk 0\n")),
        }
    }
}

/// A WebSocket handshake is never compressed, whatever the client accepts.
fn websocket_upgrades_are_not_compressed(rt: Runtime) {
    let s = server(rt);
    let mut conn = TcpStream::connect(s.addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    conn.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Accept-Encoding: gzip, br\r\n\r\n",
    )
    .expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(conn.read(&mut byte).expect("read"), 1, "closed: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(!head.contains("content-encoding"), "{head}");
    assert!(!head.contains("vary"), "{head}");
}

per_runtime!(
    http2_responses_are_compressed: embedded_skip("the embedded runtime speaks HTTP/1.1 only"),
    websocket_upgrades_are_not_compressed,
    curl_decodes_what_it_gets,
    plugin_files_are_compressed_too,
    compressed_responses_are_counted: embedded_skip("the embedded runtime has no admin listener"),
    plugin_json_is_compressed,
    negotiation_follows_accept_encoding,
    precompressed_siblings_are_served,
    not_compressed_when_it_should_not_be,
    head_matches_get,
    ranges_get_the_identity_file,
    etags_name_the_variant,
    large_files_are_compressed_as_they_stream,
    streams_are_compressed_and_flushed,
    switched_off_nothing_is_compressed,
);
