//! The opening handshake (RFC 6455 §4.2) on top of hyper's upgrade mechanism.
//!
//! The plugins decide before the `101` goes out: `ws-connect` runs while the client
//! waits, so a plugin can refuse with a status of its choosing, and a plugin that
//! greets the client (`ws::send` in its connect handler) has its message queued ahead of
//! anything else.

use std::net::SocketAddr;
use std::sync::Arc;

use berth_core::model::{Event, Response, WsConnect};
use berth_core::uri::parse_target;
use berth_core::ws::Endpoint;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Method, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::hub::RegisterError;
use crate::http::{to_hyper, ResponseBody};
use crate::pool::PoolInvoker;
use crate::Shared;

/// Whether a request asks to become a WebSocket (`Upgrade: websocket` on a `GET` whose
/// `Connection` header lists `upgrade`).
pub fn is_upgrade(req: &hyper::Request<Incoming>) -> bool {
    let has_token = |name, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    req.method() == Method::GET
        && has_token(UPGRADE, "websocket")
        && has_token(CONNECTION, "upgrade")
}

/// Answers an upgrade request: `101` and a session task, or the reason it was refused.
pub async fn accept(
    shared: &Arc<Shared>,
    remote: SocketAddr,
    mut req: hyper::Request<Incoming>,
    endpoint: Endpoint,
) -> hyper::Response<ResponseBody> {
    if let Err(refused) = crate::allow::check_origin(&shared.allow, &req) {
        return to_hyper(refused, false);
    }
    let version_ok = req
        .headers()
        .get("sec-websocket-version")
        .is_some_and(|v| v.as_bytes() == b"13");
    if !version_ok {
        let mut response = to_hyper(Response::error(426, "Unsupported WebSocket version"), false);
        response
            .headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("13"));
        return response;
    }
    let Some(key) = req
        .headers()
        .get(SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec())
    else {
        return to_hyper(Response::error(400, "Missing Sec-WebSocket-Key"), false);
    };

    let target = parse_target(
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    );
    let (conn, outbox) = match shared.ws.register(&target.path) {
        Ok(pair) => pair,
        Err(RegisterError::Full) => {
            tracing::warn!("WebSocket connection limit reached; refusing {remote}");
            return to_hyper(
                Response::error(503, "Too many WebSocket connections"),
                false,
            );
        }
    };
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let event = Event::WsConnect(WsConnect {
        conn: conn.id,
        path: target.path,
        query_pairs: target.query_pairs,
        headers,
        remote_addr: remote.to_string(),
    });
    if let Err(refusal) = shared
        .app
        .ws_connect(endpoint, &event, &mut PoolInvoker(&shared.pools))
        .await
    {
        shared.ws.unregister(conn.id);
        // A refusal is an error response: anything else would read as success.
        let status = if (400..600).contains(&refusal.status) {
            refusal.status
        } else {
            403
        };
        return to_hyper(Response::error(status, &refusal.reason), false);
    }

    let on_upgrade = hyper::upgrade::on(&mut req);
    let shared = shared.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => super::session::run(shared, conn, outbox, upgraded, endpoint).await,
            Err(e) => {
                tracing::debug!("upgrade of {remote} failed: {e}");
                let code = super::session::ABNORMAL;
                super::session::finish(&shared, &conn, endpoint, code, String::new()).await;
            }
        }
    });

    let mut response = hyper::Response::new(crate::http::empty_body());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(&key)) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}
