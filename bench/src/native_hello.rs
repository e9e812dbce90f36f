//! The baseline: `GET /hello` → `{"message":"Hello, World!"}` straight from hyper, on the
//! same runtime settings as `berth serve`, so a ratio against it measures what the
//! plugin layer costs. Usage: `native-hello [PORT]` (default 8001).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

async fn hello(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let response = if req.uri().path() == "/hello" {
        hyper::Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"message":"Hello, World!"}"#,
            )))
    } else {
        hyper::Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()))
    };
    Ok(response.unwrap_or_default())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8001);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                .await;
        });
    }
}
