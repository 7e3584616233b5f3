//! Signed locators: `md5+size+A<40 hex>@<8 hex expiry>`.

use md5::{Digest, Md5};

/// How long a signature is valid: two weeks (Arvados' default `BlobSigningTTL`).
pub(crate) const SIGNATURE_TTL_SECS: u64 = 14 * 24 * 3600;

/// The signed locator of block `hash` of `size` bytes for `token`, valid until `expiry`
/// (Unix seconds).
///
/// The format is Arvados' (`+A` 40 hex digits `@` 8 hex digits); the signature is derived
/// from md5 (of key, hash, token and expiry) rather than Arvados' HMAC-SHA1: clients only
/// carry it, so only the format matters here.
pub(crate) fn signed_locator(key: &str, hash: &str, size: u64, token: &str, expiry: u64) -> String {
    let expiry = format!("{:08x}", expiry & 0xffff_ffff);
    let first = hex(&Md5::new()
        .chain_update(key)
        .chain_update(hash)
        .chain_update(token)
        .chain_update(&expiry)
        .finalize()
        .into());
    let second = hex(&Md5::digest(first.as_bytes()).into());
    format!("{hash}+{size}+A{first}{}@{expiry}", &second[..8])
}

/// Lowercase hex of an md5 digest.
pub(crate) fn hex(digest: &[u8; 16]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_locators_have_arvados_format() {
        let l = signed_locator("k", "acbd18db4cc2f85cedef654fccc4a4d8", 3, "t", 0x6a00_0000);
        let (head, expiry) = l.split_once('@').unwrap();
        assert_eq!(expiry, "6a000000");
        let sig = head.strip_prefix("acbd18db4cc2f85cedef654fccc4a4d8+3+A").unwrap();
        assert_eq!(sig.len(), 40);
        assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
