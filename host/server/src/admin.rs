//! The admin listener (`[admin] listen`): what operators and their tools ask, on an
//! address of its own so it is never reachable through the public port.
//!
//! - `GET /metrics`: the Prometheus text exposition ([`crate::metrics`]);
//! - `GET /healthz`: 200 while the process serves at all (liveness);
//! - `GET /readyz`: 200 once the plugins are loaded and the server accepts
//!   connections, 503 before that, from the start of shutdown, and while a cluster
//!   node cannot reach Redis (readiness);
//! - anything else: 404.
//!
//! It serves HTTP/1.1 only, a few connections at a time (each bounded by the same
//! header and keep-alive timeouts as the public port), so a scraper cannot make the host
//! hold more than that.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::Shared;

/// Admin connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 16;

/// Serves the admin listener until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("admin accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let limits = shared.limits;
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&shared, &req)) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(limits.header_timeout_ms))
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let idle = Duration::from_millis(limits.keep_alive_timeout_ms.max(1000)) * 10;
            match tokio::time::timeout(idle, conn).await {
                Ok(Err(e)) => tracing::debug!("admin connection from {remote}: {e}"),
                Err(_) => tracing::debug!("admin connection from {remote} open too long"),
                Ok(Ok(())) => {}
            }
            drop(permit);
        });
    }
}

fn answer<B>(shared: &Shared, req: &hyper::Request<B>) -> hyper::Response<Full<Bytes>> {
    let text = |status: u16, body: &'static str| {
        response(
            status,
            "text/plain; charset=utf-8",
            Bytes::from_static(body.as_bytes()),
        )
    };
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return text(405, "only GET\n");
    }
    match req.uri().path() {
        "/metrics" => response(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            Bytes::from(shared.metrics.render(shared)),
        ),
        "/healthz" => text(200, "ok\n"),
        "/readyz" => {
            // Plugins load before the listeners open; `ready` is set once they serve and
            // cleared when shutdown begins.
            // A node of a cluster is not ready while Redis is unreachable: its state
            // calls fail, so a balancer should send traffic elsewhere.
            if !shared.ready.load(Ordering::Relaxed) {
                text(503, "not ready\n")
            } else if shared.cluster.as_ref().is_some_and(|c| !c.reachable()) {
                text(503, "redis unreachable\n")
            } else {
                text(200, "ready\n")
            }
        }
        _ => text(404, "not found\n"),
    }
}

fn response(status: u16, content_type: &'static str, body: Bytes) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
