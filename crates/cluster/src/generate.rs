//! Deterministic object content, generated on demand.
//!
//! A scenario may declare an object by size alone (`size = 10737418240`). Its bytes are never
//! stored: they are a pure function of the object's name and the byte offset, so any range can
//! be produced on the fly, in bounded chunks, and checked by a client that knows only the name.
//!
//! The byte stream itself is specified on [`Generator`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use xxhash_rust::xxh64::Xxh64;

/// SplitMix64's increment (the golden ratio in 64-bit fixed point).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Bytes per generated word.
const WORD: u64 = 8;
/// Words per block: the pad's length (a block is 64 KiB).
const BLOCK_WORDS: u64 = 8192;
/// Mixed into the seed for the block keys, so that they are not the pad's own words.
const KEY_SALT: u64 = 0xd6e8_feb8_6659_fd93;
/// The bytes generated at a time while hashing a stream.
const HASH_BLOCK: u64 = 1 << 20;

/// The deterministic byte stream of one generated object.
///
/// Random access: [`Generator::fill`] produces the bytes at any offset without producing the
/// ones before it, at about the cost of a memory copy (the cluster serves generated objects
/// faster than a loopback client can take them, so benchmarks measure the client).
///
/// # The generator
///
/// - `seed = FNV-1a-64(name)` (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`, over the
///   UTF-8 bytes of the object name).
/// - `splitmix(s, i) = mix(s + (i + 1) * 0x9e3779b97f4a7c15)`, the `i`-th output of SplitMix64
///   seeded with `s` (wrapping arithmetic; `mix` is SplitMix64's finaliser).
/// - The stream is cut in blocks of 8192 words (64 KiB). Word `k` is
///   `pad[k % 8192] ^ key[k / 8192]`, with `pad[j] = splitmix(seed, j)` and
///   `key[b] = splitmix(seed ^ 0xd6e8feb86659fd93, b)`: every block is the same pad under its
///   own key, so bytes put at a wrong offset — shifted by any amount, or by whole blocks — do
///   not match.
/// - Byte `i` is byte `i % 8` (little-endian) of word `i / 8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generator {
    seed: u64,
    /// `pad[j] = splitmix(seed, j)` for one block.
    pad: Arc<[u64]>,
}

impl Generator {
    /// The generator of the object called `name` (computes its 64 KiB pad).
    pub fn for_object(name: &str) -> Self {
        let seed = name.bytes().fold(FNV_OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME));
        let pad = (0..BLOCK_WORDS).map(|j| splitmix(seed, j)).collect();
        Generator { seed, pad }
    }

    /// The seed (`FNV-1a-64` of the name).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Byte `offset` of the stream.
    pub fn byte_at(&self, offset: u64) -> u8 {
        self.word(offset / WORD).to_le_bytes()[(offset % WORD) as usize]
    }

    /// XXH64 (seed 0) of the stream's first `size` bytes: the object's AIStore checksum
    /// (`xxhash2`). Hashed once per seed and size in a process (512 MiB take about a quarter
    /// of a second), then remembered.
    pub fn xxh64(&self, size: u64) -> u64 {
        static HASHED: Mutex<BTreeMap<(u64, u64), u64>> = Mutex::new(BTreeMap::new());
        let hashed = |key| HASHED.lock().unwrap_or_else(PoisonError::into_inner).get(&key).copied();
        if let Some(digest) = hashed((self.seed, size)) {
            return digest;
        }
        let mut hasher = Xxh64::new(0);
        let mut block = vec![0; HASH_BLOCK.min(size) as usize];
        let mut offset = 0;
        while offset < size {
            let len = (size - offset).min(HASH_BLOCK) as usize;
            self.fill(offset, &mut block[..len]);
            hasher.update(&block[..len]);
            offset += len as u64;
        }
        let digest = hasher.digest();
        HASHED.lock().unwrap_or_else(PoisonError::into_inner).insert((self.seed, size), digest);
        digest
    }

    /// Fills `buf` with the bytes starting at `offset`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        // Leading bytes up to the next word boundary.
        let lead = ((WORD - offset % WORD) % WORD).min(buf.len() as u64) as usize;
        let (head, rest) = buf.split_at_mut(lead);
        for (i, b) in head.iter_mut().enumerate() {
            *b = self.byte_at(offset + i as u64);
        }
        // Whole words, a block's run at a time (one key each), then the trailing partial word.
        let mut word = (offset + lead as u64) / WORD;
        let mut chunks = rest.chunks_exact_mut(WORD as usize);
        while chunks.len() > 0 {
            let key = self.key(word / BLOCK_WORDS);
            let from = (word % BLOCK_WORDS) as usize;
            let run = chunks.len().min(self.pad.len() - from);
            for (chunk, pad) in (&mut chunks).take(run).zip(&self.pad[from..]) {
                chunk.copy_from_slice(&(pad ^ key).to_le_bytes());
            }
            word += run as u64;
        }
        let tail = chunks.into_remainder();
        let bytes = self.word(word).to_le_bytes();
        tail.copy_from_slice(&bytes[..tail.len()]);
    }

    /// Word `k` of the stream.
    fn word(&self, k: u64) -> u64 {
        self.pad[(k % BLOCK_WORDS) as usize] ^ self.key(k / BLOCK_WORDS)
    }

    /// The key of block `b`.
    fn key(&self, b: u64) -> u64 {
        splitmix(self.seed ^ KEY_SALT, b)
    }
}

/// The `i`-th output of SplitMix64 seeded with `seed`.
fn splitmix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_splitmix64() {
        // SplitMix64 seeded with 1234567 yields 6457827717110365317 first (Vigna's reference).
        assert_eq!(splitmix(1_234_567, 0), 6_457_827_717_110_365_317);
        let g = Generator::for_object("a");
        let mut first = [0u8; 8];
        g.fill(0, &mut first);
        assert_eq!(u64::from_le_bytes(first), splitmix(g.seed(), 0) ^ splitmix(g.seed() ^ KEY_SALT, 0));
    }

    #[test]
    fn blocks_differ_and_cross_block_fills_agree() {
        let g = Generator::for_object("dir/obj");
        let block = (BLOCK_WORDS * WORD) as usize;
        let mut two = vec![0u8; 2 * block + 24];
        g.fill(block as u64 - 5, &mut two);
        for (i, b) in two.iter().enumerate().step_by(997) {
            assert_eq!(*b, g.byte_at(block as u64 - 5 + i as u64), "byte {i}");
        }
        let (mut first, mut second) = (vec![0u8; block], vec![0u8; block]);
        g.fill(0, &mut first);
        g.fill(block as u64, &mut second);
        assert_ne!(first, second, "a range put one block off must not match");
    }

    #[test]
    fn fnv1a_seed() {
        assert_eq!(Generator::for_object("").seed(), FNV_OFFSET);
        // FNV-1a-64("a") = 0xaf63dc4c8601ec8c.
        assert_eq!(Generator::for_object("a").seed(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn fill_at_any_offset_agrees_with_byte_at() {
        let g = Generator::for_object("dir/obj");
        for offset in 0..17 {
            for len in 0..25 {
                let mut buf = vec![0u8; len];
                g.fill(offset, &mut buf);
                let expected: Vec<u8> = (0..len as u64).map(|i| g.byte_at(offset + i)).collect();
                assert_eq!(buf, expected, "offset {offset} len {len}");
            }
        }
    }
}
