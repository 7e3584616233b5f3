//! Where requests go: the object's URL, or the node that serves it, learned from a redirect
//! (an AIStore proxy answers every object request with a 307 to the target that owns the
//! object) or given by the caller (from the cluster map: AIStore's `direct` reads).
//!
//! A range answered with a redirect is asked again where it points, at once (a redirect is no
//! failure), and every later range goes there directly: the redirect is paid once per
//! download, not once per range. When that node refuses the connection or no longer has the
//! object (404: the cluster moved it), it is forgotten and the failed range retried through the
//! object's URL, which redirects to the node that has it now. Redirects are followed by the
//! rules of [`stowage_proto::redirect`]: at most [`DEFAULT_MAX_HOPS`] in a row for one request,
//! never back to where it came from; one that cannot be followed ends the download.

use http::{StatusCode, Uri};
use stowage_proto::redirect::{self, DEFAULT_MAX_HOPS, RedirectError};
use stowage_proto::{RequestId, Transmit, TransportError};

use crate::machine::{Flight, Phase};
use crate::{DownloadError, Failure, Fetch, Output, RingSlot};

impl RingSlot {
    /// The URI a request goes to: the learned (or given) node's, or the object's.
    pub(crate) fn uri_of(&self, via_target: bool) -> &Uri {
        match (&self.target, via_target) {
            (Some(target), true) => target,
            _ => &self.uri,
        }
    }

    /// The URI `fetch` is to be sent to (as long as it is in flight: else the object's).
    pub fn uri_for(&self, fetch: &Fetch) -> &Uri {
        let via_target = self.flights.iter().any(|f| f.id == fetch.id && f.via_target);
        self.uri_of(via_target)
    }

    /// The node ranges go to, once learned (or as given).
    pub fn target(&self) -> Option<&Uri> {
        self.target.as_ref()
    }

    /// Whether a new request goes to the learned node.
    pub(crate) fn via_target(&self) -> bool {
        self.target.is_some() && self.learn_target
    }

    /// The answer to the flight at `position` is a redirect: learn where it points and ask
    /// there. `Err` when it cannot be followed.
    pub(crate) fn follow(&mut self, position: usize, response: &http::Response<()>) -> Result<(), DownloadError> {
        let flight = self.flights[position];
        let range = Some(flight.range);
        let error = |error| DownloadError::Redirect { range, error };
        let base = self.uri_of(flight.via_target);
        let next = redirect::location(base, response.headers()).map_err(error)?;
        if flight.hops >= DEFAULT_MAX_HOPS {
            return Err(error(RedirectError::TooManyHops));
        }
        if next == *base {
            return Err(error(RedirectError::Loop));
        }
        self.target = Some(next);
        self.summary.redirects += 1;
        // The redirect's own (small) body is not wanted; the range is asked again, there.
        self.outputs.push_back(Output::Cancel(flight.id));
        let id = self.ids.next_id();
        self.flights[position] = Flight { id, hops: flight.hops + 1, via_target: true, receiving: false, ..flight };
        self.summary.requests += 1;
        let fetch = Fetch { id, range: flight.range, slot: flight.slot, hedge: flight.hedge };
        self.outputs.push_back(Output::Fetch(fetch));
        Ok(())
    }

    /// Whether `result`, the answer to a request sent to the learned node, says that node is
    /// gone or no longer has the object: then it is forgotten (the retry goes through the
    /// object's URL), and the failure to count is returned.
    pub(crate) fn target_failed(
        &mut self,
        via_target: bool,
        result: &Result<http::Response<()>, TransportError>,
    ) -> Option<Failure> {
        if !via_target {
            return None;
        }
        let failure = match result {
            Err(error @ (TransportError::ConnectRefused | TransportError::ConnectTimeout)) => {
                Failure::Transport(*error)
            }
            Ok(response) if response.status() == StatusCode::NOT_FOUND => Failure::Status(404),
            _ => return None,
        };
        self.target = None;
        Some(failure)
    }

    /// The HEAD was answered with a redirect: ask where it points. `Err` when it cannot be
    /// followed.
    pub(crate) fn follow_head(&mut self, response: &http::Response<()>) -> Result<(), DownloadError> {
        let Phase::Head { attempts, hops, .. } = self.phase else { return Ok(()) };
        let error = |error| DownloadError::Redirect { range: None, error };
        let base = self.uri_of(true);
        let next = redirect::location(base, response.headers()).map_err(error)?;
        if hops >= DEFAULT_MAX_HOPS {
            return Err(error(RedirectError::TooManyHops));
        }
        if next == *base {
            return Err(error(RedirectError::Loop));
        }
        self.target = Some(next);
        self.summary.redirects += 1;
        let id: RequestId = self.ids.next_id();
        let head = self.head_request(id);
        self.outputs.push_back(Output::Head(head));
        self.phase = Phase::Head { id, attempts, hops: hops + 1 };
        Ok(())
    }

    /// The HEAD's request, to the learned node if there is one.
    pub(crate) fn head_request(&self, id: RequestId) -> Box<Transmit> {
        let mut request = http::Request::new(bytes::Bytes::new());
        *request.method_mut() = http::Method::HEAD;
        *request.uri_mut() = self.uri_of(true).clone();
        Box::new(Transmit { id, request })
    }
}
