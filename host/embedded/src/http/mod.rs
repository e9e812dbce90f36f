//! HTTP/1.1 on the wire: heads ([`head`]), chunked request bodies ([`chunked`]) and
//! response heads ([`write`]). Pure functions over byte slices; the connection loop in
//! [`crate::conn`] drives them.

pub mod chunked;
pub mod head;
pub mod write;
