//! A Consul client this team did not write (py-consul, from PyPI) drives
//! devagent through register, health, KV, session/lock and blocking-query
//! scenarios. CI installs it (`pip install py-consul==1.8.0`).
#![allow(clippy::unwrap_used)]

mod support;

#[tokio::test]
async fn py_consul_scenarios_pass() {
    let a = support::start().await;
    run_script(
        &a,
        "py_consul_scenarios.py",
        "all py-consul scenarios passed",
    )
    .await;
    a.shutdown().await;
}

/// Prepared queries, config entries, the CA, coordinates, operator and
/// snapshots, as py-consul calls them.
#[tokio::test]
async fn py_consul_newer_endpoints_pass() {
    let a = support::start().await;
    run_script(
        &a,
        "py_consul_more.py",
        "all py-consul scenarios of the newer endpoints passed",
    )
    .await;
    a.shutdown().await;
}

/// ACLs as py-consul uses them: bootstrap, policies, tokens, denials.
#[tokio::test]
async fn py_consul_acl_scenarios_pass() {
    let acl = devagent::AclConfig {
        enabled: true,
        default_policy: devagent::DefaultPolicy::Deny,
        ..Default::default()
    };
    let a = support::start_with(devagent::Agent::builder().acl(acl)).await;
    run_script(&a, "py_consul_acl.py", "all py-consul ACL scenarios passed").await;
    a.shutdown().await;
}

async fn run_script(a: &support::TestAgent, name: &str, done: &str) {
    let addr = a.handle.http_addr();
    let script = format!("{}/tests/clients/{name}", env!("CARGO_MANIFEST_DIR"));
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import consul"])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        probe.status.success(),
        "py-consul is missing: run `python3 -m pip install py-consul==1.8.0` (.ci/run does)"
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .args([&script, &addr.ip().to_string(), &addr.port().to_string()])
            .output(),
    )
    .await
    .expect("the scenarios finish within a minute")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "py-consul scenarios failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(done), "{stdout}");
}
