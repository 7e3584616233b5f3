//! The slots of ranged downloads: one buffer per slot, registered with the ring as it is first
//! used.

use std::io;

use stowage_ringslot::Slot;

use crate::ring::Ring;

/// The most buffers a ring may register (`IORING_MAX_REG_BUFFERS`), and so the most slots.
const MAX_REGISTERED: usize = 1 << 14;
/// The largest buffer a ring may register.
const MAX_REGISTERED_SIZE: u64 = 1 << 30;

/// Slot memory: `slots.len()` buffers of `size` bytes. Where the kernel allows, the ring has a
/// table of as many fixed buffers and slot `i` becomes fixed buffer `i` when it is first used
/// ([`Buffers::register`]): pinning a buffer faults in and zeroes its pages, so pinning them all
/// before the first byte would delay every download by the whole ring's worth (≈ 0.1 s for
/// 256 MiB); one by one, the cost is spread over the first use of each slot. Elsewhere (no
/// table, or a slot the kernel would not pin) a slot is plain memory.
///
/// Invariants: a buffer is never freed, moved or reallocated while an operation may point
/// into it — [`Buffers::ensure`] runs only with nothing in flight, and the driver quiesces
/// before it drops them; while registered, the memory outlives the registration.
#[derive(Default)]
pub(crate) struct Buffers {
    slots: Vec<Box<[u8]>>,
    size: u64,
    /// The ring has a table of `slots.len()` fixed buffers.
    table: bool,
    /// Which slots are in it (empty without a table).
    registered: Vec<bool>,
}

impl Buffers {
    /// At least `count` buffers of `size` bytes: the ones there are if they are enough, else
    /// new ones (zeroed lazily by the allocator), registered if the kernel lets us (it may
    /// refuse, e.g. over `RLIMIT_MEMLOCK`: then reads and writes go to the same memory
    /// unregistered). Memory that cannot be had is an error, never an abort.
    pub(crate) fn ensure(&mut self, ring: &Ring, count: u32, size: u64) -> io::Result<()> {
        let count = count as usize;
        if self.slots.len() >= count && self.size >= size {
            return Ok(());
        }
        if self.table {
            ring.unregister_buffers()?;
            self.table = false;
        }
        self.slots.clear();
        self.registered.clear();
        self.size = 0;
        let len = usize::try_from(size).map_err(|_| too_large(count, size))?;
        let mut slots = Vec::new();
        slots.try_reserve_exact(count).map_err(|_| too_large(count, size))?;
        // Refuse (rather than abort on) memory that cannot be had, asking once for all of it;
        // then take lazily zeroed memory per slot (`calloc` of fresh pages: no memset).
        let total = len.checked_mul(count).ok_or_else(|| too_large(count, size))?;
        Vec::<u8>::new().try_reserve_exact(total).map_err(|_| too_large(count, size))?;
        slots.extend((0..count).map(|_| vec![0u8; len].into_boxed_slice()));
        self.slots = slots;
        self.size = size;
        if count <= MAX_REGISTERED && size <= MAX_REGISTERED_SIZE && size > 0 {
            self.table = ring.register_sparse_buffers(count as u32).is_ok();
            self.registered = vec![false; if self.table { count } else { 0 }];
        }
        Ok(())
    }

    /// Makes `slot` a fixed buffer of the ring if it is not one yet and the ring has a table
    /// (the kernel may still refuse, e.g. over `RLIMIT_MEMLOCK`: it stays plain memory).
    pub(crate) fn register(&mut self, ring: &Ring, slot: Slot) {
        let index = slot.0 as usize;
        let (Some(false), Some(buffer)) = (self.registered.get(index).copied(), self.slots.get_mut(index)) else {
            return;
        };
        let iovec = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: buffer.len() };
        // SAFETY: the buffer stays allocated and in place until the table is unregistered
        // (`ensure`, before the buffers are replaced) or the ring is dropped (declared before the
        // buffers in the driver, so dropped first).
        self.registered[index] = unsafe { ring.register_buffer(slot.0, iovec) }.is_ok();
    }

    /// Whether the ring has a table of fixed buffers for the slots.
    pub(crate) fn registered(&self) -> bool {
        self.table
    }

    /// The fixed-buffer index of `slot`, when it is registered.
    pub(crate) fn registered_index(&self, slot: Slot) -> Option<u16> {
        let registered = self.registered.get(slot.0 as usize).copied().unwrap_or(false);
        registered.then(|| u16::try_from(slot.0).ok()).flatten()
    }

    /// Where byte `offset` of `slot` is, for the kernel to read from.
    pub(crate) fn pointer(&self, slot: Slot, offset: usize) -> Option<*const u8> {
        self.slots.get(slot.0 as usize).filter(|b| offset <= b.len()).map(|b| b[offset..].as_ptr())
    }

    /// Where byte `offset` of `slot` is, for the kernel to write to.
    pub(crate) fn pointer_mut(&mut self, slot: Slot, offset: u64) -> Option<*mut u8> {
        let offset = usize::try_from(offset).ok()?;
        self.slots.get_mut(slot.0 as usize).filter(|b| offset <= b.len()).map(|b| b[offset..].as_mut_ptr())
    }

    /// Copies `bytes` to the front of `slot` (no operation may be writing it); `false` if they
    /// do not fit.
    pub(crate) fn fill(&mut self, slot: Slot, bytes: &[u8]) -> bool {
        match self.slots.get_mut(slot.0 as usize).and_then(|b| b.get_mut(..bytes.len())) {
            Some(front) => {
                front.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    /// The `len` bytes of `slot` from `offset`, to copy into (no operation may be writing
    /// them); `None` if they are not all in the slot.
    pub(crate) fn region_mut(&mut self, slot: Slot, offset: u64, len: usize) -> Option<&mut [u8]> {
        let start = usize::try_from(offset).ok()?;
        self.slots.get_mut(slot.0 as usize)?.get_mut(start..start.checked_add(len)?)
    }

    /// The first `len` bytes of `slot` (no operation may be writing it).
    pub(crate) fn bytes(&self, slot: Slot, len: u64) -> Option<&[u8]> {
        self.slots.get(slot.0 as usize)?.get(..usize::try_from(len).ok()?)
    }
}

fn too_large(count: usize, size: u64) -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, format!("cannot allocate {count} slots of {size} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_when_big_enough_and_registered() {
        let ring = Ring::new(8).unwrap();
        let mut buffers = Buffers::default();
        buffers.ensure(&ring, 4, 1 << 16).unwrap();
        assert!(buffers.registered(), "no table of fixed buffers");
        assert_eq!(buffers.registered_index(Slot(3)), None, "registered before its first use");
        buffers.register(&ring, Slot(3));
        // Where the memlock limit is too small the kernel refuses, and plain memory is right.
        assert!(buffers.registered_index(Slot(3)) == Some(3) || !memlock_allows(1 << 16));
        assert_eq!(buffers.registered_index(Slot(2)), None);
        let first = buffers.pointer(Slot(3), 0).unwrap();
        buffers.ensure(&ring, 2, 1 << 10).unwrap();
        assert_eq!(buffers.pointer(Slot(3), 0), Some(first));
        buffers.ensure(&ring, 8, 1 << 16).unwrap();
        assert!(buffers.pointer(Slot(7), 1 << 16).is_some());
        assert!(buffers.pointer(Slot(8), 0).is_none());
        assert!(buffers.pointer(Slot(0), (1 << 16) + 1).is_none());
    }

    /// Whether `RLIMIT_MEMLOCK` lets this process pin `bytes` (root may pin more, whatever it says).
    fn memlock_allows(bytes: u64) -> bool {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let soft =
            limits.lines().find(|l| l.starts_with("Max locked memory")).and_then(|l| l.split_whitespace().nth(3));
        soft.is_some_and(|soft| soft == "unlimited" || soft.parse::<u64>().is_ok_and(|n| n >= bytes))
    }

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        let ring = Ring::new(8).unwrap();
        let mut buffers = Buffers::default();
        let error = buffers.ensure(&ring, 16, u64::MAX / 4).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::OutOfMemory);
        assert!(buffers.pointer(Slot(0), 0).is_none());
    }

    #[test]
    fn fill_and_bytes_stay_inside_the_slot() {
        let ring = Ring::new(8).unwrap();
        let mut buffers = Buffers::default();
        buffers.ensure(&ring, 1, 8).unwrap();
        assert!(buffers.fill(Slot(0), b"abc"));
        assert!(!buffers.fill(Slot(0), b"123456789"));
        assert!(!buffers.fill(Slot(1), b"a"));
        assert_eq!(buffers.bytes(Slot(0), 3), Some(&b"abc"[..]));
        assert_eq!(buffers.bytes(Slot(0), 9), None);
    }
}
