//! A TLS server and a client that trusts it, for the tests and fuzzers of TLS code (feature
//! `testing`): no network, no files.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::TlsConfig;
use crate::config::provider;

/// A rustls server configuration for `localhost` (a self-signed certificate, made once per
/// process) and a client configuration that trusts that certificate alone. Panics if rcgen or
/// rustls cannot make them, which only a broken build would do.
pub fn localhost() -> &'static (Arc<ServerConfig>, TlsConfig) {
    static CONFIGS: OnceLock<(Arc<ServerConfig>, TlsConfig)> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        #[allow(clippy::expect_used)]
        roots.add(certificate().0.clone()).expect("the certificate as a root");
        #[allow(clippy::expect_used)]
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring's protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        (server(rustls::DEFAULT_VERSIONS), TlsConfig::from_rustls(Arc::new(client)))
    })
}

/// A server configuration like [`localhost`]'s (the same certificate) that speaks only
/// `versions`. Panics as [`localhost`] does.
#[allow(clippy::expect_used)]
pub fn server(versions: &[&'static SupportedProtocolVersion]) -> Arc<ServerConfig> {
    let (cert, key) = certificate();
    let server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("ring's protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())))
        .expect("the certificate and its key");
    Arc::new(server)
}

/// The self-signed certificate for `localhost` and its key (PKCS #8), made once per process.
#[allow(clippy::expect_used)]
fn certificate() -> &'static (CertificateDer<'static>, Vec<u8>) {
    static CERTIFICATE: OnceLock<(CertificateDer<'static>, Vec<u8>)> = OnceLock::new();
    CERTIFICATE.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("a key");
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("parameters for localhost");
        let cert = params.self_signed(&key).expect("a self-signed certificate");
        (CertificateDer::from(cert.der().to_vec()), key.serialize_der())
    })
}
