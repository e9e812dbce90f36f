//! The `[server]` allow-lists: which `Host` a request may name and which `Origin` a
//! WebSocket upgrade may come from.
//!
//! Both close holes a browser opens. A server on a private address answers any `Host`,
//! so a page the victim visits can rebind its own name to that address (DNS
//! rebinding) and read the answers; `allowed_hosts` turns those requests away. A
//! browser lets any page open a WebSocket to any server, with the victim's cookies,
//! and only the `Origin` header says which page did (cross-site WebSocket hijacking);
//! `allowed_origins` refuses upgrades from pages not listed. Plugins still see the
//! `Origin` header in `ws-connect`'s headers and may apply a finer rule of their own.
//!
//! Absent lists allow everything (the default, as before). The decisions:
//! - a request whose `Host` is not listed gets **421 Misdirected Request** (RFC 9110
//!   §15.5.20: "this server is not configured to answer for that name" — the status a
//!   client may retry elsewhere, which a 400 would not say). A request with no `Host`
//!   at all is refused the same way when a list is set: it names no listed host.
//! - an upgrade whose `Origin` is not listed gets **403 Forbidden**. An upgrade with no
//!   `Origin` passes: browsers always send one, so its absence means a non-browser
//!   client, which the header protects nothing against (it can send any value).
//!
//! Matching is ASCII case-insensitive. A host entry without a port (`example.com`)
//! matches that name on any port; with a port (`example.com:8000`) only that port;
//! `*.example.com` matches every subdomain (not `example.com` itself); `[::1]` is an
//! IPv6 host. An origin entry is `scheme://host[:port]` as browsers send it, or `*`
//! in either list for "any".

use alloc::string::String;
use alloc::vec::Vec;

use crate::model::Response;

/// The `[server]` `allowed_hosts` and `allowed_origins` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowLists {
    /// `allowed_hosts`; `None` allows every `Host`.
    pub hosts: Option<Vec<String>>,
    /// `allowed_origins`; `None` allows every `Origin`.
    pub origins: Option<Vec<String>>,
}

/// Splits `host[:port]` (or `[v6]:port`) into the host and the port text.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.find(']') {
            Some(end) => {
                let host = &authority[..end + 2];
                let port = authority[end + 2..].strip_prefix(':');
                (host, port)
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// Whether the `Host` value `authority` matches the list entry `entry`.
fn host_matches(entry: &str, authority: &str) -> bool {
    if entry == "*" {
        return true;
    }
    let (host, port) = split_port(authority);
    let (want_host, want_port) = split_port(entry);
    if want_port.is_some() && !want_port.eq(&port) {
        return false;
    }
    match want_host.strip_prefix("*.") {
        // Bytes, not `str` slices: a peer's non-ASCII host must not split a character.
        Some(parent) => {
            let (host, parent) = (host.as_bytes(), parent.as_bytes());
            host.len() > parent.len() + 1
                && host[host.len() - parent.len() - 1] == b'.'
                && host[host.len() - parent.len()..].eq_ignore_ascii_case(parent)
        }
        None => host.eq_ignore_ascii_case(want_host),
    }
}

impl AllowLists {
    /// Whether a request naming `host` (its `Host` header, or the authority of an
    /// absolute-form target) may be served; the refusal is 421 (see the module docs).
    pub fn check_host(&self, host: Option<&str>) -> Result<(), Response> {
        let Some(list) = &self.hosts else {
            return Ok(());
        };
        let listed = host.is_some_and(|h| {
            let h = h.trim();
            list.iter().any(|entry| host_matches(entry.trim(), h))
        });
        if listed {
            Ok(())
        } else {
            Err(Response::error(
                421,
                "Misdirected Request: this server does not answer for that host",
            ))
        }
    }

    /// Whether a WebSocket upgrade from `origin` (its `Origin` header) may proceed; the
    /// refusal is 403 (see the module docs).
    pub fn check_origin(&self, origin: Option<&str>) -> Result<(), Response> {
        let (Some(list), Some(origin)) = (&self.origins, origin) else {
            return Ok(());
        };
        let origin = origin.trim();
        let origin = origin.strip_suffix('/').unwrap_or(origin);
        let listed = list.iter().any(|entry| {
            let entry = entry.trim();
            entry == "*"
                || entry
                    .strip_suffix('/')
                    .unwrap_or(entry)
                    .eq_ignore_ascii_case(origin)
        });
        if listed {
            Ok(())
        } else {
            Err(Response::error(
                403,
                "Forbidden: WebSocket connections from this origin are not allowed",
            ))
        }
    }

    /// [`AllowLists::check_host`] on a request as received: the authority of an
    /// absolute-form `target` (`http://example.com/x`), which RFC 9112 §3.2.2 says
    /// overrides `Host`, else the first `Host` among `headers` (names compared
    /// case-insensitively).
    pub fn check_request_host(
        &self,
        target: &str,
        headers: &[(String, String)],
    ) -> Result<(), Response> {
        if self.hosts.is_none() {
            return Ok(());
        }
        let absolute = target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))
            .map(|rest| &rest[..rest.find(['/', '?']).unwrap_or(rest.len())]);
        let host = absolute.or_else(|| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("host"))
                .map(|(_, value)| value.as_str())
        });
        self.check_host(host)
    }

    /// [`AllowLists::check_origin`] on a request's headers.
    pub fn check_origin_header(&self, headers: &[(String, String)]) -> Result<(), Response> {
        if self.origins.is_none() {
            return Ok(());
        }
        let origin = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("origin"))
            .map(|(_, value)| value.as_str());
        self.check_origin(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn lists(hosts: &[&str], origins: &[&str]) -> AllowLists {
        AllowLists {
            hosts: Some(hosts.iter().map(|h| h.to_string()).collect()),
            origins: Some(origins.iter().map(|o| o.to_string()).collect()),
        }
    }

    #[test]
    fn absent_lists_allow_everything() {
        let open = AllowLists::default();
        assert!(open.check_host(None).is_ok());
        assert!(open.check_host(Some("evil.test")).is_ok());
        assert!(open.check_origin(Some("https://evil.test")).is_ok());
    }

    #[test]
    fn hosts() {
        let l = lists(
            &[
                "example.com",
                "api.test:8000",
                "*.apps.test",
                "[::1]",
                "127.0.0.1",
            ],
            &[],
        );
        for ok in [
            "example.com",
            "EXAMPLE.com:9999",
            "api.test:8000",
            "a.apps.test",
            "x.y.apps.test:1",
            "é.apps.test",
            "[::1]:8000",
            "[::1]",
            "127.0.0.1:8000",
        ] {
            assert!(l.check_host(Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "evil.test",
            "example.com.evil.test",
            "api.test",
            "api.test:8001",
            "apps.test",
            "xapps.test",
            "[::2]:8000",
            "",
            "ééé.apps.tesé",
        ] {
            assert_eq!(
                l.check_host(Some(bad)).map_err(|r| r.status),
                Err(421),
                "{bad}"
            );
        }
        assert_eq!(l.check_host(None).map_err(|r| r.status), Err(421));
        let headers = vec![("HOST".to_string(), "example.com".to_string())];
        assert!(l.check_request_host("/", &headers).is_ok());
        assert!(l.check_request_host("/", &[]).is_err());
        // An absolute-form target's authority overrides Host.
        let evil = l.check_request_host("http://evil.test/x", &headers);
        assert_eq!(evil.map_err(|r| r.status), Err(421));
        assert!(l.check_request_host("http://example.com?q", &[]).is_ok());
    }

    #[test]
    fn origins() {
        let l = lists(&[], &["https://app.test", "http://localhost:8000"]);
        for ok in [
            "https://app.test",
            "HTTPS://APP.test/",
            "http://localhost:8000",
        ] {
            assert!(l.check_origin(Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.test",
            "http://app.test",
            "http://localhost:8001",
            "null",
        ] {
            assert_eq!(
                l.check_origin(Some(bad)).map_err(|r| r.status),
                Err(403),
                "{bad}"
            );
        }
        assert!(l.check_origin(None).is_ok(), "no Origin: not a browser");
        let star = lists(&[], &["*"]);
        assert!(star.check_origin(Some("https://any.test")).is_ok());
    }
}
