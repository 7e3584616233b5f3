//! Which target owns an object: highest-random-weight (rendezvous) placement over the map's
//! targets, exactly as the AIStore Python SDK 2.0.0 computes it for direct routing.
//!
//! Facts (SDK `aistore/sdk/types.py: Smap.get_target_for_object`, `aistore/sdk/utils.py:
//! get_digest, xoshiro256_hash`, `aistore/sdk/const.py: XX_HASH_SEED`; the same formulas as
//! aisnode's `core/meta/hrw.go: HrwName2T, HrwHash2T`):
//!
//! - an object's *uname* is `<provider>/@<ns uuid>#<ns name>/<bucket>/<object>` (the global
//!   namespace is `@#`); its digest is xxh64 of the uname's UTF-8 bytes with seed
//!   [`MLCG32`] (1103515245);
//! - a target's `id_digest` is the same hash of its `daemon_id` ([`node_digest`]);
//! - the owner is the target, not in maintenance or decommissioned, with the greatest
//!   [`xoshiro256_hash`]`(id_digest ^ digest)`; on a tie the first such target in the map's
//!   order wins (the SDK keeps the first maximum, `cs > max_hash`; aisnode keeps the last, `>=`,
//!   in Go's random map order, so only the SDK's rule is reproducible. The mixing is a bijection
//!   of `u64`, so weights tie only when two targets share an `id_digest`, which no map aisnode
//!   builds has).

use xxhash_rust::xxh64::{Xxh64, xxh64};

use super::{Smap, Snode};
use crate::ais::{Bucket, ObjectAddress};

/// The seed of every AIStore xxh64 digest: `cos.MLCG32`, the SDK's `XX_HASH_SEED`.
pub const MLCG32: u64 = 1_103_515_245;

/// AIStore's digest of a name: xxh64 with seed [`MLCG32`].
pub fn digest(bytes: &[u8]) -> u64 {
    xxh64(bytes, MLCG32)
}

/// A node's `id_digest`: the [`digest`] of its id, as aisnode computes it (`Snode.setDigest`).
pub fn node_digest(daemon_id: &str) -> u64 {
    digest(daemon_id.as_bytes())
}

/// The mixing function of placement: SplitMix64's finaliser twice (the golden-ratio step, then
/// the two xor-shift-multiply rounds, again), then xoshiro256**'s output scrambler
/// (`rotl(z * 5, 7) * 9`), all modulo 2^64 (the SDK's `xoshiro256_hash`, aisnode's
/// `cmn/xoshiro256.Hash`).
pub const fn xoshiro256_hash(seed: u64) -> u64 {
    const GOLDEN_RATIO: u64 = 0x9e37_79b9_7f4a_7c15;
    const MUL1: u64 = 0xbf58_476d_1ce4_e5b9;
    const MUL2: u64 = 0x94d0_49bb_1331_11eb;
    let mut z = seed.wrapping_add(GOLDEN_RATIO);
    z = (z ^ (z >> 30)).wrapping_mul(MUL1);
    z = (z ^ (z >> 27)).wrapping_mul(MUL2);
    z = (z ^ (z >> 31)).wrapping_add(GOLDEN_RATIO);
    z = (z ^ (z >> 30)).wrapping_mul(MUL1);
    z = (z ^ (z >> 27)).wrapping_mul(MUL2);
    z = (z ^ (z >> 31)).wrapping_mul(5);
    z.rotate_left(7).wrapping_mul(9)
}

/// An object's uname, the name placement hashes (the SDK's `Object.uname`).
///
/// `<provider>/@<uuid>#<name>/<bucket>/<object>`, with the canonical provider name (`aws`,
/// not `s3`). One quirk is the SDK's, kept so that both place every object alike: it joins
/// with `os.path.join(bucket_path, object)`, so an object name that starts with `/` *is* the
/// uname, without the bucket (aisnode's `Bck.MakeUname` always prefixes the bucket; such
/// names are the only ones on which the two disagree).
pub fn object_uname(bucket: &Bucket, object: &str) -> String {
    let mut uname = Vec::new();
    for piece in Uname::new(bucket, object.as_bytes()).pieces() {
        uname.extend_from_slice(piece);
    }
    // Every piece is a whole `str` (or a literal), so the concatenation is UTF-8.
    String::from_utf8(uname).unwrap_or_default()
}

/// The pieces of an object's uname, concatenated without allocating.
struct Uname<'a> {
    bucket: &'a Bucket,
    object: &'a [u8],
}

impl<'a> Uname<'a> {
    fn new(bucket: &'a Bucket, object: &'a [u8]) -> Self {
        Uname { bucket, object }
    }

    fn pieces(&self) -> impl Iterator<Item = &'a [u8]> {
        let Uname { bucket, object } = *self;
        let prefix: [&'a [u8]; 9] = [
            bucket.provider.as_str().as_bytes(),
            b"/@",
            bucket.namespace.uuid.as_bytes(),
            b"#",
            bucket.namespace.name.as_bytes(),
            b"/",
            bucket.name.as_bytes(),
            b"/",
            object,
        ];
        // `os.path.join(path, object)` is `object` when `object` is absolute.
        let skip = if object.starts_with(b"/") { 8 } else { 0 };
        prefix.into_iter().skip(skip)
    }

    fn digest(&self) -> u64 {
        let mut hasher = Xxh64::new(MLCG32);
        for piece in self.pieces() {
            hasher.update(piece);
        }
        hasher.digest()
    }
}

/// Why no target owns an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PlacementError {
    /// The map has no target that is not in maintenance or decommissioned (the SDK's
    /// `NoTargetError`).
    #[error("no target can own objects: the cluster map has {targets} target(s), none out of maintenance")]
    NoEligibleTarget {
        /// How many targets the map has, all of them in maintenance or decommissioned.
        targets: usize,
    },
}

/// Why an object has no direct URL in a map.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DirectUrlError {
    /// No target owns it.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The owner's public URL (`public_net.direct_url`) is not an absolute `http(s)` URL.
    #[error("target {daemon_id} has no usable public URL ({url:?})")]
    NoUrl {
        /// The owner.
        daemon_id: String,
        /// What the map gives as its URL.
        url: String,
    },
}

impl Smap {
    /// The target that owns the object at `address`: the one the proxy redirects its GET,
    /// HEAD, PUT and POST to, and where a client that routes directly sends them.
    ///
    /// The object name is hashed percent-decoded (the SDK hashes the name it was given, before
    /// it quotes it into the URL); a name that does not decode to UTF-8 is hashed as its raw
    /// bytes, as aisnode does.
    ///
    /// ```
    /// use stowage_proto::ais::{Bucket, NetInfo, ObjectAddress, Provider, Smap, Snode};
    ///
    /// let mut smap = Smap::new(Snode::proxy("p1", NetInfo::new("http", "10.0.0.1", 8080)));
    /// smap.targets = (1..=3)
    ///     .map(|i| Snode::target(format!("t{i}"), NetInfo::new("http", format!("10.0.1.{i}"), 8081)))
    ///     .collect();
    ///
    /// let address = ObjectAddress::new(Bucket::new("bck", Provider::Ais), "dir/obj");
    /// let owner = smap.target_for(&address)?;
    /// assert!(owner.is_target() && !owner.in_maintenance());
    /// // Placement is a pure function of the map and the name.
    /// assert_eq!(smap.target_for(&address)?, owner);
    /// # Ok::<(), stowage_proto::ais::PlacementError>(())
    /// ```
    pub fn target_for(&self, address: &ObjectAddress) -> Result<&Snode, PlacementError> {
        let object = address.object_bytes();
        self.target_for_digest(Uname::new(address.bucket(), &object).digest())
    }

    /// The URL of the object at `address` on the target that owns it (its public URL, then the
    /// object's path and bucket parameters): where a direct read goes, without the proxy's
    /// redirect (the SDK's `get_reader(direct=True)`).
    ///
    /// ```
    /// use stowage_proto::ais::{Bucket, NetInfo, ObjectAddress, Provider, Smap, Snode};
    ///
    /// let mut smap = Smap::new(Snode::proxy("p1", NetInfo::new("http", "10.0.0.1", 8080)));
    /// smap.targets = std::iter::once(Snode::target("t1", NetInfo::new("http", "10.0.1.1", 8081))).collect();
    /// let address = ObjectAddress::new(Bucket::new("bck", Provider::Ais), "dir/obj");
    /// assert_eq!(
    ///     smap.direct_url(&address)?.to_string(),
    ///     "http://10.0.1.1:8081/v1/objects/bck/dir/obj?provider=ais"
    /// );
    /// # Ok::<(), stowage_proto::ais::DirectUrlError>(())
    /// ```
    pub fn direct_url(&self, address: &ObjectAddress) -> Result<http::Uri, DirectUrlError> {
        let owner = self.target_for(address)?;
        let base = owner.public_net.url.trim_end_matches('/');
        let no_url = || DirectUrlError::NoUrl { daemon_id: owner.daemon_id.clone(), url: owner.public_net.url.clone() };
        let url: http::Uri = format!("{base}{}", address.uri(&[])).parse().map_err(|_| no_url())?;
        let http = url.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
        if !http || url.authority().is_none() {
            return Err(no_url());
        }
        Ok(url)
    }

    /// The target that owns the object whose uname (see [`object_uname`]) is `uname`: the SDK's
    /// `Smap.get_target_for_object(uname)`.
    pub fn target_for_uname(&self, uname: &[u8]) -> Result<&Snode, PlacementError> {
        self.target_for_digest(digest(uname))
    }

    fn target_for_digest(&self, digest: u64) -> Result<&Snode, PlacementError> {
        let mut owner: Option<(u64, &Snode)> = None;
        for target in self.targets.nodes().filter(|target| !target.in_maintenance()) {
            let weight = xoshiro256_hash(target.id_digest ^ digest);
            if owner.is_none_or(|(heaviest, _)| weight > heaviest) {
                owner = Some((weight, target));
            }
        }
        owner.map(|(_, target)| target).ok_or(PlacementError::NoEligibleTarget { targets: self.targets.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ais::{Namespace, NetInfo, NodeFlags, NodeMap, Provider};

    #[test]
    fn xoshiro_matches_the_sdk_on_known_values() {
        // Computed with the SDK's `xoshiro256_hash` (aistore 2.0.0).
        assert_eq!(xoshiro256_hash(0), 0x1a70_a846_bd9c_c2a9);
        assert_eq!(xoshiro256_hash(u64::MAX), 0x8def_bd33_46f3_593a);
    }

    #[test]
    fn digests_are_xxh64_with_the_mlcg32_seed() {
        // The SDK's `get_digest("t1")`.
        assert_eq!(node_digest("t1"), 14_214_570_646_889_990_061);
        assert_eq!(digest(b""), xxh64(b"", MLCG32));
    }

    #[test]
    fn uname_forms() {
        let mut bucket = Bucket::new("bck", Provider::Aws);
        assert_eq!(object_uname(&bucket, "a/b c"), "aws/@#/bck/a/b c");
        bucket.namespace = Namespace { uuid: "Uu".into(), name: "ns".into() };
        assert_eq!(object_uname(&bucket, "x"), "aws/@Uu#ns/bck/x");
        bucket.namespace = Namespace::parse("#local");
        assert_eq!(object_uname(&bucket, ""), "aws/@#local/bck/");
        assert_eq!(object_uname(&bucket, "/abs/x"), "/abs/x", "os.path.join keeps an absolute name alone");
        for name in ["a/b c", "", "/abs/x", "ü/%41"] {
            let uname = Uname::new(&bucket, name.as_bytes());
            assert_eq!(uname.digest(), digest(object_uname(&bucket, name).as_bytes()), "{name:?}");
        }
    }

    #[test]
    fn target_for_hashes_the_decoded_name() {
        let mut smap = Smap::new(Snode::proxy("p", NetInfo::default()));
        smap.targets = (0..8).map(|i| Snode::target(format!("t{i}"), NetInfo::default())).collect();
        let bucket = Bucket::new("b", Provider::Gcp);
        for name in ["a b?c", "ü", "%", "x/y#z"] {
            let address = ObjectAddress::new(bucket.clone(), name);
            let by_uname = smap.target_for_uname(object_uname(&bucket, name).as_bytes());
            assert_eq!(smap.target_for(&address), by_uname, "{name:?}");
        }
    }

    #[test]
    fn maintenance_targets_are_skipped_and_none_left_is_an_error() {
        let mut smap = Smap::new(Snode::proxy("p", NetInfo::default()));
        assert_eq!(smap.target_for_uname(b"x"), Err(PlacementError::NoEligibleTarget { targets: 0 }));
        smap.targets = (0..3).map(|i| Snode::target(format!("t{i}"), NetInfo::default())).collect();
        let owner = smap.target_for_uname(b"x").unwrap().daemon_id.clone();
        if let Some(node) = smap.targets.get_mut(&owner) {
            node.flags = NodeFlags::DECOMMISSION;
        }
        let next = smap.target_for_uname(b"x").unwrap();
        assert_ne!(next.daemon_id, owner);
        let ids: Vec<String> = smap.targets.iter().map(|(id, _)| id.to_owned()).collect();
        for id in ids {
            if let Some(node) = smap.targets.get_mut(&id) {
                node.flags = NodeFlags::MAINTENANCE;
            }
        }
        assert_eq!(smap.target_for_uname(b"x"), Err(PlacementError::NoEligibleTarget { targets: 3 }));
    }

    #[test]
    fn ties_go_to_the_first_target_in_map_order() {
        let mut smap = Smap::new(Snode::proxy("p", NetInfo::default()));
        let mut first = Snode::target("first", NetInfo::default());
        let mut second = Snode::target("second", NetInfo::default());
        (first.id_digest, second.id_digest) = (42, 42);
        smap.targets = [first, second].into_iter().collect();
        assert_eq!(smap.target_for_uname(b"any").unwrap().daemon_id, "first");
    }

    #[test]
    fn a_direct_url_is_the_owner_s_public_url_and_the_object_s_path() {
        let mut smap = Smap::new(Snode::proxy("p1", NetInfo::new("http", "10.0.0.1", 8080)));
        let mut target = Snode::target("t1", NetInfo::new("https", "::1", 8081));
        smap.targets = std::iter::once(target.clone()).collect();
        let address = ObjectAddress::new(Bucket::new("b", Provider::Aws), "a b/c");
        assert_eq!(
            smap.direct_url(&address).unwrap().to_string(),
            "https://[::1]:8081/v1/objects/b/a%20b/c?provider=aws"
        );

        for url in ["", "10.0.1.1:8081", "ftp://host:1", "http://bad host"] {
            target.public_net.url = url.to_owned();
            smap.targets = std::iter::once(target.clone()).collect();
            let error = smap.direct_url(&address).unwrap_err();
            assert_eq!(error, DirectUrlError::NoUrl { daemon_id: "t1".into(), url: url.into() }, "{url:?}");
        }
        smap.targets = NodeMap::new();
        let none = PlacementError::NoEligibleTarget { targets: 0 };
        assert_eq!(smap.direct_url(&address), Err(DirectUrlError::Placement(none)));
    }
}
