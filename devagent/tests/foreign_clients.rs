//! A Consul client this team did not write (py-consul, from PyPI) drives
//! devagent through register, health, KV, session/lock and blocking-query
//! scenarios. CI installs it (`pip install py-consul==1.8.0`).
#![allow(clippy::unwrap_used)]

mod support;

#[tokio::test]
async fn py_consul_scenarios_pass() {
    let a = support::start().await;
    let addr = a.handle.http_addr();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/py_consul_scenarios.py"
    );
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
            .args([script, &addr.ip().to_string(), &addr.port().to_string()])
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
    assert!(
        stdout.contains("all py-consul scenarios passed"),
        "{stdout}"
    );
    a.shutdown().await;
}
