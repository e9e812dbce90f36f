//! Test certificates and TLS clients for the TLS and HTTP/2 suites: a throwaway CA
//! (rcgen) signs leaves for `localhost` and `127.0.0.1`, written as PEM files the
//! server's `[server.tls]` reads; clients trust that CA alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, Issuer, KeyPair};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A certificate authority the test clients trust.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, DER.
    pub der: CertificateDer<'static>,
    /// Its certificate, PEM.
    pub pem: String,
}

/// A leaf certificate's files.
pub struct Leaf {
    /// The chain, PEM: the leaf, then the CA.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8).
    pub key: PathBuf,
    /// The leaf, DER (what a client sees as the peer's first certificate).
    pub der: CertificateDer<'static>,
}

impl TestCa {
    /// A new CA called `name`.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `localhost` and `127.0.0.1` called `cn`, valid from a day ago for a
    /// year, written to `dir/<cn>.crt` and `dir/<cn>.key`.
    pub fn leaf(&self, dir: &Path, cn: &str) -> Leaf {
        let now = std::time::SystemTime::now();
        self.leaf_valid(dir, cn, now - day(1), now + day(365))
    }

    /// A leaf that expired yesterday.
    pub fn expired_leaf(&self, dir: &Path, cn: &str) -> Leaf {
        let now = std::time::SystemTime::now();
        self.leaf_valid(dir, cn, now - day(30), now - day(1))
    }

    fn leaf_valid(
        &self,
        dir: &Path,
        cn: &str,
        from: std::time::SystemTime,
        until: std::time::SystemTime,
    ) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.not_before = from.into();
        params.not_after = until.into();
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let (cert_path, key_path) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
        std::fs::write(&cert_path, format!("{}{}", cert.pem(), self.pem)).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Leaf {
            cert: cert_path,
            key: key_path,
            der: cert.der().clone(),
        }
    }

    /// A rustls client config that trusts this CA alone, offering `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("CA into the root store");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A TLS connection to `addr` for `localhost`, offering `alpn`.
    pub async fn connect(
        &self,
        addr: std::net::SocketAddr,
        alpn: &[&[u8]],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("server name");
        TlsConnector::from(self.client_config(alpn))
            .connect(name, tcp)
            .await
    }

    /// A blocking reqwest client (rustls) that trusts this CA alone and reaches
    /// `localhost` at `addr`.
    pub fn reqwest(&self, addr: std::net::SocketAddr) -> reqwest::blocking::ClientBuilder {
        let ca = reqwest::Certificate::from_der(&self.der).expect("CA for reqwest");
        reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .resolve("localhost", addr)
            .timeout(std::time::Duration::from_secs(10))
    }
}

fn day(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n * 86_400)
}

/// The peer's leaf certificate on a client TLS connection.
pub fn peer_leaf(stream: &TlsStream<TcpStream>) -> Option<CertificateDer<'static>> {
    let (_, session) = stream.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.clone().into_owned())
}

/// The `[server.tls]` lines for `leaf`.
pub fn tls_section(leaf: &Leaf) -> String {
    format!(
        "[server.tls]\ncert = {:?}\nkey = {:?}\n",
        leaf.cert.to_string_lossy(),
        leaf.key.to_string_lossy()
    )
}
