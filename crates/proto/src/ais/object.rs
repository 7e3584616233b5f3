//! Object addressing: `/v1/objects/<bucket>/<object>?provider=…&namespace=…`.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::{API_PREFIX, Bucket, Namespace, Provider, URL_PATH_OBJECTS, UnknownProvider, qparam};

/// Bytes left as they are in an object-name path: RFC 3986 unreserved characters and `/`
/// (object names may contain slashes). Everything else is percent-encoded.
const PATH: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');
/// Bytes left as they are in a bucket-name path segment and in a query value: RFC 3986
/// unreserved characters (a `/` in a bucket name would end the segment).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes an object name for use in a URL path (slashes are kept).
pub fn encode_object_name(name: &str) -> String {
    utf8_percent_encode(name, PATH).to_string()
}

/// Why a URI does not address an AIStore object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The path has no `/objects/` segment.
    #[error("not an object URL: {path:?} has no \"/objects/\" segment")]
    NotAnObjectPath {
        /// The offending path.
        path: String,
    },
    /// The path names a bucket but no object.
    #[error("not an object URL: {path:?} names no object after the bucket")]
    MissingObjectName {
        /// The offending path.
        path: String,
    },
    /// The `provider` query parameter is not one AIStore knows.
    #[error(transparent)]
    UnknownProvider(#[from] UnknownProvider),
}

/// The address of one object: its bucket and name, as found in (or destined for) a URL.
///
/// Built from a request URI with [`ObjectAddress::from_uri`], it keeps the object part of the
/// path exactly as it was encoded, and of the query only what identifies the bucket
/// (`provider`, `namespace`): everything else — signing keys, `presence`, `props` — is dropped,
/// which is what a follow-up request (a retry, a check-lock, a HEAD) must send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectAddress {
    bucket: Bucket,
    /// `<bucket>/<object>`, percent-encoded as in the URL path.
    encoded: String,
}

impl ObjectAddress {
    /// The address of `object` in `bucket`.
    pub fn new(bucket: Bucket, object: &str) -> Self {
        let encoded = format!("{}/{}", utf8_percent_encode(&bucket.name, UNRESERVED), encode_object_name(object));
        ObjectAddress { bucket, encoded }
    }

    /// Parses a request URI. Everything after the *first* `/objects/` of the path is
    /// `<bucket>/<object>` (later occurrences belong to the object name).
    pub fn from_uri(uri: &http::Uri) -> Result<Self, AddressError> {
        let path = uri.path();
        let marker = format!("/{URL_PATH_OBJECTS}/");
        let Some((_, encoded)) = path.split_once(&marker) else {
            return Err(AddressError::NotAnObjectPath { path: path.to_owned() });
        };
        let (bucket_name, object) = encoded.split_once('/').unwrap_or((encoded, ""));
        if bucket_name.is_empty() || object.is_empty() {
            return Err(AddressError::MissingObjectName { path: path.to_owned() });
        }
        let mut provider = Provider::Ais;
        let mut namespace = Namespace::default();
        for (key, value) in query_pairs(uri.query().unwrap_or("")) {
            match key.as_str() {
                qparam::PROVIDER => provider = value.parse()?,
                qparam::NAMESPACE => namespace = Namespace::parse(&value),
                _ => {}
            }
        }
        let bucket = Bucket { name: decode(bucket_name), provider, namespace };
        Ok(ObjectAddress { bucket, encoded: encoded.to_owned() })
    }

    /// The bucket.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The object name, decoded.
    pub fn object(&self) -> String {
        let object = self.encoded.split_once('/').map_or("", |(_, o)| o);
        decode(object)
    }

    /// The object name, percent-decoded, as bytes: exactly what the URL names, even when it is
    /// not UTF-8 (which [`ObjectAddress::object`] would replace). Borrowed when nothing is
    /// encoded.
    pub fn object_bytes(&self) -> Cow<'_, [u8]> {
        let object = self.encoded.split_once('/').map_or("", |(_, o)| o);
        percent_decode_str(object).into()
    }

    /// The request path: `/v1/objects/<bucket>/<object>`.
    pub fn path(&self) -> String {
        format!("{API_PREFIX}/{URL_PATH_OBJECTS}/{}", self.encoded)
    }

    /// The query parameters that identify the bucket: `provider` (always) and `namespace`
    /// (unless global), in that order.
    pub fn bucket_params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![(qparam::PROVIDER, self.bucket.provider.as_str().to_owned())];
        if !self.bucket.namespace.is_global() {
            params.push((qparam::NAMESPACE, self.bucket.namespace.to_string()));
        }
        params
    }

    /// An origin-form URI for this object with the bucket's parameters and then `extra`.
    pub fn uri(&self, extra: &[(&str, &str)]) -> http::Uri {
        let mut query = String::new();
        let bucket_params = self.bucket_params();
        let pairs = bucket_params.iter().map(|(k, v)| (*k, v.as_str())).chain(extra.iter().copied());
        for (key, value) in pairs {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(key);
            query.push('=');
            query.extend(utf8_percent_encode(value, UNRESERVED));
        }
        let text = format!("{}?{query}", self.path());
        // Every byte of `text` is either from an already-valid path or percent-encoded above.
        text.parse().unwrap_or_else(|_| http::Uri::from_static("/"))
    }
}

/// `application/x-www-form-urlencoded` pairs, decoded (`+` is a space).
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_form(k), decode_form(v))
    })
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn decode_form(s: &str) -> String {
    decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(uri: &str) -> Result<ObjectAddress, AddressError> {
        ObjectAddress::from_uri(&uri.parse().unwrap())
    }

    #[test]
    fn keeps_provider_and_namespace_drops_the_rest() {
        let a =
            addr("http://proxy:8080/v1/objects/bck/dir/obj?provider=s3&namespace=%40uuid%23ns&sig=secret&props=size")
                .unwrap();
        assert_eq!(a.path(), "/v1/objects/bck/dir/obj");
        assert_eq!(a.bucket().provider, Provider::Aws);
        assert!(a.bucket().is_remote());
        assert_eq!(a.uri(&[]).to_string(), "/v1/objects/bck/dir/obj?provider=aws&namespace=%40uuid%23ns");
        assert_eq!(
            a.uri(&[("presence", "2"), ("props", "size")]).to_string(),
            "/v1/objects/bck/dir/obj?provider=aws&namespace=%40uuid%23ns&presence=2&props=size"
        );
    }

    #[test]
    fn first_objects_segment_is_the_boundary() {
        let a = addr("/v1/objects/b/x/objects/y?provider=gcp").unwrap();
        assert_eq!(a.bucket().name, "b");
        assert_eq!(a.object(), "x/objects/y");
        assert_eq!(a.path(), "/v1/objects/b/x/objects/y");
    }

    #[test]
    fn encoding_is_preserved_and_round_trips() {
        let a = addr("/v1/objects/b/a%20b%3Fc?provider=aws").unwrap();
        assert_eq!(a.object(), "a b?c");
        assert_eq!(a.path(), "/v1/objects/b/a%20b%3Fc");
        let built = ObjectAddress::new(Bucket::new("b", Provider::Aws), "a b?c");
        assert_eq!(built, a);
    }

    #[test]
    fn a_slash_in_a_bucket_name_stays_in_the_bucket() {
        let a = ObjectAddress::new(Bucket::new("odd/bucket", Provider::Ais), "dir/o");
        assert_eq!(a.path(), "/v1/objects/odd%2Fbucket/dir/o");
        assert_eq!((a.object(), &a.object_bytes()[..]), ("dir/o".to_owned(), &b"dir/o"[..]));
        assert_eq!(ObjectAddress::from_uri(&a.uri(&[])), Ok(a));
    }

    #[test]
    fn object_bytes_are_decoded_and_not_lossy() {
        let a = addr("/v1/objects/b/a%20b/%FF%C3%BC").unwrap();
        assert_eq!(&a.object_bytes()[..], b"a b/\xff\xc3\xbc");
        assert_eq!(a.object(), "a b/\u{fffd}\u{fc}");
        let plain = addr("/v1/objects/b/plain/name").unwrap();
        assert!(matches!(plain.object_bytes(), Cow::Borrowed(b"plain/name")));
    }

    #[test]
    fn missing_provider_means_ais() {
        let a = addr("/v1/objects/b/o").unwrap();
        assert_eq!(a.bucket().provider, Provider::Ais);
        assert!(!a.bucket().is_remote());
    }

    #[test]
    fn non_object_urls_are_typed_errors() {
        assert!(matches!(addr("/v1/buckets/b"), Err(AddressError::NotAnObjectPath { .. })));
        assert!(matches!(addr("/v1/objects/b"), Err(AddressError::MissingObjectName { .. })));
        assert!(matches!(addr("/v1/objects/b/"), Err(AddressError::MissingObjectName { .. })));
        assert!(matches!(addr("/v1/objects/b/o?provider=ftp"), Err(AddressError::UnknownProvider(_))));
    }
}
