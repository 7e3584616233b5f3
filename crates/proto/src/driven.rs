//! What a driver's loop hands back: the machine's result, the one response body it kept, or why
//! it stopped early. Every driver (tokio, io_uring) returns these, so callers of either read the
//! same types.

use bytes::Bytes;
use http::Response;

use crate::{InputError, RequestId};

/// Why a driver stopped before the machine finished: a bug in the machine (or the driver),
/// never the server's doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// The machine refused a completion.
    #[error("the machine refused a completion: {0}")]
    Input(#[from] InputError),
    /// The machine is not finished, yet has nothing to send, nothing in flight and no wake-up
    /// time: it would wait forever.
    #[error("the machine stalled: not finished, yet nothing to send, nothing in flight and no timer")]
    Stalled,
    /// The machine's outcome names the response to this request, which the driver did not
    /// keep (see [`Responses`]).
    #[error("the outcome names the response to {0}, which the driver did not keep")]
    NoResponse(RequestId),
}

/// What a driver's loop returns: the machine's result and the response it may name.
#[derive(Debug)]
pub struct Driven<T> {
    /// What the machine finished with.
    pub outcome: T,
    /// The response the driver still holds.
    pub responses: Responses,
}

/// The response a driver kept when the machine finished.
///
/// Machines see response heads only; the driver keeps the bodies. It keeps the response of
/// the **latest completion** and drops the one before as soon as a newer one arrives, so at
/// most one body is held between completions however many requests a machine makes. That is
/// the response an outcome names when the machine finishes on it — as
/// `stowage_lockpoll::ColdGet` does on the first attempt that gets a response: its
/// result body is kept, and no other GET body is ever buffered (failed attempts have none).
#[derive(Debug, Default)]
pub struct Responses {
    latest: Option<(RequestId, Response<Bytes>)>,
}

impl Responses {
    /// The response to request `id`, if it is the one kept.
    pub fn get(&self, id: RequestId) -> Option<&Response<Bytes>> {
        self.latest.as_ref().filter(|(kept, _)| *kept == id).map(|(_, response)| response)
    }

    /// Takes the response to request `id`, if it is the one kept.
    pub fn take(&mut self, id: RequestId) -> Option<Response<Bytes>> {
        self.latest.take_if(|(kept, _)| *kept == id).map(|(_, response)| response)
    }

    /// Keeps `response` as the response to `id`, dropping the one kept before.
    pub fn keep(&mut self, id: RequestId, response: Response<Bytes>) {
        self.latest = Some((id, response));
    }
}
