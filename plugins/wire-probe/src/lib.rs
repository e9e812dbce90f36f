//! Answers with whatever a wire test asks for, so the host's response rules can be
//! driven from outside: any status, headers the host must strip, too many headers, and
//! streams of every shape.
//!
//! - `GET /status/<code>` → `code` with the text body `status <code>`;
//! - `GET /hop` → 200 `hop` carrying every header a plugin may not set
//!   (`connection`, `keep-alive`, `transfer-encoding`, `content-length`, `upgrade`,
//!   `te`, `trailer`, `proxy-authenticate`, `berth-chunk-interval-ms`) and `x-kept: 1`;
//! - `GET /headers?n=N` → 200 with `N` headers `x-h-<i>: <i>`;
//! - `GET /stream?chunks=N&interval=MS&empty=K&status=S` → a `text/plain` stream of
//!   `chunk <i>\n` for `i` in `0..N`, each after `K` empty chunks, paced `MS` ms apart,
//!   with status `S` (default 200);
//! - `GET /forever` → a stream that never ends (`x` chunks), `GET /forever?empty` one of
//!   empty chunks only;
//! - `GET /live` → `{"live":N}`, the stream iterators alive in this instance (each
//!   counts itself until it is dropped), so a test sees whether an abandoned stream was
//!   released.
//!
//! With `slow_tick_ms` set, a timer fires that often and then spins until the host's
//! deadline stops it: a timer slower than its own interval.
use berth_sdk::prelude::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

/// Stream iterators alive in this instance.
static LIVE: AtomicU64 = AtomicU64::new(0);

/// Counts itself in [`LIVE`] from creation to drop.
struct Counted<I>(I);

impl<I> Counted<I> {
    fn new(inner: I) -> Counted<I> {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Counted(inner)
    }
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.0.next()
    }
}

impl<I> Drop for Counted<I> {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

fn query<T: std::str::FromStr>(req: &Request, key: &str, default: T) -> T {
    req.query_param(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct WireProbe;

impl Plugin for WireProbe {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        if let Some(ms) = config.parse::<u64>("slow_tick_ms")? {
            app.every(Duration::from_millis(ms), |_| {
                black_box(spin());
            });
        }
        app.get("/status/<code>", |req| {
            let code: u16 = req.param("code").and_then(|c| c.parse().ok()).unwrap_or(0);
            Response::text(format!("status {code}")).status(code)
        });
        app.get("/hop", |_| {
            let mut r = Response::text("hop");
            for name in [
                "connection",
                "keep-alive",
                "transfer-encoding",
                "content-length",
                "upgrade",
                "te",
                "trailer",
                "proxy-authenticate",
                "berth-chunk-interval-ms",
            ] {
                r = r.append_header(name, "999");
            }
            r.append_header("x-kept", "1")
        });
        app.get("/headers", |req| {
            let n: usize = query(req, "n", 0);
            (0..n).fold(Response::text("many"), |r, i| {
                r.append_header(&format!("x-h-{i}"), &i.to_string())
            })
        });
        app.get("/stream", |req| {
            let chunks: usize = query(req, "chunks", 3);
            let empty: usize = query(req, "empty", 0);
            let interval: u64 = query(req, "interval", 0);
            let status: u16 = query(req, "status", 200);
            let items = (0..chunks).flat_map(move |i| {
                std::iter::repeat_n(Vec::new(), empty)
                    .chain(std::iter::once(format!("chunk {i}\n").into_bytes()))
            });
            let mut r = Response::stream("text/plain", Counted::new(items)).status(status);
            if interval > 0 {
                r = r.chunk_interval(Duration::from_millis(interval));
            }
            r
        });
        app.get("/forever", |req| {
            let chunk: &'static [u8] = if req.query_param("empty").is_some() {
                b""
            } else {
                b"x"
            };
            Response::stream("text/plain", Counted::new(std::iter::repeat(chunk)))
        });
        app.get("/live", |_| {
            Response::json(&json!({ "live": LIVE.load(Ordering::Relaxed) }))
        });
        Ok(())
    }
}

/// Never returns (until the host's deadline stops it).
fn spin() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
        if black_box(n) == 0 {
            return n;
        }
    }
}

berth_sdk::export_plugin!(WireProbe);

#[cfg(test)]
mod tests;
