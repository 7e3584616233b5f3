//! The error of building a transport.

/// Why a [`HyperTransport`](crate::HyperTransport) (or a client over one) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The endpoint is not a URI.
    #[error("invalid endpoint {endpoint:?}: {source}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it does not parse.
        source: http::uri::InvalidUri,
    },
    /// The endpoint is a URI, but not one this client can send to.
    #[error("unsupported endpoint {endpoint:?}: expected http[s]://host[:port][/path] (no query)")]
    UnsupportedEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },
}
