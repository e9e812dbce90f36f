//! The `rate-limit` plugin's idea of who the client is, on the server (both engines)
//! and the embedded runtime: the peer's address, and `X-Forwarded-For` only when the
//! peer is a configured `trusted_proxies` entry — so a client that writes a new
//! `X-Forwarded-For` on every request is still limited.

use berth_tests::http_client::client;
use berth_tests::{config, per_engine, shared, shared_embedded, EngineKind, TestServer};

fn limited(trusted: &str) -> String {
    format!(
        "[plugins]\nload = [\"rate-limit\", \"hello\"]\n[plugin.rate-limit]\nwindow = 60\nmax = 2\n{trusted}"
    )
}

/// Three servers: no proxies trusted, the test client (127.0.0.1) trusted, and a range
/// that does not hold the client.
fn servers(engine: Option<EngineKind>) -> [&'static TestServer; 3] {
    let configs = [
        ("rl-none", limited("")),
        (
            "rl-local",
            limited("trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n"),
        ),
        (
            "rl-other",
            limited("trusted_proxies = \"10.0.0.0/8, 192.0.2.1\"\n"),
        ),
    ];
    configs.map(|(key, text)| match engine {
        Some(engine) => shared(engine, key, || config(&text, engine)),
        None => shared_embedded(key, || config(&text, EngineKind::Wasmi)),
    })
}

fn status(s: &TestServer, forwarded: Option<&str>) -> u16 {
    let mut req = client().get(s.url("/hello"));
    if let Some(f) = forwarded {
        req = req.header("X-Forwarded-For", f);
    }
    req.send().expect("GET /hello").status().as_u16()
}

fn clients_are_who_the_network_says(engine: Option<EngineKind>) {
    let [none, local, other] = servers(engine);
    // Untrusted peers: a fresh X-Forwarded-For per request changes nothing.
    for s in [none, other] {
        assert_eq!(status(s, Some("198.51.100.1")), 200);
        assert_eq!(status(s, Some("198.51.100.2")), 200);
        assert_eq!(
            status(s, Some("198.51.100.3")),
            429,
            "spoofed header evaded the limit"
        );
        assert_eq!(status(s, None), 429, "the peer is limited");
    }
    // A trusted proxy: the right-most untrusted hop is the client; what the client wrote
    // to its left proves nothing.
    assert_eq!(status(local, Some("6.6.6.1, 203.0.113.7")), 200);
    assert_eq!(status(local, Some("6.6.6.2, 203.0.113.7, 10.1.2.3")), 200);
    assert_eq!(status(local, Some("6.6.6.3, 203.0.113.7")), 429);
    assert_eq!(status(local, Some("203.0.113.8")), 200, "another client");
    // No header, or garbage: the proxy itself.
    assert_eq!(status(local, None), 200);
    assert_eq!(status(local, Some("not-an-ip")), 200);
    assert_eq!(status(local, None), 429);
}

fn rate_limit_keys_on_the_peer(engine: EngineKind) {
    clients_are_who_the_network_says(Some(engine));
}

per_engine!(rate_limit_keys_on_the_peer);

#[test]
fn rate_limit_keys_on_the_peer_embedded() {
    clients_are_who_the_network_says(None);
}
