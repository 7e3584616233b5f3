//! Why a TLS connection could not be set up, as data: what [`TransportError::Tls`] carries.
//!
//! The drivers speak TLS through rustls and map its errors onto these kinds; the machines
//! never see rustls. Every kind but [`TlsError::Record`] is an answer rather than bad luck on
//! the network — the same server presents the same certificate again — so no machine retries
//! one; a damaged record on an established connection says nothing of the next connection,
//! and is retried as a reset would be.
//!
//! [`TransportError::Tls`]: crate::TransportError::Tls

/// Why the TLS handshake with a server failed (or a record after it could not be read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TlsError {
    /// The server's certificate chain does not lead to a trusted root (a self-signed
    /// certificate, or one from a CA that is not trusted: see `--cacert`, `--insecure`).
    #[error("the server's certificate is not signed by a trusted CA")]
    UnknownIssuer,
    /// The server's certificate is valid, but for another host name.
    #[error("the server's certificate is not valid for the host name requested")]
    NotValidForName,
    /// The server's certificate has expired.
    #[error("the server's certificate has expired")]
    Expired,
    /// The server's certificate is not valid yet.
    #[error("the server's certificate is not valid yet")]
    NotYetValid,
    /// The server's certificate is unusable for another reason (malformed, a bad signature,
    /// revoked, not for serving TLS).
    #[error("the server's certificate is invalid")]
    BadCertificate,
    /// The server ended the handshake with a fatal alert (no protocol version or cipher suite
    /// in common, say).
    #[error("the server refused the TLS handshake")]
    Refused,
    /// The server sent something that is not TLS, or TLS that breaks the protocol.
    #[error("the server broke the TLS protocol")]
    Protocol,
    /// After the handshake, a record could not be read: it failed its authentication, or is
    /// garbled (damaged in transit, or tampered with). None of its bytes were taken; the
    /// connection is unusable, another one need not be.
    #[error("a TLS record could not be authenticated (damaged in transit, or tampered with)")]
    Record,
    /// A host that is no valid TLS server name (an IP address is one), or anything else the
    /// driver could not classify.
    #[error("TLS failed")]
    Other,
}

impl TlsError {
    /// Every kind, for tests and fuzzers that pick one.
    pub const ALL: [TlsError; 9] = [
        TlsError::UnknownIssuer,
        TlsError::NotValidForName,
        TlsError::Expired,
        TlsError::NotYetValid,
        TlsError::BadCertificate,
        TlsError::Refused,
        TlsError::Protocol,
        TlsError::Record,
        TlsError::Other,
    ];

    /// Whether the server's certificate was refused (as opposed to the handshake failing).
    pub const fn is_certificate(self) -> bool {
        matches!(
            self,
            TlsError::UnknownIssuer
                | TlsError::NotValidForName
                | TlsError::Expired
                | TlsError::NotYetValid
                | TlsError::BadCertificate
        )
    }
}
