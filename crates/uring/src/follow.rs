//! Whole requests through their redirects: one [`Chain`] per request in flight, for both front
//! ends that send whole requests (`drive`, and the download's HEAD).
//!
//! The rules are [`stowage_proto::redirect`]'s, and the step on each response is the [`Chain`]'s
//! (the tokio driver takes the same one); this module only keeps the chains of a run and
//! starts each redirected request in the core, under the machine's id. A redirect to another
//! host and port goes there on a connection of its own (the core routes absolute URIs, and
//! keeps connections alive per address).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use stowage_proto::redirect::{Chain, RedirectPolicy, Step};
use stowage_proto::{Instant, RequestId, Transmit, TransportError};

use crate::UringDriver;

impl UringDriver {
    /// Follows redirects as `policy` says (default [`RedirectPolicy::default`]: at most
    /// [`DEFAULT_MAX_HOPS`](stowage_proto::redirect::DEFAULT_MAX_HOPS), credentials only to
    /// this driver's endpoint).
    pub fn with_redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirects = Arc::new(policy);
        self
    }
}

/// The whole requests of one run in flight, each through its redirects, by the machine's id.
pub(crate) struct Following {
    policy: Arc<RedirectPolicy>,
    chains: HashMap<RequestId, Chain<Arc<RedirectPolicy>>>,
}

impl Following {
    /// Requests of `driver`, following redirects as its policy says.
    pub(crate) fn new(driver: &UringDriver) -> Self {
        Following { policy: Arc::clone(&driver.redirects), chains: HashMap::new() }
    }

    /// Starts the machine's request; its response comes back as the core's `Event::Response`,
    /// for [`Following::answer`].
    pub(crate) fn start(&mut self, driver: &mut UringDriver, transmit: Transmit, now: Instant) -> io::Result<()> {
        let Transmit { id, request } = transmit;
        driver.start(id, &request, now)?;
        self.chains.insert(id, Chain::new(Arc::clone(&self.policy), request));
        Ok(())
    }

    /// What to feed the machine for the core's whole response (or failure) of request `id`:
    /// the response, a [`TransportError::Redirect`] for a redirect that cannot be followed, or
    /// `None` for a redirect followed (the next request is started under the same id, and the
    /// redirect's body dropped).
    pub(crate) fn answer(
        &mut self,
        driver: &mut UringDriver,
        id: RequestId,
        result: Result<http::Response<Bytes>, TransportError>,
        now: Instant,
    ) -> io::Result<Option<Result<http::Response<Bytes>, TransportError>>> {
        let Some(mut chain) = self.chains.remove(&id) else { return Ok(Some(result)) };
        let response = match result {
            Ok(response) => response,
            Err(error) => return Ok(Some(Err(error))),
        };
        match chain.answer(&response, |uri| driver.locate(uri)) {
            Ok(Step::Answer) => Ok(Some(Ok(response))),
            Ok(Step::Follow) => {
                driver.start(id, chain.request(), now)?;
                self.chains.insert(id, chain);
                Ok(None)
            }
            Err(error) => Ok(Some(Err(TransportError::Redirect(error)))),
        }
    }
}
