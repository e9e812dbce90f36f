//! Streamed bodies (`Response::stream`) on every runtime: seed 002's `/stream` (five
//! chunks half a second apart) and `/large` (1,000 lines), a stream that fails half-way,
//! and HEAD on a streamed route.

use std::io::Read;
use std::time::{Duration, Instant};

use berth_tests::http_client::client;
use berth_tests::{config, example, per_runtime, Runtime, TestServer};

fn medium(rt: Runtime) -> &'static TestServer {
    rt.shared("seed002-medium", || example("seed002-medium", rt))
}

fn misbehave(rt: Runtime) -> &'static TestServer {
    rt.shared("misbehave", || {
        config("[plugins]\nload = [\"misbehave\"]\n", rt)
    })
}

/// Reads a body as it arrives: each read's bytes with the time they came.
fn timed_reads(mut body: impl Read) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match body.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.push((Instant::now(), buf[..n].to_vec())),
            Err(e) => panic!("body failed: {e}"),
        }
    }
}

fn five_chunks_half_a_second_apart(rt: Runtime) {
    let started = Instant::now();
    let r = client()
        .get(medium(rt).url("/stream"))
        .send()
        .expect("GET /stream");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("transfer-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("chunked")
    );
    assert!(
        r.headers().get("berth-chunk-interval-ms").is_none(),
        "host-only header"
    );
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain")
    );
    let reads = timed_reads(r);
    let text: String = reads
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b))
        .collect();
    let expected: String = (0..5).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(text, expected);
    // Each chunk arrives on its own, about 0.5 s after the one before.
    assert_eq!(reads.len(), 5, "one read per chunk: {reads:?}");
    let gaps: Vec<Duration> = reads.windows(2).map(|w| w[1].0 - w[0].0).collect();
    println!(
        "/stream on {rt:?}: gaps {gaps:?}, total {:?}",
        started.elapsed()
    );
    for gap in &gaps {
        assert!(
            (Duration::from_millis(400)..Duration::from_millis(1500)).contains(gap),
            "{gaps:?}"
        );
    }
}

fn thousand_lines(rt: Runtime) {
    let r = client()
        .get(medium(rt).url("/large"))
        .send()
        .expect("GET /large");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("transfer-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("chunked")
    );
    assert!(r.headers().get("content-length").is_none());
    let text = r.text().expect("body");
    let expected: String = (0..1000).map(|i| format!("Line {i}\n")).collect();
    assert_eq!(text, expected);
    // The pinned instance went back to the pool: the plugin keeps serving.
    let r = client().get(medium(rt).url("/status")).send().expect("GET");
    assert_eq!(r.status(), 200);
}

fn head_of_a_stream(rt: Runtime) {
    let r = client()
        .head(medium(rt).url("/large"))
        .send()
        .expect("HEAD /large");
    assert_eq!(r.status(), 200);
    assert!(r.bytes().expect("body").is_empty());
}

fn failing_stream_aborts_the_transfer(rt: Runtime) {
    let s = misbehave(rt);
    // Two chunks, then a trap: the client must see a broken transfer (here usually
    // before the head is even flushed, as all three pulls happen at once), never a
    // complete-looking body.
    let complete = match client().get(s.url("/stream-fail")).send() {
        Err(_) => None,
        Ok(mut body) => {
            let mut got = Vec::new();
            body.read_to_end(&mut got).ok().map(|_| got)
        }
    };
    assert_eq!(
        complete, None,
        "a stream that trapped must not look complete"
    );
    let r = client().get(s.url("/ok")).send().expect("GET");
    assert_eq!(r.status(), 200);
}

fn many_streams_at_once(rt: Runtime) {
    // Each stream pins its own instance; they must not share iterators.
    let s = medium(rt);
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let url = s.url("/large");
            std::thread::spawn(move || client().get(url).send().expect("GET").text().expect("body"))
        })
        .collect();
    let expected: String = (0..1000).map(|i| format!("Line {i}\n")).collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), expected);
    }
}

per_runtime!(
    five_chunks_half_a_second_apart,
    thousand_lines,
    head_of_a_stream,
    failing_stream_aborts_the_transfer,
    many_streams_at_once,
);
