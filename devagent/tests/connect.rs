//! Connect as Consul 1.21 serves it: sidecar registration, proxies keeping
//! `Proxy` and `Locality`, the connect and gateway lookups, and a built-in CA
//! whose leaves verify against its root and name the service's SPIFFE ID.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use support::acl::{acl_agent, call, denied, token};
use support::start;

#[tokio::test]
async fn sidecar_service_registers_its_proxy() {
    let a = start().await;
    a.register(
        r#"{"Name":"web","Port":8080,"Tags":["v1"],
            "Connect":{"SidecarService":{"Proxy":{"Upstreams":[{"DestinationName":"db","LocalBindPort":9191}]}}}}"#,
    )
    .await;
    let svcs = a.get("/v1/agent/services").await.json();
    let sc = &svcs["web-sidecar-proxy"];
    assert_eq!(sc["Kind"], "connect-proxy", "{svcs}");
    assert_eq!(sc["Service"], "web-sidecar-proxy");
    assert_eq!(sc["Port"], 21000);
    assert_eq!(sc["Tags"][0], "v1");
    let p = &sc["Proxy"];
    assert_eq!(p["DestinationServiceName"], "web");
    assert_eq!(p["DestinationServiceID"], "web");
    assert_eq!(p["LocalServiceAddress"], "127.0.0.1");
    assert_eq!(p["LocalServicePort"], 8080);
    assert_eq!(p["Upstreams"][0]["DestinationName"], "db");
    assert_eq!(p["Upstreams"][0]["DestinationType"], "service");
    assert_eq!(p["Upstreams"][0]["LocalBindPort"], 9191);
    // The parent does not keep SidecarService.
    assert!(svcs["web"].get("Connect").is_none(), "{}", svcs["web"]);
    let checks = a.get("/v1/agent/checks").await.json();
    assert_eq!(
        checks["service:web-sidecar-proxy:1"]["Name"],
        "Connect Sidecar Listening"
    );
    assert_eq!(
        checks["service:web-sidecar-proxy:2"]["Definition"]["AliasService"],
        "web"
    );
    // A second sidecar gets the next port.
    a.register(r#"{"Name":"api","Port":8081,"Connect":{"SidecarService":{}}}"#)
        .await;
    let svcs = a.get("/v1/agent/services").await.json();
    assert_eq!(svcs["api-sidecar-proxy"]["Port"], 21001);
    // The connect lookups find the proxy of web.
    let c = a.get("/v1/catalog/connect/web").await.json();
    assert_eq!(c.as_array().unwrap().len(), 1, "{c}");
    assert_eq!(c[0]["ServiceID"], "web-sidecar-proxy");
    assert_eq!(c[0]["ServiceKind"], "connect-proxy");
    assert_eq!(c[0]["ServiceProxy"]["DestinationServiceName"], "web");
    let h = a.get("/v1/health/connect/web").await.json();
    assert_eq!(h.as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h[0]["Service"]["ID"], "web-sidecar-proxy");
    assert_eq!(
        h[0]["Checks"].as_array().unwrap().len(),
        3,
        "serfHealth + 2"
    );
    assert_eq!(a.get("/v1/catalog/connect/db").await.body, "[]\n");
    // Deregistering the parent removes its sidecar.
    assert_eq!(
        a.put("/v1/agent/service/deregister/web", "").await.status,
        200
    );
    let svcs = a.get("/v1/agent/services").await.json();
    assert!(svcs.get("web-sidecar-proxy").is_none(), "{svcs}");
    assert!(svcs.get("api-sidecar-proxy").is_some());
    a.shutdown().await;
}

#[tokio::test]
async fn connect_proxies_keep_proxy_and_locality() {
    let a = start().await;
    a.register(
        r#"{"Name":"web-proxy","Kind":"connect-proxy","Port":20000,
            "Proxy":{"destination_service_name":"web","local_service_port":8080,"Config":{"protocol":"http"}},
            "Locality":{"Region":"eu-west-1","Zone":"eu-west-1a"}}"#,
    )
    .await;
    let s = a.get("/v1/agent/service/web-proxy").await.json();
    assert_eq!(s["Proxy"]["DestinationServiceName"], "web", "{s}");
    assert_eq!(s["Proxy"]["LocalServicePort"], 8080);
    assert_eq!(s["Proxy"]["Config"]["protocol"], "http");
    assert_eq!(s["Proxy"]["Mode"], "");
    assert_eq!(s["Locality"]["Zone"], "eu-west-1a");
    let c = a.get("/v1/catalog/service/web-proxy").await.json();
    assert_eq!(c[0]["ServiceProxy"]["DestinationServiceName"], "web", "{c}");
    assert_eq!(c[0]["ServiceLocality"]["Region"], "eu-west-1");
    let h = a.get("/v1/health/service/web-proxy").await.json();
    assert_eq!(h[0]["Service"]["Proxy"]["LocalServicePort"], 8080, "{h}");
    assert_eq!(h[0]["Service"]["Locality"]["Region"], "eu-west-1");
    // A typical service still prints the zero Proxy.
    a.register(r#"{"Name":"plain"}"#).await;
    let h = a.get("/v1/health/service/plain").await.json();
    assert_eq!(
        h[0]["Service"]["Proxy"],
        serde_json::json!({"Mode": "", "MeshGateway": {}, "Expose": {}})
    );
    let r = a
        .put(
            "/v1/agent/service/register",
            r#"{"Name":"bad-proxy","Kind":"connect-proxy"}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("Proxy.DestinationServiceName must be non-empty for Connect proxy services"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("Port or SocketPath must be set"),
        "{}",
        r.body
    );
    a.shutdown().await;
}

fn pem_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[tokio::test]
async fn ca_roots_and_leaf_certificates_verify() {
    let a = start().await;
    let r = a.get("/v1/agent/connect/ca/roots").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let roots = r.json();
    let again = a.get("/v1/connect/ca/roots").await.json();
    assert_eq!(roots["ActiveRootID"], again["ActiveRootID"], "a stable ID");
    let td = roots["TrustDomain"].as_str().unwrap().to_string();
    assert!(td.ends_with(".consul"), "{td}");
    let root = &roots["Roots"][0];
    assert_eq!(root["ID"], roots["ActiveRootID"]);
    assert_eq!(root["Active"], true);
    let root_pem = root["RootCert"].as_str().unwrap();
    let root_der = pem_certs(root_pem).remove(0);
    let index = r.index();

    let r = a.get("/v1/agent/connect/ca/leaf/web").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let leaf = r.json();
    let uri = format!("spiffe://{td}/ns/default/dc/dc1/svc/web");
    assert_eq!(leaf["ServiceURI"], uri.as_str());
    assert_eq!(leaf["Service"], "web");
    assert!(leaf["PrivateKeyPEM"]
        .as_str()
        .unwrap()
        .contains("PRIVATE KEY"));
    let leaf_der = pem_certs(leaf["CertPEM"].as_str().unwrap()).remove(0);
    // The SPIFFE ID is the certificate's URI SAN (an IA5String in the DER).
    assert!(
        leaf_der.windows(uri.len()).any(|w| w == uri.as_bytes()),
        "the leaf names {uri}"
    );
    // The chain verifies (as an mTLS client certificate) against the root.
    let mut store = rustls::RootCertStore::empty();
    store.add(root_der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
            .build()
            .unwrap();
    verifier
        .verify_client_cert(&leaf_der, &[], rustls::pki_types::UnixTime::now())
        .expect("the leaf verifies against the root");
    // The same leaf comes back until it nears its end.
    let second = a.get("/v1/agent/connect/ca/leaf/web").await.json();
    assert_eq!(second["SerialNumber"], leaf["SerialNumber"]);
    // Blocking on the roots' index waits for the wait time.
    let t0 = std::time::Instant::now();
    let r = a
        .get(&format!("/v1/connect/ca/roots?index={index}&wait=300ms"))
        .await;
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(250));
    a.shutdown().await;
}

#[tokio::test]
async fn gateway_services_is_an_empty_list_without_an_entry() {
    let a = start().await;
    let r = a.get("/v1/catalog/gateway-services/gw").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "[]\n");
    a.shutdown().await;
}

#[tokio::test]
async fn connect_acls() {
    let a = acl_agent().await;
    let t = token(&a, r#"service "web" { policy = "read" }"#).await;
    denied(
        &call(&a, "GET", "/v1/agent/connect/ca/leaf/web", &t, None).await,
        "service:write",
        "web",
    );
    let w = token(&a, r#"service "web" { policy = "write" }"#).await;
    assert_eq!(
        call(&a, "GET", "/v1/agent/connect/ca/leaf/web", &w, None)
            .await
            .status,
        200
    );
    // Roots need no token.
    assert_eq!(
        call(&a, "GET", "/v1/connect/ca/roots", "", None)
            .await
            .status,
        200
    );
    denied(
        &call(&a, "GET", "/v1/catalog/gateway-services/gw", &t, None).await,
        "service:read",
        "gw",
    );
    a.shutdown().await;
}
