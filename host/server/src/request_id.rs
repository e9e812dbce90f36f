//! Request ids (`x-request-id`), by berth-core's rule ([`berth_core::request_id`]): a
//! client's id is kept when it is 1 to 128 visible ASCII characters, else the server
//! makes one (16 hex digits: a per-server random prefix and the request's sequence
//! number, so ids from two servers do not collide). The id goes
//! back on the response, into the access event's `request_id` field, and onto every log
//! line a plugin writes while it handles the request: the request's plugin calls run
//! inside [`scope`], and the host's `log` import reads it from there ([`with_current`]).
//! (`berth serve`'s `pretty` lines keep seed 002's shapes; its `json` format has the field.)

use berth_core::request_id::{acceptable, generate};
use hyper::header::HeaderValue;

tokio::task_local! {
    static CURRENT: HeaderValue;
}

/// The request's id: the client's when it is acceptable, else a new one.
pub(crate) fn of<B>(req: &hyper::Request<B>, prefix: u32, seq: u64) -> HeaderValue {
    let given = req
        .headers()
        .get("x-request-id")
        .filter(|v| acceptable(v.as_bytes()));
    if let Some(id) = given {
        return id.clone();
    }
    HeaderValue::from_bytes(&generate(prefix, seq)).unwrap_or(HeaderValue::from_static("0"))
}

/// Runs `f` with `id` as the current request's id.
pub(crate) async fn scope<F: std::future::Future>(id: HeaderValue, f: F) -> F::Output {
    CURRENT.scope(id, f).await
}

/// Calls `f` with the current request's id (`None` outside a request).
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    let mut f = Some(f);
    let found = CURRENT.try_with(|id| {
        let f = f.take().expect("called once");
        f(id.to_str().ok())
    });
    match found {
        Ok(r) => r,
        Err(_) => (f.take().expect("not called yet"))(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: Option<&[u8]>) -> hyper::Request<()> {
        let mut req = hyper::Request::new(());
        if let Some(id) = id {
            let value = HeaderValue::from_bytes(id).expect("header value");
            req.headers_mut().insert("x-request-id", value);
        }
        req
    }

    #[test]
    fn a_good_id_is_kept_and_anything_else_replaced() {
        assert_eq!(of(&request(Some(b"abc-123")), 7, 9), "abc-123");
        assert_eq!(of(&request(None), 0xdead_beef, 0x2a), "deadbeef0000002a");
        for bad in [&b"has space"[..], &[b'x'; 129][..], b"tab\there"] {
            assert_eq!(of(&request(Some(bad)), 1, 2), "0000000100000002", "{bad:?}");
        }
    }
}
