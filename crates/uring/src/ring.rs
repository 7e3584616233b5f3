//! The io_uring instance, behind the one unsafe operation stowage performs on it.

use std::io;

use io_uring::{IoUring, squeue};

use crate::UringError;

/// An io_uring with its submission and completion queues, used by the thread that made it.
pub(crate) struct Ring {
    uring: IoUring,
}

impl Ring {
    /// A ring of `entries` submission entries, or why this machine cannot have one.
    pub(crate) fn new(entries: u32) -> Result<Self, UringError> {
        // Completions' task work deferred to our own waits (Linux 6.1+): they are processed in a
        // batch when the loop asks for events, instead of interrupting it one by one (about a
        // sixth less CPU per GiB downloaded here). It binds the ring to this thread. Kernels
        // without it refuse the flags: then a plain ring.
        let deferred = IoUring::builder().setup_single_issuer().setup_defer_taskrun().build(entries);
        deferred
            .or_else(|_| IoUring::new(entries))
            .map(|uring| Ring { uring })
            .map_err(|source| UringError::Unavailable { source })
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

    /// Registers an empty table of `count` fixed buffers (`IORING_RSRC_REGISTER_SPARSE`): each
    /// is filled in by [`Ring::register_buffer`] when first needed.
    pub(crate) fn register_sparse_buffers(&self, count: u32) -> io::Result<()> {
        self.uring.submitter().register_buffers_sparse(count)
    }

    /// Makes `buffer` the ring's fixed buffer `index` (of a table made by
    /// [`Ring::register_sparse_buffers`]): fixed reads and writes name it by index, and the
    /// kernel pins its pages once, here, instead of per operation.
    ///
    /// # Safety
    ///
    /// The memory `buffer` describes must stay allocated, and not be moved, until
    /// [`Ring::unregister_buffers`] succeeds or the ring is dropped.
    pub(crate) unsafe fn register_buffer(&self, index: u32, buffer: libc::iovec) -> io::Result<()> {
        // SAFETY: the caller keeps the memory alive and in place while it is registered.
        unsafe { self.uring.submitter().register_buffers_update(index, &[buffer], None) }.map(drop)
    }

    /// Unregisters the fixed buffers; after success their memory may be freed.
    pub(crate) fn unregister_buffers(&self) -> io::Result<()> {
        self.uring.submitter().unregister_buffers()
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
    fn registered_buffers_are_filled_in_place_by_fixed_reads() {
        let ring = Ring::new(8).unwrap();
        let mut memory = vec![0u8; 4096];
        let iovec = libc::iovec { iov_base: memory.as_mut_ptr().cast(), iov_len: memory.len() };
        ring.register_sparse_buffers(2).unwrap();
        // SAFETY: `memory` outlives the registration (unregistered below, before it is dropped).
        unsafe { ring.register_buffer(1, iovec) }.unwrap();
        let mut ring = ring;
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut theirs, b"in place").unwrap();
        let fd = io_uring::types::Fd(std::os::fd::AsRawFd::as_raw_fd(&ours));
        let read = opcode::ReadFixed::new(fd, memory[100..].as_mut_ptr(), 8, 1).build().user_data(1);
        // SAFETY: the read points into registered `memory`, alive until the completion below.
        unsafe { ring.push(&read) }.unwrap();
        ring.submit_and_wait().unwrap();
        let mut done = Vec::new();
        ring.reap(&mut done);
        assert_eq!(done, [(1, 8)]);
        ring.unregister_buffers().unwrap();
        assert_eq!(&memory[100..108], b"in place");
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
