//! WebSocket: the RFC 6455 codec ([`codec`]) and the upgrade checks ([`upgrade`]).
//! The session loop lives in [`crate::conn`]; what events mean is berth-core's `ws.rs`.

pub mod codec;
pub mod upgrade;
