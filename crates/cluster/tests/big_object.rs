//! Generated objects are streamed: a 1 GiB object is served without ever being held in
//! memory (the server produces it in 64 KiB frames), and a range deep inside a 64 GiB object
//! costs only the range.

mod common;

use common::*;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use stowage_cluster::{BucketSpec, Cluster, ClusterConfig, Generator, ObjectSpec};
use stowage_proto::ais::{Bucket, Provider};

const GIB: u64 = 1 << 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_generated_object_streams_through() {
    let cluster = Cluster::start(ClusterConfig::default()).await.unwrap();
    let bucket = Bucket::new("big", Provider::Ais);
    cluster.put_generated(&bucket, "one-gib.bin", GIB);
    let generator = Generator::for_object("one-gib.bin");

    let req = request(Method::GET, &object_uri(&bucket, "one-gib.bin", &[])).body(Full::default()).unwrap();
    let response = send(cluster.addr(), req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], GIB.to_string());
    // Too large to hash when stored (`MAX_HASHED`): no checksum stated.
    assert_eq!(response.headers()["ais-checksum-type"], "none");

    // Read frame by frame, checking the first byte of every frame and a few fixed offsets.
    let probes = [0, 1, 7, 8, 65_535, 65_536, GIB / 2 + 3, GIB - 1];
    let mut body = response.into_body();
    let mut offset = 0u64;
    let mut checked = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        let end = offset + data.len() as u64;
        assert_eq!(data[0], generator.byte_at(offset), "first byte of the frame at {offset}");
        for probe in probes.iter().filter(|p| (offset..end).contains(p)) {
            assert_eq!(data[(probe - offset) as usize], generator.byte_at(*probe), "byte {probe}");
            checked += 1;
        }
        offset = end;
    }
    assert_eq!(offset, GIB);
    assert_eq!(checked, probes.len());
}

#[tokio::test]
async fn a_range_deep_inside_a_64_gib_object() {
    let size = stowage_cluster::MAX_GENERATED_SIZE;
    let spec = BucketSpec::new("huge", "ais").object(ObjectSpec::generated("blob", size));
    let cluster = Cluster::start(ClusterConfig { buckets: vec![spec], ..Default::default() }).await.unwrap();
    let uri = object_uri(&Bucket::new("huge", Provider::Ais), "blob", &[]);

    let head = head(cluster.addr(), &uri).await;
    assert_eq!(head.header("content-length"), size.to_string());

    let start = size - 100_003;
    let reply = get_range(cluster.addr(), &uri, &format!("bytes={start}-{}", start + 99_999)).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(reply.header("content-range"), format!("bytes {start}-{}/{size}", start + 99_999));
    let mut expected = vec![0u8; 100_000];
    Generator::for_object("blob").fill(start, &mut expected);
    assert_eq!(&reply.body[..], &expected[..]);
}
