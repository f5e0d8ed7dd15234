//! ACL helpers for tests of new endpoints: an agent with a management token,
//! tokens made of one rule set, and the 403 that names the permission.

use serde_json::json;

use super::{Reply, TestAgent};

/// The management token of [`acl_agent`].
pub const MGMT: &str = "0f9e8d7c-6b5a-4948-8776-655443322110";

/// A devagent with ACLs on, default deny, and [`MGMT`].
pub async fn acl_agent() -> TestAgent {
    super::start_with(devagent::Agent::builder().initial_management(MGMT)).await
}

/// A request with `token` as `X-Consul-Token` (none when empty).
pub async fn call(
    a: &TestAgent,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> Reply {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = a.http.request(m, format!("{}{}", a.base, path));
    if !token.is_empty() {
        r = r.header("X-Consul-Token", token);
    }
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let resp = r.send().await.unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

/// A token holding one policy with `rules`; returns its SecretID.
pub async fn token(a: &TestAgent, rules: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "p{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let p = json!({"Name": name, "Rules": rules}).to_string();
    let r = call(a, "PUT", "/v1/acl/policy", MGMT, Some(&p)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = json!({"Policies": [{"Name": name}]}).to_string();
    let r = call(a, "PUT", "/v1/acl/token", MGMT, Some(&t)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["SecretID"].as_str().unwrap().to_string()
}

/// A 403 naming the permission (and the resource, when there is one).
pub fn denied(r: &Reply, perm: &str, name: &str) {
    assert_eq!(r.status, 403, "{}", r.body);
    let want = if name.is_empty() {
        format!("lacks permission '{perm}'")
    } else {
        format!("lacks permission '{perm}' on \"{name}\"")
    };
    assert!(r.body.contains(&want), "{} does not contain {want}", r.body);
}
