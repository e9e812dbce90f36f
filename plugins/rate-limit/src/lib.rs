//! Seed 000's rate limiter: at most `max` requests per `window` seconds per client.
//! Over the limit: `429` with `{"error":"Too many requests"}` and `Retry-After`.
//!
//! **Who the client is.** The seed keyed on `X-Forwarded-For`, which any client can set
//! to a new value on every request and so never be limited. This plugin keys on the
//! peer's IP address, and believes `X-Forwarded-For` only when the peer is one of the
//! `trusted_proxies` (a reverse proxy in front of Berth that appends the address it saw).
//! Then the client is the right-most address in the header that is not itself a trusted
//! proxy: everything to the left of it was written by the client and proves nothing.
//! When every address in the header is a trusted proxy, the left-most one is used; an
//! entry that is not an IP address ends the walk there (the proxy chain is broken), and
//! the peer is used.
//!
//! Config: `window` (seconds, default `60`), `max` (default `1`), `trusted_proxies`
//! (IP addresses or CIDR ranges: a TOML list `["10.0.0.0/8", "::1"]`, or one string
//! separated by commas; default none, so `X-Forwarded-For` is ignored).
use berth_sdk::prelude::*;
use ipnet::IpNet;
use std::net::IpAddr;

struct RateLimit;

/// Parses `trusted_proxies`: a JSON list of strings (how the host passes a TOML list) or
/// a comma-separated string. Single addresses become /32 or /128 ranges.
fn trusted_proxies(config: &Config) -> Result<Vec<IpNet>, String> {
    let Some(raw) = config.get("trusted_proxies") else {
        return Ok(Vec::new());
    };
    let items: Vec<String> = if raw.trim_start().starts_with('[') {
        berth_sdk::serde_json::from_str(raw)
            .map_err(|e| format!("config key `trusted_proxies`: not a list of strings ({e})"))?
    } else {
        raw.split(',').map(str::to_string).collect()
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("config key `trusted_proxies`: {s:?} is not an IP address or range")
                })
        })
        .collect()
}

/// The client's address: the peer, or what trusted proxies say it is.
fn client_ip(peer: &str, forwarded: Option<&str>, trusted: &[IpNet]) -> String {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let Ok(peer_ip) = peer.parse::<IpAddr>() else {
        return peer.to_string();
    };
    let Some(forwarded) = forwarded.filter(|_| is_trusted(&peer_ip)) else {
        return peer_ip.to_string();
    };
    let mut client = peer_ip;
    for hop in forwarded.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client.to_string()
}

impl Plugin for RateLimit {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let window: u64 = config.parse_or("window", 60)?;
        let max: i64 = config.parse_or("max", 1)?;
        if window == 0 {
            return Err("config key `window` must be at least 1 second".into());
        }
        let trusted = trusted_proxies(config)?;

        app.before(move |req| {
            let ip = client_ip(req.ip(), req.header("X-Forwarded-For"), &trusted);
            let key = format!("hits:{ip}");
            let count = match state::incr(&key, 1) {
                Ok(n) => n,
                Err(e) => {
                    warn!("rate-limit: {e}; resetting {key}");
                    state::delete(&key);
                    state::incr(&key, 1).unwrap_or(1)
                }
            };
            if count == 1 {
                // First hit in this window: start the window.
                state::set_ttl(&key, "1", Duration::from_secs(window));
            }
            if count > max {
                let body = json!({"error": "Too many requests"});
                return Some(
                    Response::json_status(&body, 429).header("Retry-After", &window.to_string()),
                );
            }
            None
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(RateLimit);

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        let json = berth_sdk::serde_json::to_string(list).expect("json");
        trusted_proxies(&Config::new(vec![("trusted_proxies".into(), json)])).expect("parse")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let none = nets(&[]);
        assert_eq!(client_ip("10.1.1.1", Some("6.6.6.6"), &none), "10.1.1.1");
        let lan = nets(&["10.0.0.0/8", "::1"]);
        assert_eq!(client_ip("10.1.1.1", Some("6.6.6.6"), &lan), "6.6.6.6");
        assert_eq!(client_ip("192.0.2.1", Some("6.6.6.6"), &lan), "192.0.2.1");
        // The right-most untrusted hop wins over whatever the client wrote to its left.
        assert_eq!(
            client_ip("10.1.1.1", Some("9.9.9.9, 5.5.5.5, 10.2.2.2"), &lan),
            "5.5.5.5"
        );
        // All trusted: the left-most.
        assert_eq!(
            client_ip("::1", Some("10.3.3.3, 10.2.2.2"), &lan),
            "10.3.3.3"
        );
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_ip("10.1.1.1", Some("1.1.1.1, junk"), &lan),
            "10.1.1.1"
        );
        assert_eq!(client_ip("10.1.1.1", None, &lan), "10.1.1.1");
    }

    #[test]
    fn limits_per_client_per_window() {
        use berth_sdk::testing::TestApp;
        let app = TestApp::with_config::<RateLimit>(&[
            ("window", "10"),
            ("max", "2"),
            ("trusted_proxies", "10.0.0.1"),
        ])
        .expect("setup");
        let from = |peer: &str| app.get("/x").remote_addr(peer);
        assert_eq!(from("1.1.1.1:1").send().status(), 404);
        assert_eq!(from("1.1.1.1:2").send().status(), 404);
        let r = from("1.1.1.1:3").send();
        assert_eq!(r.status(), 429);
        assert_eq!(r.text(), r#"{"error":"Too many requests"}"#);
        assert_eq!(r.header("retry-after"), Some("10"));
        // Another client, and X-Forwarded-For from an untrusted peer, count apart.
        let spoof = from("2.2.2.2:1").header("X-Forwarded-For", "1.1.1.1");
        assert_eq!(spoof.send().status(), 404);
        // Through the trusted proxy, the forwarded client is limited.
        let r = from("10.0.0.1:1")
            .header("X-Forwarded-For", "1.1.1.1")
            .send();
        assert_eq!(r.status(), 429);
        // The window ends.
        app.advance(Duration::from_secs(10));
        assert_eq!(from("1.1.1.1:4").send().status(), 404);
    }

    #[test]
    fn config_forms() {
        let c = Config::new(vec![(
            "trusted_proxies".into(),
            "127.0.0.1, 10.0.0.0/8".into(),
        )]);
        assert_eq!(trusted_proxies(&c).expect("parse").len(), 2);
        let bad = Config::new(vec![("trusted_proxies".into(), "[\"localhost\"]".into())]);
        assert!(trusted_proxies(&bad).unwrap_err().contains("localhost"));
    }
}
