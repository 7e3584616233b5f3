//! Where requests go: the configured endpoint, or the authority of an absolute URI.

use std::net::{SocketAddr, ToSocketAddrs};

use http::Uri;
use http::uri::Scheme;
use stowage_proto::TransportError;

use crate::UringError;

/// A server: the address to connect to (and whether over TLS), the `Host` to name, and a base
/// path that origin-form request URIs are joined to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) peer: Peer,
    pub(crate) host: String,
    base: String,
    /// The endpoint's scheme, for the absolute URI of an origin-form request.
    scheme: Scheme,
}

/// What a connection is to: an address, and for `https://` the name its certificate must have.
/// Idle connections are reused for the same peer only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    /// The server name (the URI's host) of a TLS connection; `None`: plain TCP.
    pub(crate) tls: Option<String>,
}

/// One request's destination and request-target.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) peer: Peer,
    pub(crate) host: String,
    pub(crate) target: String,
}

impl Endpoint {
    /// Parses `http[s]://host[:port][/path]` and resolves the host (once, here).
    pub(crate) fn parse(endpoint: &str) -> Result<Self, UringError> {
        let bad = |reason: &str| UringError::BadEndpoint { endpoint: endpoint.to_owned(), reason: reason.to_owned() };
        let uri: Uri = endpoint.parse().map_err(|_| bad("not a URI"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(bad("only http:// and https:// are supported"));
        }
        let (peer, host) = resolve(&uri).ok_or_else(|| bad("the host does not resolve"))?;
        let base = uri.path().trim_end_matches('/').to_owned();
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        Ok(Endpoint { peer, host, base, scheme })
    }

    /// Where `uri` goes: origin-form to this endpoint (under its base path), absolute where it
    /// points. An absolute URI that is not `http://` or `https://`, or does not resolve, cannot
    /// be sent.
    pub(crate) fn route(&self, uri: &Uri) -> Result<Route, TransportError> {
        if uri.authority().is_none() {
            return Ok(Route { peer: self.peer.clone(), host: self.host.clone(), target: self.target(uri) });
        }
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(TransportError::Other);
        }
        let (peer, host) = resolve(uri).ok_or(TransportError::ConnectRefused)?;
        Ok(Route { peer, host, target: self.target(uri) })
    }

    /// The request-target of `uri`: its path and query, under the base path when origin-form.
    pub(crate) fn target(&self, uri: &Uri) -> String {
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        match uri.authority() {
            None => format!("{}{}", self.base, path_and_query),
            Some(_) => path_and_query.to_owned(),
        }
    }
}

/// The first address of `uri`'s host and port (80, or 443 for `https://`, by default) with the
/// server name of `https://`, and its `Host` header value.
fn resolve(uri: &Uri) -> Option<(Peer, String)> {
    let authority = uri.authority()?;
    let tls = uri.scheme_str() == Some("https");
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host = authority.host().trim_matches(['[', ']']);
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let peer = Peer { addr, tls: tls.then(|| host.to_owned()) };
    Some((peer, authority.as_str().to_owned()))
}

impl Endpoint {
    /// The absolute URI a request for `uri` goes to (what a redirect's `Location` is resolved
    /// against): origin-form joined to this endpoint as [`Endpoint::route`] joins it.
    pub(crate) fn absolute(&self, uri: &Uri) -> Option<Uri> {
        if uri.scheme().is_some() {
            return Some(uri.clone());
        }
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        format!("{}://{}{}{path_and_query}", self.scheme, self.host, self.base).parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_joins_the_base_path() {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080/ais/").unwrap();
        let route = endpoint.route(&"/v1/objects/b/o?provider=aws".parse().unwrap()).unwrap();
        assert_eq!(route.peer, Peer { addr: "127.0.0.1:8080".parse().unwrap(), tls: None });
        assert_eq!(route.host, "127.0.0.1:8080");
        assert_eq!(route.target, "/ais/v1/objects/b/o?provider=aws");
    }

    #[test]
    fn absolute_uris_go_where_they_point() {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        let route = endpoint.route(&"http://127.0.0.1:9/x?y".parse().unwrap()).unwrap();
        assert_eq!((route.peer.addr.port(), route.target.as_str()), (9, "/x?y"));
        let tls = endpoint.route(&"https://localhost/".parse().unwrap()).unwrap();
        assert_eq!((tls.peer.addr.port(), tls.peer.tls.as_deref()), (443, Some("localhost")));
        assert_eq!(endpoint.route(&"ftp://127.0.0.1/".parse().unwrap()).unwrap_err(), TransportError::Other);
    }

    #[test]
    fn origin_form_is_made_absolute_where_it_is_routed() {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080/ais/").unwrap();
        let absolute = |uri: &str| endpoint.absolute(&uri.parse().unwrap()).unwrap().to_string();
        assert_eq!(absolute("/v1/objects/b/o?provider=aws"), "http://127.0.0.1:8080/ais/v1/objects/b/o?provider=aws");
        assert_eq!(absolute("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
    }

    #[test]
    fn bad_endpoints_say_why() {
        for bad in ["ftp://x", "not a uri", "https://no-such-host.invalid"] {
            assert!(matches!(Endpoint::parse(bad), Err(UringError::BadEndpoint { .. })), "{bad}");
        }
    }
}
