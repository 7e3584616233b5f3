//! The cluster map and HRW placement against the real SDK: `vectors/hrw.json` was computed by
//! the AIStore Python SDK 2.0.0 (`vectors/hrw_vectors.py` says how to regenerate it), and
//! `vectors/aisnode_smap.json` is a map as aisnode serves it, written by hand from aisnode's
//! `core/meta/smap.go` (`Smap`, `Snode`, `NetInfo` and their JSON tags) and checked to parse
//! with the SDK's model.

use serde::Deserialize;
use stowage_proto::ais::{
    Bucket, Namespace, NodeFlags, ObjectAddress, PlacementError, Provider, Smap, SmapError, object_uname,
};

const HRW: &str = include_str!("vectors/hrw.json");
const AISNODE_SMAP: &[u8] = include_bytes!("vectors/aisnode_smap.json");

#[derive(Deserialize)]
struct Vectors {
    sdk: String,
    buckets: Vec<BucketSpec>,
    objects: Vec<String>,
    /// `[bucket][object]`.
    unames: Vec<Vec<String>>,
    maps: Vec<MapCase>,
}

#[derive(Deserialize)]
struct BucketSpec {
    provider: String,
    namespace: Option<NamespaceSpec>,
    bucket: String,
}

#[derive(Deserialize)]
struct NamespaceSpec {
    uuid: String,
    name: String,
}

#[derive(Deserialize)]
struct MapCase {
    title: String,
    /// Whether the map has every field aisnode sends and no other, so that ours serialises to
    /// the same JSON value.
    aisnode_shape: bool,
    /// Deserialised straight from the fixture's bytes, so `tmap` keeps its order.
    smap: Smap,
    /// `[bucket][object]`: the SDK's choice, `None` where it raised `NoTargetError`.
    owners: Vec<Vec<Option<String>>>,
}

fn vectors() -> Vectors {
    serde_json::from_str(HRW).unwrap()
}

fn bucket(spec: &BucketSpec) -> Bucket {
    let mut bucket = Bucket::new(spec.bucket.clone(), spec.provider.parse::<Provider>().unwrap());
    if let Some(ns) = &spec.namespace {
        bucket.namespace = Namespace { uuid: ns.uuid.clone(), name: ns.name.clone() };
    }
    bucket
}

#[test]
fn unames_are_the_sdks() {
    let v = vectors();
    assert_eq!(v.sdk, "aistore 2.0.0");
    for (spec, unames) in v.buckets.iter().zip(&v.unames) {
        for (object, uname) in v.objects.iter().zip(unames) {
            assert_eq!(&object_uname(&bucket(spec), object), uname, "{}/{object:?}", spec.bucket);
        }
    }
}

#[test]
fn every_owner_is_the_sdks() {
    let v = vectors();
    let mut checked = 0;
    for map in &v.maps {
        for ((spec, unames), owners) in v.buckets.iter().zip(&v.unames).zip(&map.owners) {
            let bucket = bucket(spec);
            for ((object, uname), owner) in v.objects.iter().zip(unames).zip(owners) {
                let address = ObjectAddress::new(bucket.clone(), object);
                let reparsed = ObjectAddress::from_uri(&address.uri(&[])).unwrap();
                let got = map.smap.target_for(&address).map(|t| t.daemon_id.clone());
                let expected =
                    owner.clone().ok_or(PlacementError::NoEligibleTarget { targets: map.smap.targets.len() });
                let context = format!("{}: {uname:?}", map.title);
                assert_eq!(got, expected, "{context}");
                assert_eq!(map.smap.target_for_uname(uname.as_bytes()).map(|t| t.daemon_id.clone()), got, "{context}");
                assert_eq!(map.smap.target_for(&reparsed).map(|t| t.daemon_id.clone()), got, "{context} from its URI");
                checked += 1;
            }
        }
    }
    assert!(checked > 3000, "{checked}");
}

#[test]
fn maps_round_trip_and_serialise_as_aisnode_does() {
    let v = vectors();
    let raw: serde_json::Value = serde_json::from_str(HRW).unwrap();
    for (i, map) in v.maps.iter().enumerate() {
        let json = map.smap.to_json();
        assert_eq!(Smap::parse(&json).as_ref(), Ok(&map.smap), "{}", map.title);
        if map.aisnode_shape {
            let ours: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(ours, raw["maps"][i]["smap"], "{}", map.title);
        }
    }
}

#[test]
fn an_aisnode_map_parses() {
    let smap = Smap::parse(AISNODE_SMAP).unwrap();
    assert_eq!((smap.version, smap.uuid.as_str()), (42, "Pq7XbR2Lw"));
    assert_eq!(smap.primary.daemon_id, "kL9mN2bV");
    assert_eq!(smap.proxies.get("hG7fD5sA").map(|p| p.flags), Some(NodeFlags::NON_ELECTABLE | NodeFlags::IC));
    let ids: Vec<_> = smap.targets.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["ZxCvBnMa", "QwErTyUi", "AsDfGhJk", "PoIuYtRe"]);
    let maintenance: Vec<_> = smap.targets.nodes().filter(|t| t.in_maintenance()).map(|t| &t.daemon_id).collect();
    assert_eq!(maintenance, ["AsDfGhJk"]);
    let target = smap.targets.get("ZxCvBnMa").unwrap();
    assert_eq!(target.public_net.url, "http://ais-target-0.ais.svc:51081");
    assert_eq!((target.intra_data_net.hostname.as_str(), target.intra_data_net.port.as_str()), ("10.2.0.20", "51083"));
    assert_eq!(smap.nodes().count(), 6);
    // The SDK's choices on this map.
    let bucket = Bucket::new("imagenet", Provider::Aws);
    for (object, owner) in [
        ("train/n01440764/n01440764_10026.JPEG", "PoIuYtRe"),
        ("val/ILSVRC2012_val_00000001.JPEG", "QwErTyUi"),
        ("shard-000000.tar", "ZxCvBnMa"),
    ] {
        let address = ObjectAddress::new(bucket.clone(), object);
        assert_eq!(smap.target_for(&address).map(|t| t.daemon_id.as_str()), Ok(owner), "{object}");
    }
}

#[test]
fn a_truncated_aisnode_map_is_not_json() {
    for cut in [1, AISNODE_SMAP.len() / 3, AISNODE_SMAP.len() - 2] {
        let error = Smap::parse(&AISNODE_SMAP[..cut]).unwrap_err();
        assert!(matches!(error, SmapError::NotJson { .. }), "cut at {cut}: {error}");
    }
}
