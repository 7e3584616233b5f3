//! When a failed request may be waiting on a cold GET's write lock.

use http::Method;
use stowage_proto::TransportError;
use stowage_proto::ais::{AddressError, ObjectAddress};

/// Why a request never waits on a write lock, whatever fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    /// Only GETs can collide with a cold GET's write lock.
    #[error("not a GET")]
    NotGet,
    /// The URL does not address an object.
    #[error(transparent)]
    NotAnObject(#[from] AddressError),
    /// The bucket is an `ais` bucket of this cluster: there is no cold GET.
    #[error("the bucket is not remote")]
    NotRemote,
}

/// The object whose write lock a failed `method uri` request may be waiting on: a GET of an
/// object in a remote bucket (cloud or `ht` provider, or a remote AIS namespace).
pub fn lock_wait_target(method: &Method, uri: &http::Uri) -> Result<ObjectAddress, Ineligible> {
    if method != Method::GET {
        return Err(Ineligible::NotGet);
    }
    let address = ObjectAddress::from_uri(uri)?;
    if !address.bucket().is_remote() {
        return Err(Ineligible::NotRemote);
    }
    Ok(address)
}

/// Whether a transport error suggests a cold GET holds the lock: only a read timeout does
/// (connect errors and resets say nothing about the object).
pub fn suggests_lock(error: TransportError) -> bool {
    error == TransportError::ReadTimeout
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(method: Method, uri: &str) -> Result<ObjectAddress, Ineligible> {
        lock_wait_target(&method, &uri.parse().unwrap())
    }

    #[test]
    fn remote_object_gets_are_eligible() {
        for provider in ["aws", "s3", "gcp", "azure", "oci", "ht"] {
            assert!(target(Method::GET, &format!("/v1/objects/b/o?provider={provider}")).is_ok(), "{provider}");
        }
        assert!(target(Method::GET, "/v1/objects/b/o?provider=ais&namespace=%40remote%23ns").is_ok());
    }

    #[test]
    fn everything_else_is_not() {
        assert_eq!(target(Method::PUT, "/v1/objects/b/o?provider=aws"), Err(Ineligible::NotGet));
        assert_eq!(target(Method::HEAD, "/v1/objects/b/o?provider=aws"), Err(Ineligible::NotGet));
        assert_eq!(target(Method::GET, "/v1/objects/b/o?provider=ais"), Err(Ineligible::NotRemote));
        assert_eq!(target(Method::GET, "/v1/objects/b/o"), Err(Ineligible::NotRemote));
        assert!(matches!(target(Method::GET, "/v1/buckets/b?provider=aws"), Err(Ineligible::NotAnObject(_))));
    }

    #[test]
    fn only_read_timeouts_suggest_a_lock() {
        assert!(suggests_lock(TransportError::ReadTimeout));
        for e in [TransportError::ConnectTimeout, TransportError::ConnectRefused, TransportError::Reset] {
            assert!(!suggests_lock(e));
        }
    }
}
