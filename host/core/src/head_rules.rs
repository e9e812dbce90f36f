//! Rules on a request head that hold on both runtimes before any plugin runs, beyond
//! what the parsers (hyper, or the embedded runtime's httparse) enforce.
//!
//! **Host** (RFC 9112 §3.2): an HTTP/1.1 request without a `Host` header, or any request
//! with more than one, is answered 400. hyper leaves that to the application, and a
//! request routed by one of two `Host` values is how virtual-host confusion starts.

use crate::model::Response;
use crate::upgrade::HeaderLookup;

/// Checks the `Host` header count: `http_1_1` when the request's version is 1.1 or
/// later (HTTP/1.0 may omit it). `Err` is the 400 to send.
pub fn check_host(http_1_1: bool, headers: &(impl HeaderLookup + ?Sized)) -> Result<(), Response> {
    let mut count = 0usize;
    headers.each_value("host", &mut |_| count += 1);
    match count {
        0 if http_1_1 => Err(Response::error(400, "Bad Request: missing Host header")),
        0 | 1 => Ok(()),
        _ => Err(Response::error(
            400,
            "Bad Request: more than one Host header",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Pairs;
    use alloc::string::ToString;

    fn h(names: &[&str]) -> Pairs {
        names
            .iter()
            .map(|n| (n.to_string(), "example.com".to_string()))
            .collect()
    }

    #[test]
    fn exactly_one_host_on_http_1_1() {
        assert!(check_host(true, &h(&["host"])[..]).is_ok());
        assert!(check_host(true, &h(&["Host", "accept"])[..]).is_ok());
        assert_eq!(check_host(true, &h(&[])[..]).unwrap_err().status, 400);
        assert_eq!(
            check_host(true, &h(&["accept"])[..]).unwrap_err().status,
            400
        );
        assert_eq!(
            check_host(true, &h(&["host", "HOST"])[..])
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn http_1_0_may_omit_it_but_not_repeat_it() {
        assert!(check_host(false, &h(&[])[..]).is_ok());
        assert!(check_host(false, &h(&["host"])[..]).is_ok());
        assert!(check_host(false, &h(&["host", "host"])[..]).is_err());
    }
}
