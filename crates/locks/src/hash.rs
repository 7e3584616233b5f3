//! A fast deterministic hasher for the machine's integer keys (lock keys, owners).
//!
//! The hash maps of [`Locks`](crate::Locks) are touched on every call, where SipHash (std's
//! default) costs more than the rest of an uncontended acquire. Their keys are small integers
//! — lock keys the machine hands out, owner ids its caller picks — never untrusted bytes, so a
//! keyless hash is enough: words are combined FxHash-style and the result goes through
//! MurmurHash3's 64-bit finaliser, so that structured ids (say, a job number in the high bits)
//! still spread over the buckets. Deterministic: nothing depends on a random seed.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`WordHasher`]s; the hasher of every map in the machine.
pub(crate) type Fast = BuildHasherDefault<WordHasher>;

/// A hash map with the [`Fast`] hasher.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, Fast>;

/// Hashes a few integer words.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WordHasher {
    state: u64,
}

impl WordHasher {
    fn word(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.word(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.word(n);
    }

    fn finish(&self) -> u64 {
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, Hash};

    use super::*;

    fn hash(value: impl Hash) -> u64 {
        Fast::default().hash_one(value)
    }

    #[test]
    fn structured_ids_spread_over_the_low_bits() {
        // Ids differing only in their high bits must not share the low bits hashbrown indexes by.
        let mut low: Vec<u64> = (0..64u64).map(|i| hash(i << 40) & 0xff).collect();
        low.sort_unstable();
        low.dedup();
        assert!(low.len() > 32, "only {} distinct low bytes", low.len());
        assert_eq!(hash(7u64), hash(7u64));
    }
}
