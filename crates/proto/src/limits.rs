//! How long a transport waits on the network, and how much it reads: the limits every driver
//! applies the same way.

use std::time::Duration;

/// The default cap on a response body: 1 GiB.
pub const DEFAULT_MAX_BODY: usize = 1 << 30;
/// The default connect timeout: 3 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The default read timeout: 20 s.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a transport waits on the network.
///
/// The default is 3 s to connect and 20 s to read (the AIStore SDK's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest wait for a TCP connection to be established.
    pub connect: Duration,
    /// The longest wait, once connected, for the response head, and then for each chunk of
    /// the body. It bounds the silence between two arrivals, not the whole transfer.
    pub read: Duration,
}

impl Default for Timeouts {
    /// [`DEFAULT_CONNECT_TIMEOUT`] and [`DEFAULT_READ_TIMEOUT`].
    fn default() -> Self {
        Timeouts { connect: DEFAULT_CONNECT_TIMEOUT, read: DEFAULT_READ_TIMEOUT }
    }
}
