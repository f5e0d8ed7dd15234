//! consul-template's documented examples (docs/templating-language.md),
//! each template as the docs show it, rendered by the real templater
//! binary against real devagents holding the data the docs' outputs imply.
//! Where the docs show no output, the expected one is what
//! consul-template's code gives (said in a comment); where the docs and the
//! code disagree, the code wins and the comment says so. The helpers that
//! need no Consul are in ctfuncs/tests/ct_docs_examples.rs; the Vault,
//! Nomad and Connect CA examples must give templater's clear error.
#![allow(clippy::unwrap_used)]

#[path = "ct_docs/cases.rs"]
mod cases;
mod support;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use cases::{Case, Want};
use devagent::{Agent, AgentConfig, AgentHandle};
use support::put;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_templater");

/// A devagent for datacenter `dc` whose own node is `node1` at `addr`.
async fn agent(dc: &str, addr: &str) -> AgentHandle {
    let config = AgentConfig {
        node_name: "node1".into(),
        datacenter: dc.into(),
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        dns_addr: None,
        advertise_addr: addr.parse::<IpAddr>().unwrap(),
        ..AgentConfig::default()
    };
    Agent::builder().config(config).start().await.unwrap()
}

/// `PUT /v1/catalog/register` of a node and its service.
async fn catalog(http: &reqwest::Client, base: &str, body: &str) {
    let r = http
        .put(format!("{base}/v1/catalog/register"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{body}: {}", r.text().await.unwrap());
}

async fn kv(http: &reqwest::Client, base: &str, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        assert_eq!(put(http, &format!("{base}/v1/kv/{k}"), v).await, 200, "{k}");
    }
}

/// Runs the templater binary once with `args` (and `env`), within 20 s.
async fn templater(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("templater -once finishes")
        .unwrap()
}

/// Renders every case in one `templater -once` run against `base`, with
/// `{{DIR}}` in a template replaced by `dir`; the outputs by case, and stdout.
async fn render(
    base: &str,
    dir: &Path,
    group: &str,
    list: &[Case],
    env: &[(&str, String)],
) -> (HashMap<usize, String>, String) {
    let mut cfg = String::from("consul {\n  retry {\n    attempts = 2\n  }\n}\n");
    for (i, c) in list.iter().enumerate() {
        let src = dir.join(format!("{group}-{i}.ctmpl"));
        let dst = dir.join(format!("{group}-{i}.out"));
        std::fs::write(&src, c.text.replace("{{DIR}}", &dir.display().to_string())).unwrap();
        cfg.push_str(&format!(
            "template {{\n  source = \"{}\"\n  destination = \"{}\"\n}}\n",
            src.display(),
            dst.display()
        ));
    }
    let cfg_path = dir.join(format!("{group}.hcl"));
    std::fs::write(&cfg_path, cfg).unwrap();
    let out = templater(
        &[
            "-once",
            "-consul-addr",
            base,
            "-config",
            &cfg_path.display().to_string(),
        ],
        env,
    )
    .await;
    assert!(
        out.status.success(),
        "{group}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs = (0..list.len())
        .map(|i| {
            let p = dir.join(format!("{group}-{i}.out"));
            (i, std::fs::read_to_string(p).unwrap_or_default())
        })
        .collect();
    (outputs, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn check(group: &str, list: &[Case], outputs: &HashMap<usize, String>, failures: &mut Vec<String>) {
    for (i, c) in list.iter().enumerate() {
        let got = &outputs[&i];
        let ok = match &c.want {
            Want::Exact(w) => got == w,
            Want::Check(f) => f(got),
        };
        if !ok {
            let want = match &c.want {
                Want::Exact(w) => format!("{w:?}"),
                Want::Check(_) => "(a check)".into(),
            };
            failures.push(format!(
                "{group} / {}: {:?}\n  want {want}\n  got  {got:?}",
                c.section, c.text
            ));
        }
    }
}

#[tokio::test]
async fn documented_examples_render_as_documented() {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The main datacenter: the agent's node at 10.5.2.6 (`with node`).
    let main = agent("dc1", "10.5.2.6").await;
    let (mb, nodes_agent, dc2, east) = (
        main.http_url(),
        agent("dc1", "10.4.2.13").await,
        agent("dc2", "10.4.2.6").await,
        agent("east-aws", "10.9.0.1").await,
    );
    cases::load_main(&http, &mb).await;
    cases::load_others(
        &http,
        &nodes_agent.http_url(),
        &dc2.http_url(),
        &east.http_url(),
    )
    .await;
    std::fs::write(d.join("file"), "file contents").unwrap();
    std::fs::write(d.join("ec2_version"), "  4.2.0\n").unwrap();
    let plugin = d.join("my-plugin");
    std::fs::write(&plugin, "#!/bin/sh\necho \"plugin($#):$*\"\n").unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        d.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("PATH", path), ("CLUSTER_ID", "Prod-1".to_string())];

    let mut failures = Vec::new();
    let groups = [
        ("main", mb.clone(), cases::main()),
        ("nodes", nodes_agent.http_url(), cases::nodes()),
        ("dc2", dc2.http_url(), cases::dc2()),
        ("east", east.http_url(), cases::east()),
    ];
    let mut stdout = String::new();
    for (group, base, list) in &groups {
        let (outputs, out) = render(base, d, group, list, &env).await;
        check(group, list, &outputs, &mut failures);
        stdout.push_str(&out);
    }
    // writeToFile's first example wrote the key to the file it names.
    let written = d.join("my/file/path.txt");
    assert_eq!(
        std::fs::read_to_string(&written).unwrap_or_default(),
        "my key's value"
    );
    let mode = std::fs::metadata(&written).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o644
    );
    // spew_dump and spew_printf print to templater's stdout.
    for want in cases::SPEW_STDOUT {
        if !stdout.contains(want) {
            failures.push(format!("stdout lacks {want:?}:\n{stdout}"));
        }
    }
    let total: usize = groups.iter().map(|(_, _, l)| l.len()).sum();
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for a in [main, nodes_agent, dc2, east] {
        a.shutdown().await;
    }
}

#[tokio::test]
async fn documented_examples_that_fail_say_why() {
    let http = reqwest::Client::new();
    let main = agent("dc1", "10.5.2.6").await;
    let base = main.http_url();
    cases::load_main(&http, &base).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = cases::FAILS
        .iter()
        .enumerate()
        .map(|(i, (section, text, want))| {
            let (base, d) = (base.clone(), d.to_path_buf());
            async move {
                let src = d.join(format!("fail-{i}.ctmpl"));
                std::fs::write(&src, text.replace("{{DIR}}", &d.display().to_string())).unwrap();
                let t = format!(
                    "{}:{}",
                    src.display(),
                    d.join(format!("fail-{i}.out")).display()
                );
                let out = templater(&["-once", "-consul-addr", &base, "-template", &t], &[]).await;
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                let fine = out.status.code() == Some(14) && err.contains(want);
                (!fine).then(|| {
                    format!(
                        "{section}: {text:?}\n  want exit 14 and {want:?}\n  got {:?}: {err}",
                        out.status.code()
                    )
                })
            }
        });
    let failures: Vec<String> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases::FAILS.len(),
        failures.join("\n")
    );
    main.shutdown().await;
}
