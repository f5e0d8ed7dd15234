//! Definition files whose checks are script (`args`), alias and UDP checks
//! are registered by `registrar sync` and run by the agent (a devagent with
//! `enable_script_checks`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{eventually, Api, Registrar};

#[tokio::test(flavor = "multi_thread")]
async fn script_and_alias_checks_of_definition_files_run() {
    let agent = devagent::Agent::builder()
        .http_port(0)
        .without_dns()
        .node_name("node1")
        .min_check_interval(Duration::from_millis(100))
        .enable_script_checks(true)
        .start()
        .await
        .unwrap();
    let http = agent.http_addr();
    let api = Api::new(http);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("batch.hcl"),
        r#"service {
  name = "batch"
  port = 9000
  check {
    id = "batch-script"
    args = ["/bin/sh", "-c", "echo queue ok"]
    interval = "100ms"
  }
}
service {
  name = "batch-proxy"
  port = 9001
  check {
    id = "batch-alias"
    alias_service = "batch"
  }
}
"#,
    )
    .unwrap();
    let d = tmp.path().display().to_string();
    let _r = Registrar::start(http, &["sync", "-sync-interval", "500ms", &d]);
    let checks = || async { api.get("/v1/agent/checks").await.unwrap_or_default() };
    let ok = eventually(15, || async {
        let c = checks().await;
        c["batch-script"]["Status"] == "passing" && c["batch-alias"]["Status"] == "passing"
    })
    .await;
    let c = checks().await;
    assert!(ok, "both checks pass: {c}");
    assert_eq!(c["batch-script"]["Output"], "queue ok\n");
    assert_eq!(c["batch-script"]["Type"], "script");
    assert_eq!(c["batch-alias"]["Type"], "alias");
    agent.shutdown().await;
}
