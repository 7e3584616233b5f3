//! The one shape every stowage machine has.

use crate::{Instant, Transmit};

/// A sans-IO state machine.
///
/// A driver runs any machine with the same loop:
///
/// 1. drain [`poll_output`](Machine::poll_output) and act on each output,
/// 2. wait for whichever comes first: an event to [`handle_input`](Machine::handle_input), or
///    the instant [`poll_timeout`](Machine::poll_timeout) named, then
///    [`handle_timeout`](Machine::handle_timeout),
/// 3. repeat until the machine says it is done.
///
/// Contract for implementors: no IO, no clock, no threads, no randomness of their own; `now`
/// may go backwards (a machine treats it as the latest `now` it saw); an input that does not fit
/// the machine's state is an `Err`, never a panic.
pub trait Machine {
    /// What the driver feeds in.
    type Input;
    /// What the machine asks for.
    type Output;
    /// Why an input was refused (it did not fit the machine's state).
    type Error;

    /// Feeds an event.
    fn handle_input(&mut self, now: Instant, input: Self::Input) -> Result<(), Self::Error>;
    /// The next thing to do, if any.
    fn poll_output(&mut self, now: Instant) -> Option<Self::Output>;
    /// When the machine next wants [`handle_timeout`](Machine::handle_timeout), if ever.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Wakes the machine; harmless when called early.
    fn handle_timeout(&mut self, now: Instant);
}

/// The outputs of a machine that only sends HTTP requests and then finishes with a result.
#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "an output is moved straight out of `poll_output`; boxing would allocate per request"
)]
pub enum Output<T> {
    /// Send this request and feed its [`Completion`](crate::Completion) back.
    Transmit(Transmit),
    /// The machine is finished; it emits nothing after this.
    Done(T),
}
