//! The loop that runs any HTTP machine (`Transmit`s out, `Completion`s in) over the driver.

use stowage_proto::{Completion, CompletionBody, DriveError, Driven, InputError, Instant, Machine, Output, Responses};

use crate::driver::Event;
use crate::follow::Following;
use crate::{RunError, UringDriver};

impl UringDriver {
    /// Runs `machine` to completion, on this thread.
    ///
    /// The loop of [`Machine`]: drain `poll_output`, starting every
    /// [`Transmit`](stowage_proto::Transmit) at once; then wait in the ring for whichever comes
    /// first — an operation completing, or the timeout armed for the machine's `poll_timeout`
    /// (or a request's connect/read deadline); feed finished requests back, wake the machine
    /// when its time has come; repeat until [`Output::Done`]. Requests still in flight then are
    /// cancelled.
    ///
    /// Each [`Transmit`](stowage_proto::Transmit) is one logical request through its redirects,
    /// as [`stowage_proto::redirect::Chain`] decides (the tokio driver takes the same step) with
    /// this driver's policy ([`UringDriver::with_redirects`]); a redirect to another host and
    /// port opens a connection there. The machine is fed, and [`Responses`] keeps, the last
    /// response only; a redirect that cannot be followed is fed as
    /// [`TransportError::Redirect`](stowage_proto::TransportError::Redirect).
    ///
    /// Time: a machine [`Instant`] is the monotonic time elapsed since this call began.
    pub fn drive<M, B, T>(&mut self, mut machine: M) -> Result<Driven<T>, RunError>
    where
        M: Machine<Input = Completion<B>, Output = Output<T>, Error = InputError>,
        B: CompletionBody,
    {
        let start = std::time::Instant::now();
        let now = || Instant::from_elapsed(start.elapsed());
        let result = self.run(&mut machine, &now);
        self.quiesce();
        result
    }

    fn run<M, B, T>(&mut self, machine: &mut M, now: &impl Fn() -> Instant) -> Result<Driven<T>, RunError>
    where
        M: Machine<Input = Completion<B>, Output = Output<T>, Error = InputError>,
        B: CompletionBody,
    {
        let mut responses = Responses::default();
        let mut following = Following::new(self);
        loop {
            while let Some(output) = machine.poll_output(now()) {
                match output {
                    Output::Transmit(transmit) => following.start(self, transmit, now())?,
                    Output::Done(outcome) => return Ok(Driven { outcome, responses }),
                }
            }
            if let Some(event) = self.next_event() {
                // Only whole responses come of `start`.
                let Event::Response(id, result) = event else { continue };
                let Some(result) = following.answer(self, id, result, now())? else { continue };
                let fed = result.map(|response| {
                    let fed = B::from_response(&response);
                    responses.keep(id, response);
                    fed
                });
                machine.handle_input(now(), Completion { id, result: fed }).map_err(DriveError::from)?;
                continue;
            }
            let wake = machine.poll_timeout();
            if wake.is_none() && !self.busy() {
                return Err(DriveError::Stalled.into());
            }
            self.wait(wake, now)?;
            let now = now();
            if wake.is_some_and(|wake| wake <= now) {
                machine.handle_timeout(now);
            }
        }
    }
}
