//! Rendezvous hashing: the order in which services are probed for a block.

use std::cmp::Reverse;

use md5::{Digest, Md5};

use crate::{BlockHash, Service};

/// The rendezvous weight of service `uuid` for block `hash`:
/// `md5(ASCII(hash) ++ last 15 characters of uuid)` (the whole uuid if shorter).
///
/// Comparing weights compares the lowercase hex strings the reference SDKs compare: hex
/// digits of bytes sort as the bytes do.
pub fn weight(hash: &BlockHash, uuid: &str) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(hash.as_bytes());
    md5.update(uuid_suffix(uuid).as_bytes());
    md5.finalize().into()
}

/// The weight as the reference SDKs spell it: 32 lowercase hex digits.
pub fn weight_hex(hash: &BlockHash, uuid: &str) -> String {
    String::from_utf8_lossy(&crate::block::hex(&weight(hash, uuid))).into_owned()
}

/// The last 15 characters of `uuid` (Python's `uuid[-15:]`).
fn uuid_suffix(uuid: &str) -> &str {
    let start = uuid.char_indices().rev().nth(14).map_or(0, |(at, _)| at);
    &uuid[start..]
}

/// The probe order of `services` for block `hash`: indices into `services`, heaviest
/// [`weight`] first; services of equal weight keep their given order.
///
/// Invariant: a permutation of `0..services.len()`.
pub fn probe_order(hash: &BlockHash, services: &[Service]) -> Vec<usize> {
    let mut weighted: Vec<([u8; 16], usize)> =
        services.iter().enumerate().map(|(i, s)| (weight(hash, s.uuid()), i)).collect();
    // Stable: ties keep their given order, as Python's `sorted(reverse=True)` does.
    weighted.sort_by_key(|&(weight, _)| Reverse(weight));
    weighted.into_iter().map(|(_, i)| i).collect()
}

/// The write order: [`probe_order`] without the services that are not written to
/// (read-only, gateways).
pub fn write_order(hash: &BlockHash, services: &[Service]) -> Vec<usize> {
    probe_order(hash, services).into_iter().filter(|&i| services[i].is_writable()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_is_the_last_15_characters() {
        assert_eq!(uuid_suffix("zzzzz-bi6l4-000000000000007"), "000000000000007");
        assert_eq!(uuid_suffix("short"), "short");
        assert_eq!(uuid_suffix("ééééééééééééééééé"), "ééééééééééééééé");
    }
}
