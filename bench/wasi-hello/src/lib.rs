//! `GET /hello` → `{"message":"Hello, World!"}`, written against `wasi:http/proxy` so
//! that `wasmtime serve` can run it: the comparison server of `cargo xtask bench` (set
//! `WASMTIME_SERVE` to a `wasmtime` binary). It answers every path with the same bytes
//! as Berth's hello plugin and the native baseline.

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Hello);

struct Hello;

const BODY: &[u8] = br#"{"message":"Hello, World!"}"#;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::from_list(&[
            ("content-type".to_string(), b"application/json".to_vec()),
            (
                "content-length".to_string(),
                BODY.len().to_string().into_bytes(),
            ),
        ])
        .expect("static headers are valid");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("a new response has a body");
        ResponseOutparam::set(response_out, Ok(response));
        let mut out = body.write().expect("a new body has a stream");
        // A failed write means the client went away; there is nobody left to tell.
        if out.write_all(BODY).is_ok() {
            let _ = std::io::Write::flush(&mut out);
        }
        drop(out);
        let _ = OutgoingBody::finish(body, None);
    }
}
