//! rustls's errors as [`TlsError`], the kind the machines are fed.

use rustls::pki_types::ServerName;
use rustls::{CertificateError, Error};
use stowage_proto::tls::TlsError;

/// The kind of a rustls error.
pub fn classify(error: &Error) -> TlsError {
    match error {
        Error::InvalidCertificate(error) => certificate(error),
        Error::NoCertificatesPresented | Error::InvalidCertRevocationList(_) => TlsError::BadCertificate,
        Error::AlertReceived(_) | Error::PeerIncompatible(_) | Error::NoApplicationProtocol => TlsError::Refused,
        Error::InappropriateMessage { .. }
        | Error::InappropriateHandshakeMessage { .. }
        | Error::InvalidMessage(_)
        | Error::PeerMisbehaved(_)
        | Error::PeerSentOversizedRecord
        | Error::DecryptError => TlsError::Protocol,
        _ => TlsError::Other,
    }
}

/// [`classify`] for an error on a connection whose handshake is done: what breaks the protocol
/// there is a damaged record ([`TlsError::Record`]), which another connection need not see.
pub fn classify_established(error: &Error) -> TlsError {
    match classify(error) {
        TlsError::Protocol => TlsError::Record,
        kind => kind,
    }
}

fn certificate(error: &CertificateError) -> TlsError {
    match error {
        CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            TlsError::NotValidForName
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsError::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => TlsError::NotYetValid,
        _ => TlsError::BadCertificate,
    }
}

/// The name to ask a server's certificate for: a DNS name, or an IP address (without the
/// brackets of an IPv6 authority). A host that is neither is [`TlsError::Other`].
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_by_kind() {
        let cert = |e| classify(&Error::InvalidCertificate(e));
        assert_eq!(cert(CertificateError::UnknownIssuer), TlsError::UnknownIssuer);
        assert_eq!(cert(CertificateError::NotValidForName), TlsError::NotValidForName);
        assert_eq!(cert(CertificateError::Expired), TlsError::Expired);
        assert_eq!(cert(CertificateError::NotValidYet), TlsError::NotYetValid);
        assert_eq!(cert(CertificateError::BadSignature), TlsError::BadCertificate);
        assert_eq!(classify(&Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)), TlsError::Refused);
        assert_eq!(classify(&Error::DecryptError), TlsError::Protocol);
        assert_eq!(classify_established(&Error::DecryptError), TlsError::Record);
        assert_eq!(classify_established(&Error::PeerSentOversizedRecord), TlsError::Record);
        let alert = Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(classify_established(&alert), TlsError::Refused);
        assert_eq!(classify(&Error::General("x".into())), TlsError::Other);
    }

    #[test]
    fn server_names() {
        assert!(matches!(server_name("localhost"), Ok(ServerName::DnsName(_))));
        assert!(matches!(server_name("127.0.0.1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert_eq!(server_name("bad host"), Err(TlsError::Other));
    }
}
