//! Resolving a `Location` against the URI it answers: RFC 3986 §5.2, strict.

use http::Uri;

use super::RedirectError;

/// A URI reference split into its five parts (RFC 3986 appendix B); parts that are absent are
/// `None`, which differs from present and empty.
struct Reference<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// `^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?`; the fragment is dropped (a
    /// request carries none).
    fn split(reference: &'a str) -> Result<Self, RedirectError> {
        let rest = reference.split_once('#').map_or(reference, |(before, _)| before);
        let (scheme, rest) = match rest.find([':', '/', '?']) {
            Some(colon) if rest[colon..].starts_with(':') => (Some(&rest[..colon]), &rest[colon + 1..]),
            _ => (None, rest),
        };
        if scheme.is_some_and(|scheme| !is_scheme(scheme)) {
            return Err(RedirectError::InvalidLocation);
        }
        let (authority, rest) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find(['/', '?']).unwrap_or(after.len());
                (Some(&after[..end]), &after[end..])
            }
            None => (None, rest),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Ok(Reference { scheme, authority, path, query })
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The absolute URI that `location` names, read relative to `base` (an absolute URI).
///
/// Errors: [`RedirectError::UnsupportedScheme`] when the result is not `http` or `https`,
/// [`RedirectError::InvalidLocation`] when `location` is not a URI reference (bytes a URI may
/// not hold: spaces, controls, non-ASCII) or resolves to no valid request URI (no host).
pub(super) fn resolve(base: &Uri, location: &str) -> Result<Uri, RedirectError> {
    let base_scheme = base.scheme_str().ok_or(RedirectError::NotAbsolute)?;
    let base_authority = base.authority().map(|a| a.as_str()).ok_or(RedirectError::NotAbsolute)?;
    // A URI is visible ASCII; `http::Uri` would let raw UTF-8 through into the path.
    if !location.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RedirectError::InvalidLocation);
    }
    let r = Reference::split(location)?;
    let (scheme, authority, path, query) = match (r.scheme, r.authority) {
        (Some(scheme), authority) => (scheme, authority.unwrap_or(""), remove_dot_segments(r.path), r.query),
        (None, Some(authority)) => (base_scheme, authority, remove_dot_segments(r.path), r.query),
        (None, None) if r.path.is_empty() => {
            (base_scheme, base_authority, base.path().to_owned(), r.query.or(base.query()))
        }
        (None, None) if r.path.starts_with('/') => (base_scheme, base_authority, remove_dot_segments(r.path), r.query),
        (None, None) => (base_scheme, base_authority, remove_dot_segments(&merge(base.path(), r.path)), r.query),
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(RedirectError::UnsupportedScheme);
    }
    if authority.is_empty() {
        return Err(RedirectError::InvalidLocation);
    }
    // A request's path is never empty: `http://host` asks for `/`.
    let path = if path.is_empty() { "/" } else { path.as_str() };
    let mut uri = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        uri.push('?');
        uri.push_str(query);
    }
    let uri: Uri = uri.parse().map_err(|_| RedirectError::InvalidLocation)?;
    // `http::Uri` takes some strings its parts do not account for (an authority with a path
    // hidden in it, say): what it parsed must be what we built.
    if uri.authority().map(|a| a.as_str()) != Some(authority) || uri.host().is_none_or(str::is_empty) {
        return Err(RedirectError::InvalidLocation);
    }
    Ok(uri)
}

/// RFC 3986 §5.2.3: the reference's path appended to the base's directory. `base` is a request
/// path, so it is never empty and starts with `/`.
fn merge(base: &str, reference: &str) -> String {
    let directory = base.rfind('/').map_or("/", |slash| &base[..=slash]);
    format!("{directory}{reference}")
}

/// RFC 3986 §5.2.4: `.` and `..` segments interpreted and removed.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output = String::with_capacity(path.len());
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../").or_else(|| input.strip_prefix("./")) {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            pop_segment(&mut output);
        } else if input == "/.." {
            input = "/";
            pop_segment(&mut output);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let from = usize::from(input.starts_with('/'));
            let end = input[from..].find('/').map_or(input.len(), |slash| slash + from);
            output.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    output
}

/// Removes the last segment of `output` and its preceding `/`, if any.
fn pop_segment(output: &mut String) {
    let cut = output.rfind('/').unwrap_or(0);
    output.truncate(cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3986 §5.4.1 and §5.4.2, against its base `http://a/b/c/d;p?q` (fragments dropped).
    #[test]
    fn rfc_3986_examples() {
        let base: Uri = "http://a/b/c/d;p?q".parse().unwrap();
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            ("g?y#s", "http://a/b/c/g?y"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g"),
            ("g#s/../x", "http://a/b/c/g"),
            ("http:g", "http://a/b/c/g"),
        ];
        for (reference, expected) in cases {
            let resolved = resolve(&base, reference).map(|uri| uri.to_string());
            if reference == "http:g" {
                // Strict: a scheme makes the reference absolute; `http:g` has no host.
                assert_eq!(resolved, Err(RedirectError::InvalidLocation));
                continue;
            }
            assert_eq!(resolved.as_deref(), Ok(expected), "{reference:?}");
        }
    }

    #[test]
    fn absolute_locations_replace_everything() {
        let base: Uri = "https://proxy:8080/v1/objects/b/o?provider=ais".parse().unwrap();
        let resolved = resolve(&base, "http://10.0.0.2:8081/v1/objects/b/o?provider=ais&pid=p1").unwrap();
        assert_eq!(resolved.to_string(), "http://10.0.0.2:8081/v1/objects/b/o?provider=ais&pid=p1");
        assert_eq!(resolve(&base, "HTTPS://Target").unwrap().to_string(), "https://Target/");
        assert_eq!(resolve(&base, "//t:1/x").unwrap().to_string(), "https://t:1/x");
    }

    #[test]
    fn what_is_not_a_request_uri_is_refused() {
        let base: Uri = "http://a/b".parse().unwrap();
        for scheme in ["ftp://x/y", "mailto:someone@example.com", "file:///etc/passwd", "data:,x"] {
            assert_eq!(resolve(&base, scheme), Err(RedirectError::UnsupportedScheme), "{scheme}");
        }
        for bad in
            ["http:///nohost", "http://", "1http://x/", "://x", "http://a b/", "/with space", "/ü", "http://[::1/"]
        {
            assert_eq!(resolve(&base, bad), Err(RedirectError::InvalidLocation), "{bad}");
        }
        let origin_form: Uri = "/v1/objects/b/o".parse().unwrap();
        assert_eq!(resolve(&origin_form, "/x"), Err(RedirectError::NotAbsolute));
    }
}
