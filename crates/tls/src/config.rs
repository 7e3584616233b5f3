//! [`TlsOptions`] (what to trust) and the [`TlsConfig`] built from them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use crate::insecure::AnyCertificate;

/// What a TLS client trusts: the options behind `--cacert FILE` and `--insecure`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust the certificates of this PEM file instead of the built-in roots.
    pub cacert: Option<PathBuf>,
    /// Accept any server certificate (its chain and host name unchecked; the handshake's
    /// signature still verified). For self-signed test servers.
    pub insecure: bool,
}

/// Why a [`TlsConfig`] could not be built from [`TlsOptions`].
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The CA file could not be read, or is not PEM.
    #[error("cannot read the CA file {}: {source}", path.display())]
    CaFile {
        /// The file as given.
        path: PathBuf,
        /// Why it could not be read.
        source: rustls::pki_types::pem::Error,
    },
    /// The CA file holds no certificate.
    #[error("the CA file {} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The file as given.
        path: PathBuf,
    },
    /// A certificate of the CA file is not one rustls can use as a trust anchor.
    #[error("the CA file {} holds a certificate that cannot be trusted: {source}", path.display())]
    BadCertificate {
        /// The file as given.
        path: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// rustls refused the configuration (no protocol version in common with the provider).
    #[error("cannot configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A TLS client configuration, cheap to clone (the rustls configuration is shared).
///
/// [`TlsConfig::default`] trusts the built-in roots (built once per process and shared);
/// [`TlsConfig::new`] follows [`TlsOptions`]; [`TlsConfig::from_rustls`] takes any rustls
/// configuration as it is.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// Always with `enable_secret_extraction`: a [`Session`](crate::Session) takes the record
    /// layer over after a TLS 1.3 handshake.
    rustls: Arc<ClientConfig>,
}

impl TlsConfig {
    /// The configuration `options` ask for; the CA file, if any, is read now.
    pub fn new(options: &TlsOptions) -> Result<Self, TlsConfigError> {
        if options.insecure {
            return build(Verify::Any);
        }
        match &options.cacert {
            Some(path) => build(Verify::Roots(ca_file(path)?)),
            None => Ok(TlsConfig::default()),
        }
    }

    /// A configuration rustls was given as it is (its ALPN, verifier, provider and session
    /// store untouched), but for `enable_secret_extraction`, turned on (on a copy if `rustls`
    /// is shared): a [`Session`](crate::Session) takes the record layer over after a TLS 1.3
    /// handshake.
    pub fn from_rustls(mut rustls: Arc<ClientConfig>) -> Self {
        if !rustls.enable_secret_extraction {
            Arc::make_mut(&mut rustls).enable_secret_extraction = true;
        }
        TlsConfig { rustls }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<ClientConfig> {
        &self.rustls
    }
}

impl Default for TlsConfig {
    /// The built-in (`webpki-roots`) roots.
    fn default() -> Self {
        static DEFAULT: OnceLock<Result<TlsConfig, String>> = OnceLock::new();
        let built = DEFAULT.get_or_init(|| {
            let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            build(Verify::Roots(roots)).map_err(|error| error.to_string())
        });
        match built {
            Ok(config) => config.clone(),
            // Unreachable with ring's provider, which has every default protocol version;
            // were it not, every handshake would fail with a typed error instead.
            Err(_) => TlsConfig::from_rustls(Arc::new(empty())),
        }
    }
}

enum Verify {
    Roots(RootCertStore),
    Any,
}

/// The crypto provider of every configuration here (and of the test servers): `ring`.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn build(verify: Verify) -> Result<TlsConfig, TlsConfigError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let mut config = match verify {
        Verify::Roots(roots) => builder.with_root_certificates(roots).with_no_client_auth(),
        Verify::Any => {
            builder.dangerous().with_custom_certificate_verifier(AnyCertificate::new(provider)).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConfig::from_rustls(Arc::new(config)))
}

/// A configuration that trusts nothing (every handshake fails with `UnknownIssuer`).
fn empty() -> ClientConfig {
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map(|builder| builder.with_root_certificates(RootCertStore::empty()).with_no_client_auth())
        .unwrap_or_else(|_| {
            ClientConfig::builder().with_root_certificates(RootCertStore::empty()).with_no_client_auth()
        })
}

/// The trust anchors of a PEM file.
fn ca_file(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .map_err(|source| TlsConfigError::CaFile { path: path.to_owned(), source })?;
    if certificates.is_empty() {
        return Err(TlsConfigError::NoCertificate { path: path.to_owned() });
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|source| TlsConfigError::BadCertificate { path: path.to_owned(), source })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("stowage-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn defaults_trust_the_built_in_roots_and_offer_http1() {
        let config = TlsConfig::default();
        assert_eq!(config.rustls().alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(config.rustls().enable_secret_extraction, "for a Session to take the records over");
        assert!(Arc::ptr_eq(config.rustls(), TlsConfig::new(&TlsOptions::default()).unwrap().rustls()), "shared");
    }

    #[test]
    fn a_ca_file_is_read_once_and_checked() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
        let good = temp("good.pem", cert.pem().as_bytes());
        assert!(TlsConfig::new(&TlsOptions { cacert: Some(good.clone()), insecure: false }).is_ok());

        let missing = std::env::temp_dir().join("stowage-tls-no-such-file.pem");
        let error = TlsConfig::new(&TlsOptions { cacert: Some(missing), insecure: false }).unwrap_err();
        assert!(matches!(error, TlsConfigError::CaFile { .. }), "{error}");
        assert!(error.to_string().contains("stowage-tls-no-such-file.pem"), "{error}");

        let empty = temp("empty.pem", b"not a certificate\n");
        let error = TlsConfig::new(&TlsOptions { cacert: Some(empty.clone()), insecure: false }).unwrap_err();
        assert!(matches!(error, TlsConfigError::NoCertificate { .. }), "{error}");

        let garbage = temp("garbage.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let error = TlsConfig::new(&TlsOptions { cacert: Some(garbage.clone()), insecure: false }).unwrap_err();
        assert!(matches!(error, TlsConfigError::BadCertificate { .. }), "{error}");
        for path in [good, empty, garbage] {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn insecure_ignores_the_ca_file() {
        let options = TlsOptions { cacert: Some("/no/such/file".into()), insecure: true };
        assert!(TlsConfig::new(&options).is_ok());
    }
}
