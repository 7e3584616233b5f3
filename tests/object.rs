//! The bytes of the objects the tests store and fetch.

/// `len` pseudo-random bytes (xorshift over `seed`): the same for the same `seed`.
pub fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
