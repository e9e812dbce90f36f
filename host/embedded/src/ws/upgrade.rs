//! Is this request a WebSocket upgrade, and is it a valid one?

use crate::http::head::Head;
use crate::ws::codec::valid_key;

/// What the upgrade headers amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Not an upgrade request: serve it as plain HTTP.
    No,
    /// A valid upgrade with this `Sec-WebSocket-Key`.
    Yes(alloc::string::String),
    /// An upgrade request the host must refuse with this status (400; 426 for a
    /// version other than 13).
    Invalid(u16),
}

/// Checks `Upgrade: websocket` + `Connection: upgrade` on a GET, then the version and key.
pub fn check(head: &Head) -> Upgrade {
    if !head.has_token("upgrade", "websocket") || !head.has_token("connection", "upgrade") {
        return Upgrade::No;
    }
    if head.method != "GET" || head.minor_version < 1 {
        return Upgrade::Invalid(400);
    }
    if head.header("sec-websocket-version").map(str::trim) != Some("13") {
        return Upgrade::Invalid(426);
    }
    match head.header("sec-websocket-key") {
        Some(key) if valid_key(key) => Upgrade::Yes(key.trim().into()),
        _ => Upgrade::Invalid(400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn head(method: &str, headers: &[(&str, &str)]) -> Head {
        Head {
            method: method.into(),
            target: "/ws".into(),
            minor_version: 1,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn browser_upgrade() {
        let h = head(
            "GET",
            &[
                ("connection", "keep-alive, Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-version", "13"),
                ("sec-websocket-key", KEY),
            ],
        );
        assert_eq!(check(&h), Upgrade::Yes(KEY.into()));
    }

    #[test]
    fn refusals() {
        let base = [("connection", "Upgrade"), ("upgrade", "WebSocket")];
        assert_eq!(check(&head("GET", &[])), Upgrade::No);
        assert_eq!(check(&head("GET", &base[..1])), Upgrade::No);
        assert_eq!(check(&head("POST", &base)), Upgrade::Invalid(400));
        let mut v8 = base.to_vec();
        v8.extend([("sec-websocket-version", "8"), ("sec-websocket-key", KEY)]);
        assert_eq!(check(&head("GET", &v8)), Upgrade::Invalid(426));
        let mut nokey = base.to_vec();
        nokey.push(("sec-websocket-version", "13"));
        assert_eq!(check(&head("GET", &nokey)), Upgrade::Invalid(400));
        nokey.push(("sec-websocket-key", "short"));
        assert_eq!(check(&head("GET", &nokey)), Upgrade::Invalid(400));
    }
}
