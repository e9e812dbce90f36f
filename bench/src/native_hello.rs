//! The HTTP baseline: what the benchmark scenarios ask of Berth, straight from hyper with
//! no plugin layer, on the same runtime settings as `berth serve`, so a ratio against it
//! measures what the plugin layer costs.
//!
//! - `GET /hello` → `{"message":"Hello, World!"}`;
//! - `POST /echo-json` → the JSON body parsed and re-serialized (as `bench-kit` does);
//! - `GET /incr` → `{"hits":N}` from a shared counter (as `bench-kit`'s state increment);
//! - `GET /static/<file>` → the file under `STATIC_DIR`, read per request.
//!
//! Usage: `native-hello [PORT] [STATIC_DIR]` (defaults 8001 and `.`).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

struct State {
    hits: AtomicU64,
    static_dir: PathBuf,
}

fn respond(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap_or_default()
}

async fn serve(
    state: Arc<State>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    const JSON: &str = "application/json";
    let path = req.uri().path().to_string();
    let response = match (req.method().as_str(), path.as_str()) {
        ("GET", "/hello") => respond(200, JSON, &br#"{"message":"Hello, World!"}"#[..]),
        ("POST", "/echo-json") => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return Ok(respond(400, JSON, "")),
            };
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(value) => respond(200, JSON, value.to_string()),
                Err(_) => respond(400, JSON, r#"{"error":"Invalid JSON body","code":400}"#),
            }
        }
        ("GET", "/incr") => {
            let hits = state.hits.fetch_add(1, Ordering::Relaxed) + 1;
            respond(200, JSON, format!(r#"{{"hits":{hits}}}"#))
        }
        ("GET", p) if p.starts_with("/static/") && !p.contains("..") => {
            match tokio::fs::read(state.static_dir.join(&p["/static/".len()..])).await {
                Ok(bytes) => respond(200, "text/plain", bytes),
                Err(_) => respond(404, JSON, ""),
            }
        }
        _ => respond(404, JSON, ""),
    };
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8001);
    let static_dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let state = Arc::new(State {
        hits: AtomicU64::new(0),
        static_dir,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| serve(state.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
