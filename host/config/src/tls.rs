//! `[server.tls]` and `[server.http2]`: how the desktop server's listeners speak.
//!
//! ```toml
//! [server.tls]
//! cert = "cert.pem"           # PEM: the certificate, then its chain (relative to this file)
//! key = "key.pem"             # PEM: the private key (PKCS#8, PKCS#1 or SEC1)
//! listeners = ["http", "ws"]  # which listeners speak TLS (default: both)
//!
//! [server.http2]
//! enabled = true              # h2 by ALPN on TLS listeners, h2c with prior knowledge on plain ones
//! max_concurrent_streams = 100
//! ping_interval = 30.0        # seconds between PINGs on an HTTP/2 connection (0: none)
//! ping_timeout = 20.0         # seconds a PING may go unanswered before the connection closes
//! ```
//!
//! Only the server runtime (tokio + hyper) has TLS and HTTP/2; the embedded runtime
//! refuses a config with `[server.tls]`. The certificate and key files are read at
//! start-up (where a missing file or a key that does not match the certificate stops the
//! server) and again whenever they change or on SIGHUP: new handshakes use the new pair,
//! open connections keep theirs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::limits::millis;

/// `[server.tls]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    cert: PathBuf,
    key: PathBuf,
    listeners: Option<Vec<Listener>>,
}

/// One of the server's listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Listener {
    /// The HTTP port (`port`).
    Http,
    /// The dedicated WebSocket port (`ws_port`).
    Ws,
}

/// `[server.tls]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// The private key, PEM.
    pub key: PathBuf,
    /// Whether the HTTP port speaks TLS.
    pub http: bool,
    /// Whether the dedicated WebSocket port speaks TLS.
    pub ws: bool,
}

impl TlsSection {
    /// Paths resolved against `base`; an empty listener list is an error (a section
    /// that secures nothing is a mistake, not a choice).
    pub(crate) fn resolve(self, base: &Path) -> Result<TlsConfig, String> {
        let listeners = self.listeners.unwrap_or(vec![Listener::Http, Listener::Ws]);
        if listeners.is_empty() {
            return Err("[server.tls] listeners is empty: name \"http\", \"ws\" or both".into());
        }
        Ok(TlsConfig {
            cert: base.join(self.cert),
            key: base.join(self.key),
            http: listeners.contains(&Listener::Http),
            ws: listeners.contains(&Listener::Ws),
        })
    }
}

/// `[server.http2]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Http2Section {
    enabled: Option<bool>,
    max_concurrent_streams: Option<u32>,
    max_requests: Option<u32>,
    ping_interval: Option<f64>,
    ping_timeout: Option<f64>,
}

/// `[server.http2]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Config {
    /// Offer h2 by ALPN and accept h2c with prior knowledge.
    pub enabled: bool,
    /// Streams one HTTP/2 connection may have open at once: what one client can make
    /// the host hold at the same time (each stream is a request in flight).
    pub max_concurrent_streams: u32,
    /// Requests (streams) one HTTP/2 connection may carry before the host sends GOAWAY
    /// and the client opens a new one: HTTP/2's own bound, larger than `[limits]
    /// max_keep_alive_requests` (an HTTP/1.1 figure) because one HTTP/2 connection
    /// carries a whole page's requests at once.
    pub max_requests: u32,
    /// How often an HTTP/2 connection is pinged; `None` for never.
    pub ping_interval: Option<Duration>,
    /// How long a PING may go unanswered before the connection is closed.
    pub ping_timeout: Duration,
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            enabled: true,
            max_concurrent_streams: 100,
            max_requests: 1000,
            ping_interval: Some(Duration::from_secs(30)),
            ping_timeout: Duration::from_secs(20),
        }
    }
}

impl Http2Section {
    /// The section with defaults filled in; zero streams is an error.
    pub(crate) fn resolve(self) -> Result<Http2Config, String> {
        let mut config = Http2Config::default();
        if let Some(enabled) = self.enabled {
            config.enabled = enabled;
        }
        if let Some(streams) = self.max_concurrent_streams {
            if streams == 0 {
                return Err("[server.http2] max_concurrent_streams = 0: expected 1 or more".into());
            }
            config.max_concurrent_streams = streams;
        }
        if let Some(requests) = self.max_requests {
            if requests == 0 {
                return Err("[server.http2] max_requests = 0: expected 1 or more".into());
            }
            config.max_requests = requests;
        }
        if let Some(seconds) = self.ping_interval {
            let ms = millis(seconds);
            config.ping_interval = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(seconds) = self.ping_timeout {
            config.ping_timeout = Duration::from_millis(millis(seconds).max(1));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;

    #[test]
    fn tls_resolves_paths_and_listeners() {
        let config = Config::parse("", Path::new(".")).expect("empty");
        assert!(config.tls.is_none());
        let text = "[server.tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n";
        let config = Config::parse(text, Path::new("/etc/berth")).expect("valid");
        let tls = config.tls.expect("tls");
        assert_eq!(tls.cert, Path::new("/etc/berth/c.pem"));
        assert_eq!(tls.key, Path::new("/etc/berth/k.pem"));
        assert!(tls.http && tls.ws);
        let only_ws = format!("{text}listeners = [\"ws\"]\n");
        let tls = Config::parse(&only_ws, Path::new(".")).expect("valid").tls;
        assert!(tls.is_some_and(|t| !t.http && t.ws));
        for bad in [
            "[server.tls]\ncert = \"c.pem\"\n",
            "[server.tls]\ncert = \"c\"\nkey = \"k\"\nlisteners = []\n",
            "[server.tls]\ncert = \"c\"\nkey = \"k\"\nlisteners = [\"smtp\"]\n",
            "[server.tls]\ncert = \"c\"\nkey = \"k\"\ncerts = \"x\"\n",
        ] {
            assert!(Config::parse(bad, Path::new(".")).is_err(), "{bad}");
        }
    }

    #[test]
    fn http2_defaults_and_bad_values() {
        let config = Config::parse("", Path::new(".")).expect("empty");
        assert!(config.http2.enabled);
        assert_eq!(config.http2.max_concurrent_streams, 100);
        let text =
            "[server.http2]\nenabled = false\nmax_concurrent_streams = 4\nping_interval = 0\n";
        let h2 = Config::parse(text, Path::new(".")).expect("valid").http2;
        assert!(!h2.enabled && h2.max_concurrent_streams == 4 && h2.ping_interval.is_none());
        let bad = "[server.http2]\nmax_concurrent_streams = 0\n";
        let err = Config::parse(bad, Path::new(".")).expect_err("zero streams");
        assert!(err.contains("max_concurrent_streams"), "{err}");
        assert_eq!(config.http2.max_requests, 1000);
        let h2 = Config::parse("[server.http2]\nmax_requests = 7\n", Path::new("."));
        assert_eq!(h2.expect("valid").http2.max_requests, 7);
        let bad = "[server.http2]\nmax_requests = 0\n";
        let err = Config::parse(bad, Path::new(".")).expect_err("zero requests");
        assert!(err.contains("max_requests"), "{err}");
    }
}
