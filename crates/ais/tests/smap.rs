//! The cluster map from the proxy and the owner's URL from it; and what a proxy that answers
//! something else gets.

use stowage_ais::{Client, ClusterMapError};
use stowage_proto::ais::{Bucket, DirectUrlError, NetInfo, ObjectAddress, PlacementError, Provider, Smap, Snode};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn proxy_answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/daemon"))
        .and(query_param("what", "smap"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn address() -> ObjectAddress {
    ObjectAddress::new(Bucket::new("b", Provider::Ais), "o")
}

#[tokio::test]
async fn the_owner_s_url_comes_from_the_proxy_s_map() {
    let mut smap = Smap::new(Snode::proxy("p1", NetInfo::new("http", "10.0.0.1", 8080)));
    smap.targets = std::iter::once(Snode::target("t1", NetInfo::new("http", "10.0.1.1", 9001))).collect();
    let server = proxy_answering(ResponseTemplate::new(200).set_body_bytes(smap.to_json())).await;
    let client = Client::new(&server.uri()).unwrap();
    assert_eq!(client.smap().await.unwrap(), smap);
    let url = client.direct_url(&address()).await.unwrap();
    assert_eq!(url.to_string(), "http://10.0.1.1:9001/v1/objects/b/o?provider=ais");
}

#[tokio::test]
async fn a_proxy_that_does_not_give_a_usable_map_is_a_typed_error() {
    let cases = [
        (ResponseTemplate::new(500), "the proxy answered 500"),
        (ResponseTemplate::new(200).set_body_string("{\"tmap\": ["), "cluster map"),
        (ResponseTemplate::new(200).set_body_string("<html>"), "cluster map"),
    ];
    for (response, says) in cases {
        let server = proxy_answering(response).await;
        let error = Client::new(&server.uri()).unwrap().direct_url(&address()).await.unwrap_err();
        assert!(matches!(error, ClusterMapError::Status(_) | ClusterMapError::Malformed(_)), "{error:?}");
        assert!(error.to_string().contains(says), "{error}");
    }
    // A map with no target can place nothing.
    let smap = Smap::new(Snode::proxy("p1", NetInfo::new("http", "10.0.0.1", 8080)));
    let server = proxy_answering(ResponseTemplate::new(200).set_body_bytes(smap.to_json())).await;
    let error = Client::new(&server.uri()).unwrap().direct_url(&address()).await.unwrap_err();
    let none = DirectUrlError::Placement(PlacementError::NoEligibleTarget { targets: 0 });
    assert!(matches!(&error, ClusterMapError::Placement(e) if *e == none), "{error:?}");
}
