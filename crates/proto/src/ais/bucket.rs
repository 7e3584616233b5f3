//! Buckets and namespaces.

use std::fmt;

use super::Provider;

/// A bucket namespace: `@uuid#name`. A non-empty `uuid` names another AIStore cluster
/// attached to this one (a *remote AIS* namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// The uuid (or alias) of the cluster that owns the bucket; empty for this cluster.
    pub uuid: String,
    /// The namespace name within that cluster; empty for the global namespace.
    pub name: String,
}

impl Namespace {
    /// Parses AIStore's `@uuid#name` form. Either part may be absent: `""` is the global
    /// namespace, `#name` a local named one, `@uuid` a remote cluster's global namespace.
    /// Anything else is taken as a bare name.
    pub fn parse(s: &str) -> Self {
        let (uuid, name) = match s.strip_prefix('@') {
            Some(rest) => rest.split_once('#').unwrap_or((rest, "")),
            None => ("", s.strip_prefix('#').unwrap_or(s)),
        };
        Namespace { uuid: uuid.to_owned(), name: name.to_owned() }
    }

    /// Whether the namespace belongs to another (remote) AIStore cluster.
    pub fn is_remote(&self) -> bool {
        !self.uuid.is_empty()
    }

    /// Whether this is the global namespace of this cluster.
    pub fn is_global(&self) -> bool {
        self.uuid.is_empty() && self.name.is_empty()
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}#{}", self.uuid, self.name)
    }
}

/// A bucket: name, provider and namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// The bucket name.
    pub name: String,
    /// Where its objects live.
    pub provider: Provider,
    /// Its namespace.
    pub namespace: Namespace,
}

impl Bucket {
    /// A bucket in the global namespace.
    pub fn new(name: impl Into<String>, provider: Provider) -> Self {
        Bucket { name: name.into(), provider, namespace: Namespace::default() }
    }

    /// Whether the bucket's objects live outside this cluster: a cloud (or `ht`) provider, or
    /// an `ais` bucket in a remote cluster's namespace. Reads of such objects may be cold GETs.
    pub fn is_remote(&self) -> bool {
        self.provider.is_remote() || self.namespace.is_remote()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_forms() {
        assert_eq!(Namespace::parse(""), Namespace::default());
        let remote = Namespace::parse("@Xyz#ns");
        assert_eq!((remote.uuid.as_str(), remote.name.as_str()), ("Xyz", "ns"));
        assert!(remote.is_remote());
        assert!(Namespace::parse("@Xyz").is_remote());
        let local = Namespace::parse("#ns");
        assert!(!local.is_remote() && !local.is_global());
        assert_eq!(local.to_string(), "@#ns");
    }

    #[test]
    fn remote_ais_namespace_is_remote() {
        let mut b = Bucket::new("b", Provider::Ais);
        assert!(!b.is_remote());
        b.namespace = Namespace::parse("@other#");
        assert!(b.is_remote());
        assert!(Bucket::new("b", Provider::Aws).is_remote());
    }
}
