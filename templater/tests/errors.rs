//! Errors as consul-template has them, through the real binary against a
//! real devagent: `-once` exits 14 at once with the template, the line and
//! the problem; in the daemon `error_fatal` (default true) and
//! `-template-error-fatal` decide between exit 14 and keeping the last good
//! file; a Consul outage is never a template error; templates nested too
//! deep are refused with their line instead of overflowing the stack.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::{agent_on, eventually, file_contains, put, read};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_templater");

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn templater(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Waits (at most `secs`) for the process to exit; its output.
async fn exited(child: Child, secs: u64) -> Output {
    tokio::time::timeout(Duration::from_secs(secs), child.wait_with_output())
        .await
        .expect("templater exits")
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn once_exits_14_with_the_template_the_line_and_the_problem() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    put(&http, &format!("{base}/v1/kv/cfg"), "{not json").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let undefined = write(
        d,
        "undefined.tera",
        "upstream {\n  {{ undefined_var }}\n}\n",
    );
    let json = write(
        d,
        "json.tmpl",
        "a\nb\n{{ key(path=\"cfg\") | parse_json | json_encode }}\n",
    );
    // The same failures in consul-template's Go syntax: an unknown
    // function is a parse error, a failing call an execution error, both
    // with the line (and Go's column).
    let go_undefined = write(
        d,
        "undefined.ctmpl",
        "upstream {\n  {{ undefined_var }}\n}\n",
    );
    let go_index = write(d, "index.ctmpl", "a\nb\n{{ index (key \"cfg\") 99 }}\n");
    for (tmpl, line, problem) in [
        (&undefined, 2, "Variable `undefined_var` not found"),
        (&json, 3, "parse_json"),
        (&go_undefined, 2, "function \"undefined_var\" not defined"),
        (&go_index, 3, "error calling index: index out of range: 99"),
    ] {
        let started = Instant::now();
        let child = templater(&[
            "-once",
            "-consul-addr",
            &base,
            "-template",
            &format!("{tmpl}:{}", d.join("out").display()),
        ]);
        let out = exited(child, 10).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(14), "{err}");
        assert!(
            (err.contains(&format!("template {tmpl}:{line}: "))
                || err.contains(&format!("template: {tmpl}:{line}:")))
                && err.contains(problem),
            "{err}"
        );
        // Start, one Consul answer, the render: well within a second of it.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(!d.join("out").exists());
    }
    agent.shutdown().await;
}

/// `error_fatal` in the template block and `-template-error-fatal`, as
/// consul-template has them: fatal by default, the flag over the block.
#[tokio::test]
async fn error_fatal_decides_between_exit_14_and_the_last_good_file() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmpl = write(
        d,
        "app.tmpl",
        "# app\n{% set c = key(path=\"app\") | parse_json %}\nport = {{ c.port }}\n",
    );
    let cases: [(Option<bool>, Option<&str>, bool); 5] = [
        (None, None, true),
        (Some(false), None, false),
        (Some(true), None, true),
        (Some(false), Some("-template-error-fatal=true"), true),
        (Some(true), Some("-template-error-fatal=false"), false),
    ];
    for (n, (block, flag, fatal)) in cases.into_iter().enumerate() {
        let key = format!("{base}/v1/kv/app");
        put(&http, &key, "{\"port\": 80}").await;
        let out = d.join(format!("app{n}.conf"));
        let setting = block.map_or(String::new(), |b| format!("  error_fatal = {b}\n"));
        let hcl = write(
            d,
            &format!("c{n}.hcl"),
            &format!(
                "template {{\n  source = \"{tmpl}\"\n  destination = \"{}\"\n{setting}}}\n",
                out.display()
            ),
        );
        let mut args = vec!["-consul-addr", &base, "-config", &hcl];
        args.extend(flag);
        let mut child = templater(&args);
        let case = format!("error_fatal {block:?}, flag {flag:?}");
        assert!(file_contains(&out, "port = 80", 10).await, "{case}");
        let good = read(&out);
        put(&http, &key, "{\"port\": ").await;
        if fatal {
            let status = exited(child, 10).await;
            let err = stderr(&status);
            assert_eq!(status.status.code(), Some(14), "{case}: {err}");
            assert!(
                err.contains(&format!("template {tmpl}:2: ")) && err.contains("parse_json"),
                "{case}: {err}"
            );
            assert_eq!(read(&out), good, "{case}");
            continue;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(child.try_wait().unwrap().is_none(), "{case}: still running");
        assert_eq!(read(&out), good, "{case}: the last good file stays");
        // Retried on the next change.
        put(&http, &key, "{\"port\": 81}").await;
        assert!(file_contains(&out, "port = 81", 10).await, "{case}");
        child.kill().await.unwrap();
    }
    agent.shutdown().await;
}

#[tokio::test]
async fn a_consul_outage_is_never_a_template_error() {
    let agent = agent_on(0).await;
    let port = agent.http_addr().port();
    let base = agent.http_url();
    let http = reqwest::Client::new();
    put(&http, &format!("{base}/v1/kv/msg"), "hello").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmpl = write(
        d,
        "m.tmpl",
        "msg={{ key(path=\"msg\") }}\n{% for s in service(name=\"web\") %}{{ s.Port }}{% endfor %}\n",
    );
    let out = d.join("m.out");
    let status = testkit::free_port().to_string();
    let status_addr = format!("127.0.0.1:{status}");
    // error_fatal is true by default: an outage must not count as an error.
    let mut child = templater(&[
        "-consul-addr",
        &base,
        "-template",
        &format!("{tmpl}:{}", out.display()),
        "-consul-retry-max-backoff",
        "200ms",
        "-status-addr",
        &status_addr,
    ]);
    assert!(file_contains(&out, "msg=hello", 10).await);
    agent.shutdown().await;
    let health = format!("http://{status_addr}/health");
    assert!(
        eventually(10, || async {
            http.get(&health)
                .send()
                .await
                .is_ok_and(|r| r.status() == 503)
        })
        .await,
        "/health reports the outage"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(read(&out), "msg=hello\n\n", "the last file stays");
    let agent = agent_on(port).await;
    put(&http, &format!("{base}/v1/kv/msg"), "back").await;
    assert!(
        file_contains(&out, "msg=back", 10).await,
        "rendering resumes"
    );
    child.kill().await.unwrap();
    agent.shutdown().await;

    // `-once` gives up after its retries: exit 14, naming Consul.
    let child = templater(&[
        "-once",
        "-consul-addr",
        &format!("127.0.0.1:{}", testkit::free_port()),
        "-consul-retry-attempts",
        "2",
        "-consul-retry-backoff",
        "50ms",
        "-template",
        &format!("{tmpl}:{}", out.display()),
    ]);
    let status = exited(child, 20).await;
    assert_eq!(status.status.code(), Some(14), "{}", stderr(&status));
    assert!(
        stderr(&status).contains("Consul did not answer"),
        "{}",
        stderr(&status)
    );
}

fn deep(n: usize) -> String {
    let mut s = String::from("ok\n");
    for _ in 0..n {
        s.push_str("{% if true %}\n");
    }
    for _ in 0..n {
        s.push_str("{% endif %}");
    }
    s
}

/// 100,000 nested blocks: `templater check`, `-once` and the daemon refuse
/// the template with its line (they aborted with a stack overflow).
#[tokio::test]
async fn a_template_nested_too_deep_is_an_error_with_its_line() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmpl = write(d, "deep.tmpl", &deep(100_000));
    let parens = write(
        d,
        "parens.tera",
        &format!(
            "a\n{{{{ {}1{} }}}}\n",
            "(".repeat(100_000),
            ")".repeat(100_000)
        ),
    );
    let good = write(d, "good.tmpl", "good\n");
    let go_deep = write(
        d,
        "deep.ctmpl",
        &format!(
            "ok\n{}{}",
            "{{ if true }}\n".repeat(100_000),
            "{{ end }}".repeat(100_000)
        ),
    );
    let spec = |t: &str, out: &str| format!("{t}:{}", d.join(out).display());
    let line = format!("template {tmpl}:102: blocks nested 101 levels deep");

    let out = exited(
        templater(&[
            "check",
            "-template",
            &spec(&tmpl, "deep.out"),
            "-template",
            &spec(&parens, "parens.out"),
            "-template",
            &spec(&go_deep, "go.out"),
        ]),
        20,
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{tmpl}:102: blocks nested 101 levels deep")),
        "{err}"
    );
    assert!(err.contains(&format!("{parens}:2: an expression")), "{err}");
    assert!(
        err.contains(&format!("{go_deep}:102: nesting deeper than 100 levels")),
        "{err}"
    );

    for once in [true, false] {
        let mut args = vec!["-consul-addr", &base];
        if once {
            args.push("-once");
        }
        let spec = spec(&tmpl, "deep.out");
        args.extend(["-template", &spec]);
        let out = exited(templater(&args), 20).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(14), "once {once}: {err}");
        assert!(err.contains(&line), "once {once}: {err}");
    }

    // Not fatal: the other templates render and templater runs on.
    let mut child = templater(&[
        "-consul-addr",
        &base,
        "-template-error-fatal=false",
        "-template",
        &spec(&tmpl, "deep.out"),
        "-template",
        &spec(&good, "good.out"),
    ]);
    assert!(file_contains(&d.join("good.out"), "good", 10).await);
    assert!(child.try_wait().unwrap().is_none());
    assert!(!d.join("deep.out").exists());
    child.kill().await.unwrap();
    agent.shutdown().await;
}
