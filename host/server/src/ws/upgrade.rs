//! The opening handshake (RFC 6455 §4.2) on top of hyper's upgrade mechanism. What
//! makes a valid upgrade, the 426 and the refusal statuses are berth-core's
//! [`upgrade`](berth_core::upgrade) rules; this is the glue to hyper.
//!
//! The plugins decide before the `101` goes out: `ws-connect` runs while the client
//! waits, so a plugin can refuse with a status of its choosing, and a plugin that
//! greets the client (`ws::send` in its connect handler) has its message queued ahead of
//! anything else. permessage-deflate is agreed here too (berth-core's
//! [`ws_deflate`](berth_core::ws_deflate) rules, `[server.websocket]`'s policy), and the
//! session compresses and inflates with what the `101` said.

use std::net::SocketAddr;
use std::sync::Arc;

use berth_core::model::{Event, WsConnect};
use berth_core::upgrade::{self, Upgrade};
use berth_core::uri::parse_target;
use berth_core::ws::Endpoint;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, UPGRADE,
};
use hyper::{StatusCode, Version};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::hub::RegisterError;
use crate::body::{to_hyper, ResponseBody};
use crate::meta::Headers;
use crate::pool::PoolInvoker;
use crate::snapshot::Snapshot;
use crate::Shared;

/// berth-core's [`upgrade::check`] on a hyper request: not an upgrade, a valid one
/// (with its key), or the response that refuses it.
pub fn check<B>(req: &hyper::Request<B>) -> Upgrade {
    // Exactly HTTP/1.1: an HTTP/2 stream cannot be upgraded (RFC 8441 is not offered).
    let http_1_1 = req.version() == Version::HTTP_11;
    upgrade::check(req.method().as_str(), http_1_1, &Headers(req.headers()))
}

/// Answers a valid upgrade request (`key` from [`check`]): `101` and a session task, or
/// the reason it was refused.
pub async fn accept(
    shared: &Arc<Shared>,
    snap: &Snapshot,
    remote: SocketAddr,
    mut req: hyper::Request<Incoming>,
    endpoint: Endpoint,
    key: &str,
) -> hyper::Response<ResponseBody> {
    if let Err(refused) = crate::allow::check_origin(&shared.allow, &req) {
        return to_hyper(refused, false);
    }
    let target = parse_target(
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    );
    let owner = match endpoint {
        Endpoint::Route(t) => Some(snap.name(t.plugin)),
        Endpoint::Hooks => None,
    };
    let (conn, outbox) = match shared.ws.register(&target.path, owner) {
        Ok(pair) => pair,
        Err(RegisterError::Full) => {
            tracing::warn!("WebSocket connection limit reached; refusing {remote}");
            return to_hyper(upgrade::too_many(), false);
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
    if let Err(refusal) = snap
        .app
        .ws_connect(endpoint, &event, &mut PoolInvoker(&snap.pools))
        .await
    {
        shared.ws.unregister(conn.id);
        return to_hyper(upgrade::refusal(refusal.status, &refusal.reason), false);
    }

    // permessage-deflate: the first acceptable offer, unless it is off by config.
    let deflate = shared.ws_deflate.negotiate(&Headers(req.headers()));
    let extension = deflate
        .as_ref()
        .and_then(|agreed| HeaderValue::from_str(&agreed.header()).ok());
    let on_upgrade = hyper::upgrade::on(&mut req);
    let shared = shared.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => super::session::run(shared, conn, outbox, upgraded, deflate).await,
            Err(e) => {
                tracing::debug!("upgrade of {remote} failed: {e}");
                let code = super::session::ABNORMAL;
                super::session::finish(&shared, &conn, code, String::new()).await;
            }
        }
    });

    let mut response = hyper::Response::new(crate::body::empty_body());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(extension) = extension {
        headers.insert(SEC_WEBSOCKET_EXTENSIONS, extension);
    }
    response
}
