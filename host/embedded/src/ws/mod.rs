//! WebSocket: the RFC 6455 codec ([`codec`]). Whether a request is a valid upgrade is
//! berth-core's [`upgrade`](berth_core::upgrade); the session loop lives in
//! [`crate::session`]; what events mean is berth-core's `ws.rs`.

pub mod codec;
