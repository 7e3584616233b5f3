//! The io_uring instance, behind the one unsafe operation stowage performs on it.

use std::io;

use io_uring::{IoUring, squeue};

use crate::UringError;

/// An io_uring with its submission and completion queues.
pub(crate) struct Ring {
    uring: IoUring,
}

impl Ring {
    /// A ring of `entries` submission entries, or why this machine cannot have one.
    pub(crate) fn new(entries: u32) -> Result<Self, UringError> {
        IoUring::new(entries).map(|uring| Ring { uring }).map_err(|source| UringError::Unavailable { source })
    }

    /// Queues `entry`, submitting what is queued first if the queue is full.
    ///
    /// # Safety
    ///
    /// Every buffer, socket address and timespec `entry` points to must stay valid — not
    /// freed, not moved, not otherwise borrowed mutably — until the completion carrying
    /// `entry`'s user data has been reaped by [`Ring::reap`].
    pub(crate) unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the caller keeps what `entry` points to alive until its completion.
            if unsafe { self.uring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.uring.submit()?;
        }
    }

    /// Submits what is queued and waits for at least one completion.
    pub(crate) fn submit_and_wait(&mut self) -> io::Result<()> {
        match self.uring.submit_and_wait(1) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Takes every completion that has arrived, as `(user_data, result)`.
    pub(crate) fn reap(&mut self, into: &mut Vec<(u64, i32)>) {
        into.extend(self.uring.completion().map(|cqe| (cqe.user_data(), cqe.result())));
    }
}

#[cfg(test)]
mod tests {
    use io_uring::opcode;

    use super::*;

    #[test]
    fn a_nop_round_trips() {
        let mut ring = Ring::new(8).unwrap();
        // SAFETY: a Nop points to nothing.
        unsafe { ring.push(&opcode::Nop::new().build().user_data(7)) }.unwrap();
        ring.submit_and_wait().unwrap();
        let mut done = Vec::new();
        ring.reap(&mut done);
        assert_eq!(done, [(7, 0)]);
    }

    #[test]
    fn a_full_queue_is_submitted_rather_than_refused() {
        let mut ring = Ring::new(2).unwrap();
        for i in 0..5 {
            // SAFETY: a Nop points to nothing.
            unsafe { ring.push(&opcode::Nop::new().build().user_data(i)) }.unwrap();
        }
        let mut done = Vec::new();
        while done.len() < 5 {
            ring.submit_and_wait().unwrap();
            ring.reap(&mut done);
        }
        let mut ids: Vec<u64> = done.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1, 2, 3, 4]);
    }
}
