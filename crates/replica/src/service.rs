//! The storage services a block can be written to.

use std::fmt;

use http::Uri;
use http::uri::{PathAndQuery, Scheme};

/// What kind of service a Keep service is (`service_type` in Arvados' `keep_services`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// A keepstore: stores exactly one replica per PUT. A missing type counts as `disk`.
    Disk,
    /// A keepproxy: may store several replicas per PUT and says how many.
    Proxy,
    /// A `gateway:*` service: used only when a locator names it, never a write target.
    Gateway(String),
    /// Any other type: a write target with an unknown replica count per PUT.
    Other(String),
}

impl ServiceKind {
    /// The kind of a `service_type` value; `None` (the field is missing) is `disk`.
    pub fn from_type(service_type: Option<&str>) -> Self {
        match service_type {
            None | Some("disk") => ServiceKind::Disk,
            Some("proxy") => ServiceKind::Proxy,
            Some(gateway) if gateway.starts_with("gateway:") => ServiceKind::Gateway(gateway.to_owned()),
            Some(other) => ServiceKind::Other(other.to_owned()),
        }
    }

    /// The `service_type` value.
    pub fn as_str(&self) -> &str {
        match self {
            ServiceKind::Disk => "disk",
            ServiceKind::Proxy => "proxy",
            ServiceKind::Gateway(name) | ServiceKind::Other(name) => name,
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a service description was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The root is not an absolute `http://` or `https://` URI without a query.
    #[error("service {uuid}: root {root:?} is not an absolute http(s) URI without a query")]
    BadRoot {
        /// The service.
        uuid: String,
        /// The root as given.
        root: String,
    },
}

/// One Keep service: `{uuid, root URL, type, read_only}`.
///
/// Invariant: `root` is an absolute `http`/`https` URI without a query whose path ends in `/`,
/// so `root` followed by a block hash is the block's URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    uuid: String,
    root: Uri,
    kind: ServiceKind,
    read_only: bool,
}

impl Service {
    /// A writable service. `root` is `scheme://host:port[/path]`; a trailing `/` is added.
    pub fn new(uuid: impl Into<String>, root: &str, kind: ServiceKind) -> Result<Self, ServiceError> {
        let uuid = uuid.into();
        let bad = || ServiceError::BadRoot { uuid: uuid.clone(), root: root.to_owned() };
        let parts = root.parse::<Uri>().map_err(|_| bad())?.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else { return Err(bad()) };
        if (scheme != Scheme::HTTP && scheme != Scheme::HTTPS)
            || parts.path_and_query.as_ref().and_then(PathAndQuery::query).is_some()
        {
            return Err(bad());
        }
        let path = parts.path_and_query.as_ref().map_or("/", PathAndQuery::path);
        let path = if path.ends_with('/') { path.to_owned() } else { format!("{path}/") };
        let root =
            Uri::builder().scheme(scheme).authority(authority).path_and_query(path).build().map_err(|_| bad())?;
        Ok(Service { uuid, root, kind, read_only: false })
    }

    /// The same service, read-only (`read_only: true`): never written to.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The services a client configured with proxy URLs uses, as the Python SDK builds them:
    /// `00000-bi6l4-<index, 15 digits>`, type `proxy`, in the order given.
    pub fn proxies<'a>(roots: impl IntoIterator<Item = &'a str>) -> Result<Vec<Self>, ServiceError> {
        roots
            .into_iter()
            .enumerate()
            .map(|(i, root)| Service::new(format!("00000-bi6l4-{i:015}"), root, ServiceKind::Proxy))
            .collect()
    }

    /// The service's uuid (`zzzzz-bi6l4-…`).
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The root URI, ending in `/`.
    pub fn root(&self) -> &Uri {
        &self.root
    }

    /// The service's kind.
    pub fn kind(&self) -> &ServiceKind {
        &self.kind
    }

    /// Whether the service is read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether blocks are written to it: not read-only and not a gateway.
    pub fn is_writable(&self) -> bool {
        !self.read_only && !matches!(self.kind, ServiceKind::Gateway(_))
    }

    /// The URI of block `hash` on this service: `<root><hash>`.
    pub(crate) fn block_uri(&self, hash: &str) -> Option<Uri> {
        let path = format!("{}{hash}", self.root.path());
        let parts = self.root.clone().into_parts();
        let (scheme, authority) = (parts.scheme?, parts.authority?);
        Uri::builder().scheme(scheme).authority(authority).path_and_query(path).build().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_get_a_trailing_slash() {
        let s = Service::new("zzzzz-bi6l4-000000000000000", "http://h:25107", ServiceKind::Disk).unwrap();
        assert_eq!(s.root().to_string(), "http://h:25107/");
        assert_eq!(s.block_uri("abc").unwrap().to_string(), "http://h:25107/abc");
        let s = Service::new("u", "https://h/keep", ServiceKind::Proxy).unwrap();
        assert_eq!(s.block_uri("abc").unwrap().to_string(), "https://h/keep/abc");
    }

    #[test]
    fn bad_roots_are_refused() {
        for root in ["h:1", "/keep", "ftp://h/", "http://h/?q=1", "http://h :1/"] {
            assert!(Service::new("u", root, ServiceKind::Disk).is_err(), "{root}");
        }
    }

    #[test]
    fn kinds_and_writability() {
        assert_eq!(ServiceKind::from_type(None), ServiceKind::Disk);
        assert_eq!(ServiceKind::from_type(Some("disk")), ServiceKind::Disk);
        assert_eq!(ServiceKind::from_type(Some("proxy")), ServiceKind::Proxy);
        assert_eq!(ServiceKind::from_type(Some("")), ServiceKind::Other(String::new()));
        let gateway = ServiceKind::from_type(Some("gateway:ftp"));
        assert!(!Service::new("u", "http://h/", gateway).unwrap().is_writable());
        assert!(!Service::new("u", "http://h/", ServiceKind::Disk).unwrap().read_only().is_writable());
    }

    #[test]
    fn proxies_are_numbered_like_the_sdk() {
        let proxies = Service::proxies(["http://a:1", "http://b:2/"]).unwrap();
        assert_eq!(proxies[0].uuid(), "00000-bi6l4-000000000000000");
        assert_eq!(proxies[1].uuid(), "00000-bi6l4-000000000000001");
        assert_eq!(*proxies[1].kind(), ServiceKind::Proxy);
    }
}
