//! A TLS server and a client that trusts it, for the tests and fuzzers of TLS code (feature
//! `testing`): no network, no files.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::TlsConfig;

/// A rustls server configuration for `localhost` (a self-signed certificate, made once per
/// process) and a client configuration that trusts that certificate alone. Panics if rcgen or
/// rustls cannot make them, which only a broken build would do.
#[allow(clippy::expect_used)]
pub fn localhost() -> &'static (Arc<ServerConfig>, TlsConfig) {
    static CONFIGS: OnceLock<(Arc<ServerConfig>, TlsConfig)> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("a key");
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("parameters for localhost");
        let cert = params.self_signed(&key).expect("a self-signed certificate");
        let der = CertificateDer::from(cert.der().to_vec());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring's protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
            .expect("the certificate and its key");
        let mut roots = RootCertStore::empty();
        roots.add(der).expect("the certificate as a root");
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring's protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), TlsConfig::from_rustls(Arc::new(client)))
    })
}
