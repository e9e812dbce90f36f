//! TLS on the listeners (`[server.tls]`): rustls through tokio-rustls, ring as the
//! crypto provider (it builds with a C compiler alone).
//!
//! The certificate chain and key are read at start-up by [`Tls::load`], which stops the
//! server with a clear error for a missing or unreadable file, PEM without a certificate
//! or key, or a key that does not belong to the certificate; an expired (or not yet
//! valid) certificate is only a warning, so an operator can still start the server and
//! replace it. After that, [`Tls::spawn_reload`] reads the pair again whenever either
//! file changes (polled once a second: cheap, and it sees renames and symlink swaps that
//! a file watcher on the file itself would miss) and on SIGHUP. A pair that loads is
//! swapped in for the *next* handshakes; open connections keep the keys they agreed on,
//! so nothing is dropped. A pair that fails to load is reported once and the old one
//! stays.
//!
//! ALPN: the HTTP port offers `h2` and `http/1.1` (`h2` only with `[server.http2]`
//! enabled); the dedicated WebSocket port offers `http/1.1` alone, since a WebSocket
//! opens with an HTTP/1.1 upgrade.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use berth_config::TlsConfig;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// How often the certificate files are checked for changes.
const POLL: Duration = Duration::from_secs(1);

/// Why the certificate and key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("[server.tls] cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not the PEM it should be.
    #[error("[server.tls] {path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The key does not belong to the certificate, or rustls cannot use it.
    #[error("[server.tls] {key} does not fit {cert}: {message}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        message: String,
    },
}

/// The server's TLS: one certificate for both listeners, swapped whole on reload.
pub(crate) struct Tls {
    config: TlsConfig,
    current: Arc<Current>,
    provider: Arc<CryptoProvider>,
    /// The HTTP port's acceptor (ALPN h2 when HTTP/2 is on, http/1.1).
    pub(crate) http: TlsAcceptor,
    /// The WebSocket port's acceptor (ALPN http/1.1).
    pub(crate) ws: TlsAcceptor,
}

/// The certified key new handshakes get.
#[derive(Debug)]
struct Current(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

impl Tls {
    /// Reads the certificate and key and builds the acceptors (see the module docs for
    /// what is an error and what a warning).
    pub(crate) fn load(config: &TlsConfig, http2: bool) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = read_pair(config, &provider)?;
        let current = Arc::new(Current(ArcSwap::from_pointee(key)));
        let acceptor = |alpn: &[&[u8]]| -> Result<TlsAcceptor, TlsError> {
            let mut server = ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| mismatch(config, e.to_string()))?
                .with_no_client_auth()
                .with_cert_resolver(current.clone());
            server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(TlsAcceptor::from(Arc::new(server)))
        };
        let http = if http2 {
            acceptor(&[b"h2", b"http/1.1"])?
        } else {
            acceptor(&[b"http/1.1"])?
        };
        let ws = acceptor(&[b"http/1.1"])?;
        Ok(Tls {
            config: config.clone(),
            current,
            provider,
            http,
            ws,
        })
    }

    /// Reloads the pair when either file changes and on SIGHUP, until the server ends
    /// (the task is aborted with the returned handle).
    pub(crate) fn spawn_reload(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let tls = self.clone();
        let mut hangup = crate::hangup::Hangup::new();
        tokio::spawn(async move {
            let mut seen = fingerprint(&tls.config);
            // The fingerprint a failed load had: reported once, not once a second.
            let mut failed = None;
            loop {
                let forced = tokio::select! {
                    () = tokio::time::sleep(POLL) => false,
                    () = hangup.next() => true,
                };
                let now = fingerprint(&tls.config);
                if !forced && (now == seen || Some(&now) == failed.as_ref()) {
                    continue;
                }
                match read_pair(&tls.config, &tls.provider) {
                    Ok(key) => {
                        tls.current.0.store(Arc::new(key));
                        tracing::info!(
                            cert = %tls.config.cert.display(),
                            "TLS certificate reloaded: new connections use it"
                        );
                        seen = now;
                        failed = None;
                    }
                    Err(e) => {
                        tracing::warn!("TLS certificate not reloaded (keeping the old one): {e}");
                        failed = Some(now);
                    }
                }
            }
        })
    }
}

/// What identifies the files' contents cheaply: each one's length and modification time.
type Fingerprint = [Option<(u64, SystemTime)>; 2];

fn fingerprint(config: &TlsConfig) -> Fingerprint {
    let of = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)))
    };
    [of(&config.cert), of(&config.key)]
}

fn mismatch(config: &TlsConfig, message: String) -> TlsError {
    TlsError::Mismatch {
        cert: config.cert.clone(),
        key: config.key.clone(),
        message,
    }
}

/// Reads, parses and checks the pair; warns about a certificate out of its validity.
fn read_pair(config: &TlsConfig, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let pem_error = |path: &Path, message: String| TlsError::Pem {
        path: path.to_path_buf(),
        message,
    };
    let cert_pem = read(&config.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(&config.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_error(
            &config.cert,
            "no CERTIFICATE block in the file".into(),
        ));
    }
    let key_pem = read(&config.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        pem_error(
            &config.key,
            format!("no usable PRIVATE KEY block in the file ({e})"),
        )
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| mismatch(config, e.to_string()))?;
    warn_if_out_of_date(&config.cert, &chain[0]);
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| mismatch(config, e.to_string()))?;
    Ok(certified)
}

/// Warns when the leaf certificate is expired or not yet valid: clients will refuse
/// it, but serving it is the operator's call.
fn warn_if_out_of_date(path: &Path, leaf: &CertificateDer<'_>) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        // rustls checks the pair next; a certificate it cannot use fails there.
        return;
    };
    let validity = cert.validity();
    if !validity.is_valid() {
        tracing::warn!(
            cert = %path.display(),
            "the TLS certificate is not valid now (valid from {} until {}): clients will refuse it",
            validity.not_before,
            validity.not_after
        );
    }
}
