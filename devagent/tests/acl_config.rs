//! The `acl { ... }` block of a config file, as the `devagent` binary reads
//! it: HCL and JSON, legacy names, the advice it logs at start, an empty
//! `initial_management` that is no token, and no token in any log line.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_devagent");

struct Running {
    child: Child,
    http: String,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// Starts the binary with `config` as `agent.<ext>`, plus `args`.
async fn run(config: &str, ext: &str, args: &[&str]) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("agent.{ext}"));
    std::fs::write(&file, config).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "agent",
            "-dev",
            "-http-port=0",
            "-dns-port=0",
            "-config-file",
        ])
        .arg(&file)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let sink = Arc::clone(&stderr);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = err.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the agent starts within 10 s")
        .unwrap()
        .unwrap_or_else(|| panic!("no listening line: {}", stderr.lock().unwrap()));
    let http = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .unwrap()
        .to_string();
    Running {
        child,
        http,
        stderr,
        _dir: dir,
    }
}

impl Running {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = reqwest::Client::new().get(format!("http://{}{path}", self.http));
        if let Some(t) = token {
            r = r.header("X-Consul-Token", t);
        }
        r.send().await.unwrap()
    }

    async fn put(&self, path: &str, token: Option<&str>, body: &str) -> reqwest::Response {
        let mut r = reqwest::Client::new()
            .put(format!("http://{}{path}", self.http))
            .body(body.to_string());
        if let Some(t) = token {
            r = r.header("X-Consul-Token", t);
        }
        r.send().await.unwrap()
    }

    /// Stops the agent with SIGTERM and returns everything it logged.
    async fn stop(mut self) -> String {
        let pid = self.child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let text = self.stderr.lock().unwrap().clone();
        text
    }
}

#[tokio::test]
async fn default_deny_without_a_management_token_starts_and_says_how_to_bootstrap() {
    let a = run(
        "acl {\n  enabled = true\n  default_policy = \"deny\"\n  down_policy = \"extend-cache\"\n}\n",
        "hcl",
        &["-log-level=info"],
    )
    .await;
    let r = a.get("/v1/catalog/nodes", None).await;
    assert_eq!(
        r.headers()["X-Consul-Default-ACL-Policy"].to_str().unwrap(),
        "deny"
    );
    assert_eq!(r.text().await.unwrap().trim(), "[]");
    let t: serde_json::Value = a
        .put("/v1/acl/bootstrap", None, "")
        .await
        .json()
        .await
        .unwrap();
    let secret = t["SecretID"].as_str().unwrap().to_string();
    let nodes: serde_json::Value = a
        .get("/v1/catalog/nodes", Some(&secret))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nodes.as_array().unwrap().len(), 1);
    let log = a.stop().await;
    assert!(
        log.contains("/v1/acl/bootstrap") && log.contains("default_policy \"deny\""),
        "{log}"
    );
    assert!(!log.contains(&secret), "the bootstrap secret is not logged");
}

#[tokio::test]
async fn json_config_with_legacy_names() {
    let m = "5d4c3b2a-1908-4776-8554-433221100fed";
    let a = run(
        &format!(r#"{{"acl": {{"enabled": true, "default_policy": "deny", "tokens": {{"master": "{m}"}}}}}}"#),
        "json",
        &[],
    )
    .await;
    let nodes: serde_json::Value = a
        .get("/v1/catalog/nodes", Some(m))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nodes.as_array().unwrap().len(), 1);
    let r = a.put("/v1/acl/bootstrap", None, "").await;
    assert_eq!(
        r.status(),
        403,
        "the initial management token was the bootstrap"
    );
    a.stop().await;
}

#[tokio::test]
async fn an_empty_initial_management_is_not_a_token() {
    let a = run(
        "acl {\n  enabled = true\n  default_policy = \"deny\"\n  tokens {\n    initial_management = \"\"\n  }\n}\n",
        "hcl",
        &["-log-level=info"],
    )
    .await;
    let r = a.get("/v1/kv/?recurse", Some("")).await;
    assert_eq!(r.status(), 404, "an empty token is the anonymous token");
    let r = a.put("/v1/kv/x", Some(""), "v").await;
    assert_eq!(r.status(), 403);
    assert_eq!(a.put("/v1/acl/bootstrap", None, "").await.status(), 200);
    let log = a.stop().await;
    assert!(
        log.contains("acl.tokens.initial_management is empty"),
        "{log}"
    );
}

#[tokio::test]
async fn acls_on_with_default_allow_are_logged_as_open() {
    let a = run("acl {\n  enabled = true\n}\n", "hcl", &["-log-level=info"]).await;
    assert_eq!(a.put("/v1/kv/x", None, "v").await.status(), 200);
    let log = a.stop().await;
    assert!(
        log.contains("default_policy \"allow\"")
            && log.contains("Set acl.default_policy = \"deny\""),
        "{log}"
    );
}

#[tokio::test]
async fn tokens_never_reach_the_logs() {
    let m = "a1b2c3d4-e5f6-4789-8abc-def012345678";
    let cfg = format!(
        "acl {{\n enabled = true\n default_policy = \"deny\"\n tokens {{\n  initial_management = \"{m}\"\n  agent = \"agent-secret-9f8e7d\"\n  dns = \"dns-secret-6c5b4a\"\n }}\n}}\n"
    );
    let a = run(&cfg, "hcl", &["-log-level=trace"]).await;
    let t: serde_json::Value = a
        .put(
            "/v1/acl/token",
            Some(m),
            r#"{"Description":"x","Policies":[{"Name":"global-management"}]}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    let created = t["SecretID"].as_str().unwrap().to_string();
    a.get(&format!("/v1/kv/a?token={created}"), None).await;
    a.get("/v1/kv/a", Some("wrong-token-31337")).await;
    a.put(
        "/v1/agent/token/default",
        Some(m),
        r#"{"Token":"default-secret-424242"}"#,
    )
    .await;
    a.put("/v1/acl/bootstrap", None, "").await;
    let log = a.stop().await;
    assert!(log.contains("Updated agent's ACL token"), "{log}");
    for secret in [
        m,
        "agent-secret-9f8e7d",
        "dns-secret-6c5b4a",
        created.as_str(),
        "wrong-token-31337",
        "default-secret-424242",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[tokio::test]
async fn the_flag_turns_acls_on_with_default_deny() {
    let m = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
    let a = run("", "hcl", &["-acl-initial-management-token", m]).await;
    assert_eq!(a.put("/v1/kv/x", None, "v").await.status(), 403);
    assert_eq!(a.put("/v1/kv/x", Some(m), "v").await.status(), 200);
    a.stop().await;
}

/// The `hcl` blocks of the README's ACL section, in order.
fn readme_acl_blocks() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("<!-- acl-example")
        .nth(1)
        .expect("the README has the ACL example")
        .split("\n## ")
        .next()
        .unwrap()
        .to_string();
    section
        .split("```hcl\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_readme_acl_example_runs_as_written() {
    let blocks = readme_acl_blocks();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let a = run(&blocks[0], "hcl", &["-log-level=info"]).await;
    let boot: serde_json::Value = a
        .put("/v1/acl/bootstrap", None, "")
        .await
        .json()
        .await
        .unwrap();
    let m = boot["SecretID"].as_str().unwrap().to_string();
    let policy = serde_json::json!({"Name": "worker", "Rules": blocks[1]}).to_string();
    assert_eq!(
        a.put("/v1/acl/policy", Some(&m), &policy).await.status(),
        200
    );
    let t: serde_json::Value = a
        .put(
            "/v1/acl/token",
            Some(&m),
            r#"{"Policies":[{"Name":"worker"}]}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    let w = t["SecretID"].as_str().unwrap().to_string();
    assert_eq!(
        a.put("/v1/kv/worker/size", Some(&m), "3").await.status(),
        200
    );
    let reg = |name: &str| format!(r#"{{"Name":"{name}","Port":9000}}"#);
    assert_eq!(
        a.put("/v1/agent/service/register", Some(&w), &reg("worker"))
            .await
            .status(),
        200
    );
    let r = a
        .put("/v1/agent/service/register", Some(&w), &reg("web"))
        .await;
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("lacks permission 'service:write' on \"web\""),
        "{body}"
    );
    assert_eq!(a.get("/v1/kv/worker/size", Some(&w)).await.status(), 200);
    assert_eq!(a.get("/v1/kv/other", Some(&w)).await.status(), 403);
    let seen: serde_json::Value = a
        .get("/v1/health/service/worker", Some(&w))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen.as_array().unwrap().len(), 1);
    let log = a.stop().await;
    assert!(log.contains("/v1/acl/bootstrap"), "{log}");
}
