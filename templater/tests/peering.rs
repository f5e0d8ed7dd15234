//! consul-template's `partitions`, `peerings`, `exportedServices` and
//! `importedServices` through the real binary against a real devagent,
//! which answers as Consul CE: empty peering lists (no peers, no config
//! entries on one dev agent) and no `/v1/partitions` at all (404: an
//! Enterprise feature). A function whose endpoint Consul does not serve is
//! an error naming the function and why, at once: never a render that
//! waits forever.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::{agent_on, file_contains, put, read};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_templater");

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// `templater -once` with `args`, within 10 s.
async fn once(args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .arg("-once")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("templater exits")
        .unwrap()
}

#[tokio::test]
async fn peering_lists_render_empty_and_partitions_fail_at_once() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The lists, as consul-template's docs use them, with their Go types.
    let tmpl = write(
        d,
        "peers.ctmpl",
        "{{ range peerings }}\n{{ .Name }}{{ else }}no peers{{ end }}\n\
         {{ peerings \"?partition=default\" }} {{ printf \"%T\" peerings }}\n\
         {{ exportedServices }} {{ exportedServices \"default\" | len }} {{ printf \"%T\" exportedServices }}\n\
         {{ importedServices \"\" }} {{ printf \"%T\" (importedServices \"default\") }}\n",
    );
    let out = d.join("peers.txt");
    let o = once(&[
        "-consul-addr",
        &base,
        "-template",
        &format!("{tmpl}:{}", out.display()),
    ])
    .await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        read(&out),
        "no peers\n[] []*dependency.Peering\n[] 0 []dependency.ExportedService\n\
         [] []dependency.ImportedService\n"
    );

    // partitions: devagent, like Consul CE, has no /v1/partitions.
    let tmpl = write(
        d,
        "parts.ctmpl",
        "line one\n{{ range partitions }}{{ .Name }}{{ end }}\n",
    );
    let out = d.join("parts.txt");
    let started = Instant::now();
    let o = once(&[
        "-consul-addr",
        &base,
        "-template",
        &format!("{tmpl}:{}", out.display()),
    ])
    .await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(14), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for part in [
        "parts.ctmpl:2",
        "partitions",
        "/v1/partitions",
        "404",
        "Invalid URL path",
        "Consul Enterprise",
    ] {
        assert!(err.contains(part), "{part:?} in {err}");
    }
    assert!(!out.exists());

    // Arguments as consul-template takes them.
    for (text, problem) in [
        (
            "{{ peerings \"web\" }}",
            "list.peering: invalid format: \"web\"",
        ),
        ("{{ peerings \"?color=red\" }}", "\"color\""),
        ("{{ peerings \"@dc2\" }}", "invalid format"),
        (
            "{{ exportedServices \"a\" \"b\" }}",
            "exportedServices: wrong number of arguments, expected 0 or 1",
        ),
        (
            "{{ importedServices }}",
            "wrong number of args for importedServices",
        ),
        (
            "{{ partitions \"x\" }}",
            "wrong number of args for partitions",
        ),
    ] {
        let tmpl = write(d, "bad.ctmpl", text);
        let o = once(&[
            "-consul-addr",
            &base,
            "-template",
            &format!("{tmpl}:{}", d.join("bad.txt").display()),
        ])
        .await;
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(14), "{text}: {err}");
        assert!(err.contains(problem), "{text}: {problem:?} in {err}");
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn with_error_fatal_off_a_partitions_template_keeps_its_last_file_and_others_render() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let parts = write(d, "parts.ctmpl", "{{ key \"app/v\" }} {{ partitions }}");
    let other = write(d, "other.ctmpl", "v={{ key \"app/v\" }}");
    let parts_out = d.join("parts.txt");
    let other_out = d.join("other.txt");
    std::fs::write(&parts_out, "last good").unwrap();
    let cfg = write(
        d,
        "templater.hcl",
        &format!(
            "template {{\n  source = \"{parts}\"\n  destination = \"{}\"\n  error_fatal = false\n}}\n\
             template {{\n  source = \"{other}\"\n  destination = \"{}\"\n}}\n",
            parts_out.display(),
            other_out.display()
        ),
    );
    let mut child = Command::new(BIN)
        .args(["-consul-addr", &base, "-config", &cfg])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    put(&http, &format!("{base}/v1/kv/app/v"), "1").await;
    assert!(file_contains(&other_out, "v=1", 5).await);
    put(&http, &format!("{base}/v1/kv/app/v"), "2").await;
    assert!(file_contains(&other_out, "v=2", 5).await);
    assert_eq!(read(&parts_out), "last good");
    assert!(child.try_wait().unwrap().is_none(), "still running");
    child.kill().await.unwrap();
    agent.shutdown().await;
}
