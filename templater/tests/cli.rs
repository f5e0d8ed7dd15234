//! The templater binary: `check`, `-dry`, `-exec`, SIGHUP, the status
//! listener, and clean stops on SIGINT/SIGTERM.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{agent_on, file_contains, put, read};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_templater");

fn kill(child: &tokio::process::Child, sig: &str) {
    std::process::Command::new("kill")
        .args([sig, &child.id().unwrap().to_string()])
        .status()
        .unwrap();
}

#[tokio::test]
async fn check_reports_every_problem_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ok.tmpl"),
        "{% for s in service(name=\"web\") %}{{ s.Address }}{% endfor %}",
    )
    .unwrap();
    std::fs::write(d.join("syntax.tmpl"), "line one\n{% for s in %}\n").unwrap();
    std::fs::write(d.join("unknown.tmpl"), "a\nb {{ servce(name=\"web\") }}\n").unwrap();
    // Nothing marks this one as tera but its name.
    std::fs::write(d.join("filter.tera"), "{{ \"x\" | frobnicate }}").unwrap();
    std::fs::write(
        d.join("go.ctmpl"),
        "ok\n{{ range service \"web\" }}\n{{ servce \"x\" }}{{ end }}",
    )
    .unwrap();
    std::fs::write(
        d.join("tera.ctmpl"),
        "{% for s in service(name=\"web\") %}{{ s.Address }}{% endfor %}",
    )
    .unwrap();
    std::fs::write(d.join("args.tmpl"), "{{ key(pth=\"a\") }}").unwrap();
    std::fs::write(
        d.join("cfg.hcl"),
        format!(
            "template {{\n  source = \"{0}/ok.tmpl\"\n  destination = \"{0}/ok.out\"\n}}\n\
         template {{\n  source = \"{0}/syntax.tmpl\"\n  destination = \"{0}/s.out\"\n}}\n\
         template {{\n  source = \"{0}/unknown.tmpl\"\n  destination = \"{0}/u.out\"\n}}\n\
         template {{\n  source = \"{0}/filter.tera\"\n  destination = \"{0}/f.out\"\n}}\n\
         template {{\n  source = \"{0}/go.ctmpl\"\n  destination = \"{0}/g.out\"\n}}\n\
         template {{\n  source = \"{0}/tera.ctmpl\"\n  destination = \"{0}/t.out\"\n}}\n\
         template {{\n  source = \"{0}/args.tmpl\"\n  destination = \"{0}/a.out\"\n}}\n\
         template {{\n  source = \"{0}/missing.tmpl\"\n  destination = \"{0}/m.out\"\n}}\n",
            d.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "-config", &d.join("cfg.hcl").display().to_string()])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("syntax.tmpl") && err.contains("2:"),
        "syntax error with line: {err}"
    );
    assert!(
        err.contains("unknown.tmpl:2: unknown function `servce`"),
        "{err}"
    );
    assert!(err.contains("unknown filter `frobnicate`"), "{err}");
    assert!(
        err.contains("go.ctmpl:3: function \"servce\" not defined"),
        "a Go template's unknown function with its line: {err}"
    );
    assert!(
        err.contains("tera.ctmpl") && err.contains("looks like a tera template"),
        "a tera template named .ctmpl gets a hint: {err}"
    );
    assert!(err.contains("unknown argument `pth`"), "{err}");
    assert!(
        err.contains("missing.tmpl") && err.contains("cannot read"),
        "{err}"
    );
    assert!(
        !err.contains("ok.tmpl"),
        "a good template is not reported: {err}"
    );

    std::fs::write(
        d.join("good.hcl"),
        format!(
            "template {{\n  source = \"{0}/ok.tmpl\"\n  destination = \"{0}/ok.out\"\n}}\n",
            d.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "check",
            "-config",
            &d.join("good.hcl").display().to_string(),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(d.join("bad.hcl"), "template {\n  sorce = \"x\"\n}\n").unwrap();
    let out = Command::new(BIN)
        .args(["check", "-config", &d.join("bad.hcl").display().to_string()])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.hcl:2"));
}

#[tokio::test]
async fn dry_once_prints_and_flag_errors_exit_13() {
    let agent = agent_on(0).await;
    let dir = tempfile::tempdir().unwrap();
    let tmpl = dir.path().join("t.tmpl");
    std::fs::write(&tmpl, "dcs={{ datacenters() | join(sep=\",\") }}").unwrap();
    let out = Command::new(BIN)
        .args([
            "-consul-addr",
            &agent.http_url(),
            "-dry",
            "-once",
            "-template",
            &format!("{}:/nonexistent/out", tmpl.display()),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "> /nonexistent/out\ndcs=dc1"
    );
    let out = Command::new(BIN)
        .args(["-vault-addr", "x"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(13));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-vault-addr"));
    agent.shutdown().await;
}

#[tokio::test]
async fn sighup_reloads_and_sigterm_stops_cleanly_with_a_status_listener() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    put(&http, &format!("{base}/v1/kv/greeting"), "hello").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.tmpl"), "a={{ key(path=\"greeting\") }}").unwrap();
    let cfg = d.join("cfg.json");
    let write_cfg = |dest: &str| {
        std::fs::write(&cfg, format!(r#"{{"template": {{"source": "{0}/a.tmpl", "destination": "{0}/{dest}"}}, "status_addr": "127.0.0.1:0"}}"#, d.display())).unwrap();
    };
    write_cfg("one.out");
    let status_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args([
            "-consul-addr",
            &base,
            "-config",
            &cfg.display().to_string(),
            "-status-addr",
            &format!("127.0.0.1:{status_port}"),
            "-pid-file",
            &d.join("pid").display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert!(file_contains(&d.join("one.out"), "a=hello", 10).await);
    assert_eq!(read(&d.join("pid")).trim(), child.id().unwrap().to_string());
    let health = http
        .get(format!("http://127.0.0.1:{status_port}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = http
        .get(format!("http://127.0.0.1:{status_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("templater_renders_total") && metrics.contains("dcy_watch_requests_total"),
        "{metrics}"
    );

    // The config changes on disk and SIGHUP reloads it (the file watcher may win the race).
    write_cfg("two.out");
    kill(&child, "-HUP");
    assert!(
        file_contains(&d.join("two.out"), "a=hello", 10).await,
        "reloaded config renders the new destination"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running after the reload"
    );
    kill(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM stops cleanly, even without an exec child"
    );
    assert!(!d.join("pid").exists(), "the pid file is removed");
    agent.shutdown().await;
}

#[tokio::test]
async fn exec_mode_starts_the_child_after_rendering_and_exits_with_its_code() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    put(&http, &format!("{base}/v1/kv/v"), "1").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.tmpl"), "v={{ key(path=\"v\") }}").unwrap();
    let out = d.join("t.out");
    let starts = d.join("starts");
    // The child records each start, then waits; restarted on change.
    let script = format!(
        "cat {} >> {}; echo >> {}; sleep 30",
        out.display(),
        starts.display(),
        starts.display()
    );
    let mut child = Command::new(BIN)
        .args([
            "-consul-addr",
            &base,
            "-template",
            &format!("{}:{}", d.join("t.tmpl").display(), out.display()),
            "-exec",
            &script,
            "-exec-kill-timeout",
            "1s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert!(
        file_contains(&starts, "v=1", 10).await,
        "the child starts after the first render and sees it"
    );
    put(&http, &format!("{base}/v1/kv/v"), "2").await;
    assert!(
        file_contains(&starts, "v=2", 10).await,
        "a change restarts the child"
    );
    kill(&child, "-INT");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.code().is_some());

    let once = Command::new(BIN)
        .args([
            "-consul-addr",
            &base,
            "-once",
            "-template",
            &format!("{}:{}", d.join("t.tmpl").display(), out.display()),
            "-exec",
            "sh -c 'exit 7'",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(
        once.status.code(),
        Some(7),
        "with -once, templater exits with the child's code"
    );
    agent.shutdown().await;
}
