//! One logical request through its redirects: the step both drivers take on every response.

use std::borrow::Borrow;

use http::{Request, Response, Uri};

use super::{RedirectError, RedirectPolicy, Redirects, is_redirect};

/// What to do with a response a [`Chain`] was handed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The response is the answer: hand it to the machine.
    Answer,
    /// The response was a redirect, followed: drop it (body and all) and send
    /// [`Chain::request`], the redirected request.
    Follow,
}

/// One logical request on its way through redirects: the request to send now, and the
/// [`Redirects`] made so far.
///
/// A driver makes one for every `Transmit` (the machine's request), sends
/// [`request`](Chain::request), and hands each response head to [`answer`](Chain::answer)
/// until it says [`Step::Answer`] or fails; a failure is fed to the machine as
/// `TransportError::Redirect`. So one chain is one `Completion`, whatever the hops: the
/// response the machine sees is the last one.
///
/// A machine's request may be origin-form (`/v1/objects/b/o?provider=ais`): the driver knows the
/// endpoint it goes to. A `Location` is resolved against the URL really requested, so before
/// following a redirect the chain asks the driver (`locate`) for the absolute URI of an
/// origin-form request; a driver that cannot say makes such a redirect a
/// [`RedirectError::NotAbsolute`]. The first request is sent as the machine made it.
///
/// Invariants: those of [`Redirects`] (at most `max_hops` redirects, no URL twice with one
/// method, credentials only to the first origin or a trusted one); every request after the
/// first has an absolute URI; a non-redirect answer leaves the chain as it was.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response, StatusCode, Uri, header};
/// use stowage_proto::redirect::{Chain, RedirectPolicy, Step};
///
/// let policy = RedirectPolicy::default();
/// let request = Request::get("/v1/objects/bck/obj?provider=ais").body(Bytes::new())?;
/// let mut chain = Chain::new(&policy, request);
/// // Where the driver sends origin-form requests.
/// let locate = |uri: &Uri| format!("http://proxy:8080{uri}").parse().ok();
///
/// let redirect = Response::builder()
///     .status(StatusCode::TEMPORARY_REDIRECT)
///     .header(header::LOCATION, "http://target-2:8081/v1/objects/bck/obj?provider=ais&pid=p1")
///     .body(())?;
/// assert_eq!(chain.answer(&redirect, locate)?, Step::Follow);
/// assert_eq!(chain.request().uri().host(), Some("target-2"));
///
/// let ok = Response::builder().status(StatusCode::OK).body(())?;
/// assert_eq!(chain.answer(&ok, locate)?, Step::Answer);
/// assert_eq!(chain.hops(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Chain<P = RedirectPolicy, B = bytes::Bytes> {
    redirects: Redirects<P>,
    request: Request<B>,
}

impl<P: Borrow<RedirectPolicy>, B: Clone + Default> Chain<P, B> {
    /// The chain of `request`, not sent yet, following redirects as `policy` says.
    pub fn new(policy: P, request: Request<B>) -> Self {
        Chain { redirects: Redirects::new(policy), request }
    }

    /// The request to send: the machine's, then each redirected one.
    pub fn request(&self) -> &Request<B> {
        &self.request
    }

    /// The request to send, by value (the chain is over).
    pub fn into_request(self) -> Request<B> {
        self.request
    }

    /// How many redirects were followed.
    pub fn hops(&self) -> u32 {
        self.redirects.hops()
    }

    /// Decides on `response`, the answer to [`request`](Chain::request): [`Step::Answer`],
    /// [`Step::Follow`] (the request is now the redirected one), or why the redirect cannot be
    /// followed.
    ///
    /// `locate` gives the absolute URI of an origin-form request (the driver's endpoint joined
    /// to it); it is called only for a redirect of such a request.
    pub fn answer<R>(
        &mut self,
        response: &Response<R>,
        locate: impl FnOnce(&Uri) -> Option<Uri>,
    ) -> Result<Step, RedirectError> {
        if !is_redirect(response.status()) {
            return Ok(Step::Answer);
        }
        if self.request.uri().scheme().is_none()
            && let Some(absolute) = locate(self.request.uri())
        {
            *self.request.uri_mut() = absolute;
        }
        match self.redirects.follow(&self.request, response)? {
            Some(next) => {
                self.request = next;
                Ok(Step::Follow)
            }
            None => Ok(Step::Answer),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderValue, Method, StatusCode, header};

    use super::*;

    fn locate(uri: &Uri) -> Option<Uri> {
        format!("http://proxy:8080{uri}").parse().ok()
    }

    fn answer(status: u16, location: Option<&str>) -> Response<()> {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        if let Some(location) = location {
            response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
        }
        response
    }

    fn put(uri: &str) -> Request<Bytes> {
        let mut request = Request::new(Bytes::from_static(b"payload"));
        *request.method_mut() = Method::PUT;
        *request.uri_mut() = uri.parse().unwrap();
        request.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        request
    }

    #[test]
    fn an_answer_leaves_the_request_as_the_machine_made_it() {
        let policy = RedirectPolicy::default();
        for status in [200, 206, 304, 404, 423, 503] {
            let mut chain = Chain::new(&policy, put("/v1/objects/b/o"));
            let located = std::cell::Cell::new(false);
            let step = chain.answer(&answer(status, Some("http://t:1/x")), |uri| {
                located.set(true);
                locate(uri)
            });
            assert_eq!(step, Ok(Step::Answer), "{status}");
            assert!(!located.get(), "no redirect, no resolving");
            assert_eq!(chain.request().uri(), "/v1/objects/b/o");
            assert_eq!(chain.hops(), 0);
        }
    }

    #[test]
    fn an_origin_form_request_is_located_before_its_location_is_resolved() {
        let policy = RedirectPolicy::default();
        let mut chain = Chain::new(&policy, put("/v1/objects/b/dir/o?provider=ais"));
        assert_eq!(chain.answer(&answer(307, Some("other?x=1")), locate), Ok(Step::Follow));
        let next = chain.request();
        assert_eq!(next.uri(), "http://proxy:8080/v1/objects/b/dir/other?x=1");
        assert_eq!((next.method(), next.body().as_ref()), (&Method::PUT, &b"payload"[..]));
        assert!(next.headers().contains_key(header::AUTHORIZATION), "same origin keeps credentials");

        assert_eq!(chain.answer(&answer(307, Some("http://t1:8081/v1/objects/b/o")), locate), Ok(Step::Follow));
        assert!(!chain.request().headers().contains_key(header::AUTHORIZATION), "another origin does not");
        assert_eq!(chain.answer(&answer(200, None), locate), Ok(Step::Answer));
        assert_eq!(chain.hops(), 2);
        assert_eq!(chain.into_request().uri(), "http://t1:8081/v1/objects/b/o");
    }

    #[test]
    fn a_driver_that_cannot_locate_makes_a_relative_redirect_an_error() {
        let policy = RedirectPolicy::default();
        let mut chain = Chain::new(&policy, put("/v1/objects/b/o"));
        assert_eq!(chain.answer(&answer(307, Some("http://t:1/x")), |_| None), Err(RedirectError::NotAbsolute));
        let mut chain = Chain::new(&policy, put("http://proxy:8080/v1/objects/b/o"));
        let step = chain.answer(&answer(307, Some("/elsewhere")), |_| unreachable!("already absolute"));
        assert_eq!(step, Ok(Step::Follow));
        assert_eq!(chain.request().uri(), "http://proxy:8080/elsewhere");
    }

    #[test]
    fn errors_are_the_rules_errors() {
        let policy = RedirectPolicy { max_hops: 1, ..RedirectPolicy::default() };
        let mut chain = Chain::new(&policy, put("/a"));
        assert_eq!(chain.answer(&answer(302, None), locate), Err(RedirectError::MissingLocation));
        assert_eq!(chain.answer(&answer(308, Some("ftp://x/")), locate), Err(RedirectError::UnsupportedScheme));
        assert_eq!(chain.answer(&answer(307, Some("/a")), locate), Err(RedirectError::Loop));
        assert_eq!(chain.answer(&answer(307, Some("/b")), locate), Ok(Step::Follow));
        assert_eq!(chain.answer(&answer(307, Some("/c")), locate), Err(RedirectError::TooManyHops));
    }
}
