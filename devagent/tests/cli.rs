//! The `devagent` binary takes `consul agent` flags, prints one parseable
//! line with the ports it picked, and stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_devagent");

#[tokio::test]
async fn version_prints_consul_json() {
    let out = Command::new(BIN)
        .args(["version", "-format=json"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Version"], devagent::CONSUL_VERSION);
    let out = Command::new(BIN).arg("version").output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Consul v"));
}

#[tokio::test]
async fn agent_prints_its_ports_serves_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "agent",
            "-dev",
            "-http-port=0",
            "-dns-port",
            "0",
            "-node",
            "cli-node",
            "-hcl",
            "x = 1",
            "-log-level=warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    let http = field("http");
    assert!(
        !http.ends_with(":0") && !field("dns").ends_with(":0"),
        "{line}"
    );
    let me: serde_json::Value = reqwest::get(format!("http://{http}/v1/agent/self"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["Config"]["NodeName"], "cli-node");
    let pid = pid_of(&child);
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

/// A supervisor that sends SIGTERM the moment it has read the listening
/// line still gets a clean shutdown (exit 0), never the default kill.
#[tokio::test]
async fn sigterm_right_after_the_listening_line_is_a_clean_shutdown() {
    for round in 0..20 {
        let mut child = Command::new(BIN)
            .args([
                "agent",
                "-dev",
                "-http-port=0",
                "-dns-port=0",
                "-log-level=error",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &pid_of(&child)])
            .status()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "round {round}: {status}");
    }
}

fn pid_of(child: &tokio::process::Child) -> String {
    child.id().unwrap().to_string()
}

#[tokio::test]
async fn bad_flags_and_config_fail_with_a_message() {
    let out = Command::new(BIN)
        .args(["agent", "-no-such-flag"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-flag"));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.json");
    std::fs::write(&f, "{ nope").unwrap();
    let out = Command::new(BIN)
        .args(["agent", "-config-file", f.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("c.json"));
}
