//! templater against a real devagent: rendering, dependencies, quiescence,
//! commands, outages, live template edits, -once and -dry.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{agent_on, file_contains, put, read, register, spawn};

const WEB: &str = r#"{% for s in service(name="web") %}server {{ s.Address }}:{{ s.Port }} # {{ s.ID }}
{% endfor %}"#;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn renders_services_and_follows_health_changes() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    register(&http, &base, r#"{"Name":"web","ID":"w1","Address":"10.0.0.1","Port":80,"Check":{"TTL":"30s","Status":"passing"}}"#).await;
    register(&http, &base, r#"{"Name":"web","ID":"w2","Address":"10.0.0.2","Port":80,"Check":{"TTL":"30s","Status":"critical"}}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let tmpl = write(dir.path(), "web.tmpl", WEB);
    let out = dir.path().join("out/web.conf");
    let runs = dir.path().join("runs");
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-template",
        &format!("{tmpl}:{}:echo run >> {}", out.display(), runs.display()),
        "-wait",
        "50ms:200ms",
    ]);
    assert!(file_contains(&out, "10.0.0.1:80", 5).await, "first render");
    assert!(
        !read(&out).contains("10.0.0.2"),
        "critical instances are left out by default"
    );
    put(&http, &format!("{base}/v1/agent/check/pass/service:w2"), "").await;
    assert!(
        file_contains(&out, "10.0.0.2:80", 5).await,
        "a passing instance joins"
    );
    put(&http, &format!("{base}/v1/agent/service/deregister/w1"), "").await;
    assert!(
        support::eventually(5, || async { !read(&out).contains("10.0.0.1") }).await,
        "a deregistered instance leaves"
    );
    assert!(
        support::eventually(5, || async { read(&runs).lines().count() >= 3 }).await,
        "the command ran after each change"
    );
    assert_eq!(t.stop().await.unwrap(), 0);
    agent.shutdown().await;
}

#[tokio::test]
async fn one_blocking_query_per_unique_dependency() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    put(&http, &format!("{base}/v1/kv/app/port"), "8080").await;
    let dir = tempfile::tempdir().unwrap();
    let tmpl = write(
        dir.path(),
        "t.tmpl",
        &format!("{WEB}port={{{{ key(path=\"app/port\") }}}}\n"),
    );
    let mut args: Vec<String> = vec!["-consul-addr".into(), base.clone()];
    for i in 0..40 {
        args.push("-template".into());
        args.push(format!(
            "{tmpl}:{}",
            dir.path().join(format!("out{i}.conf")).display()
        ));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = spawn(&argv);
    assert!(file_contains(&dir.path().join("out39.conf"), "port=8080", 5).await);
    let blocking = support::eventually(5, || async {
        let m = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        m.lines().any(|l| l == "devagent_blocking_queries 2")
    })
    .await;
    assert!(
        blocking,
        "40 templates over 2 dependencies hold exactly 2 blocking queries"
    );
    t.stop().await.unwrap();
    agent.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_changes_runs_a_shared_command_once_per_wait_window() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.tmpl",
        "{{ key_or_default(path=\"n\", default=\"0\") }}",
    );
    let b = write(
        dir.path(),
        "b.tmpl",
        "b{{ key_or_default(path=\"n\", default=\"0\") }}",
    );
    let runs = dir.path().join("runs");
    let cmd = format!("echo run >> {}", runs.display());
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-wait",
        "300ms:2s",
        "-template",
        &format!("{a}:{}:{cmd}", dir.path().join("a.out").display()),
        "-template",
        &format!("{b}:{}:{cmd}", dir.path().join("b.out").display()),
    ]);
    assert!(file_contains(&dir.path().join("b.out"), "b0", 5).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = read(&runs).lines().count();
    for i in 1..=100 {
        put(&http, &format!("{base}/v1/kv/n"), &i.to_string()).await;
    }
    assert!(file_contains(&dir.path().join("b.out"), "b100", 5).await);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = read(&runs).lines().count();
    assert_eq!(
        after - before,
        1,
        "100 changes, two templates, one shared command: one run"
    );
    t.stop().await.unwrap();
    agent.shutdown().await;
}

/// Two templates on keys `a` and `b` sharing one command (which appends a
/// line to `runs`), both rendered once, with this `-wait`.
struct SharedCommand {
    agent: devagent::AgentHandle,
    http: reqwest::Client,
    base: String,
    t: support::Templater,
    a_out: std::path::PathBuf,
    b_out: std::path::PathBuf,
    runs: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SharedCommand {
    async fn start(wait: &str) -> SharedCommand {
        let agent = agent_on(0).await;
        let base = agent.http_url();
        let http = reqwest::Client::new();
        put(&http, &format!("{base}/v1/kv/a"), "a0").await;
        put(&http, &format!("{base}/v1/kv/b"), "b0").await;
        let dir = tempfile::tempdir().unwrap();
        let ta = write(dir.path(), "a.tmpl", "{{ key(path=\"a\") }}");
        let tb = write(dir.path(), "b.tmpl", "{{ key(path=\"b\") }}");
        let runs = dir.path().join("runs");
        let cmd = format!("echo run >> {}", runs.display());
        let (a_out, b_out) = (dir.path().join("a.out"), dir.path().join("b.out"));
        let t = spawn(&[
            "-consul-addr",
            &base,
            "-wait",
            wait,
            "-template",
            &format!("{ta}:{}:{cmd}", a_out.display()),
            "-template",
            &format!("{tb}:{}:{cmd}", b_out.display()),
        ]);
        assert!(file_contains(&a_out, "a0", 5).await && file_contains(&b_out, "b0", 5).await);
        // Past the first render's quiescence and command.
        tokio::time::sleep(Duration::from_millis(700)).await;
        SharedCommand {
            agent,
            http,
            base,
            t,
            a_out,
            b_out,
            runs,
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn a_shared_command_waits_for_every_template_of_the_burst() {
    // Two templates on different keys share a command; their quiescence
    // timers fire 200 ms apart. The command runs once, after the second.
    let s = SharedCommand::start("500ms:3s").await;
    let (http, base, runs) = (&s.http, &s.base, &s.runs);
    let (a_out, b_out) = (&s.a_out, &s.b_out);
    let before = read(runs).lines().count();
    put(http, &format!("{base}/v1/kv/a"), "a1").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    put(http, &format!("{base}/v1/kv/b"), "b1").await;
    assert!(file_contains(a_out, "a1", 5).await && file_contains(b_out, "b1", 5).await);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        read(runs).lines().count() - before,
        1,
        "two templates written 200 ms apart in one burst: one run"
    );

    // A stream of changes does not hold the command back for ever.
    let before = read(runs).lines().count();
    let mut ran_during_stream = false;
    for i in 0..40 {
        put(http, &format!("{base}/v1/kv/b"), &format!("s{i}")).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        ran_during_stream |= read(runs).lines().count() > before;
    }
    assert!(
        ran_during_stream,
        "4 s of changes with wait.max 3 s: the command ran during them"
    );
    s.t.stop().await.unwrap();
    s.agent.shutdown().await;
}

#[tokio::test]
async fn a_stop_runs_the_command_held_for_a_file_already_written() {
    // a and b share a command; a is written while b's timer still runs, so
    // the command waits for b. A stop in that window must still run it: the
    // file is on disk, and after a restart it would be unchanged.
    let s = SharedCommand::start("1s:10s").await;
    let (http, base, runs) = (&s.http, &s.base, &s.runs);
    let (a_out, b_out) = (&s.a_out, &s.b_out);
    let before = read(runs).lines().count();
    // a is written 1 s after its change, b 1.5 s after a's: the window is 0.5 s.
    put(http, &format!("{base}/v1/kv/a"), "a1").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    put(http, &format!("{base}/v1/kv/b"), "b1").await;
    assert!(file_contains(a_out, "a1", 5).await);
    assert_eq!(read(b_out), "b0", "b's timer still runs");
    assert_eq!(
        read(runs).lines().count(),
        before,
        "the command waits for b"
    );
    assert_eq!(s.t.stop().await.unwrap(), 0);
    assert_eq!(
        read(runs).lines().count(),
        before + 1,
        "the held command ran before templater exited"
    );
    s.agent.shutdown().await;
}

#[tokio::test]
async fn consul_going_away_keeps_files_and_rendering_resumes() {
    let agent = agent_on(0).await;
    let port = agent.http_addr().port();
    let base = agent.http_url();
    let http = reqwest::Client::new();
    put(&http, &format!("{base}/v1/kv/msg"), "hello").await;
    let dir = tempfile::tempdir().unwrap();
    let tmpl = write(dir.path(), "m.tmpl", "msg={{ key(path=\"msg\") }}");
    let out = dir.path().join("m.out");
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-template",
        &format!("{tmpl}:{}", out.display()),
        "-consul-retry-max-backoff",
        "200ms",
    ]);
    assert!(file_contains(&out, "msg=hello", 5).await);
    agent.shutdown().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !t.task.is_finished(),
        "templater does not exit when Consul is down"
    );
    assert_eq!(read(&out), "msg=hello", "the last rendered file stays");
    let agent = agent_on(port).await;
    put(&http, &format!("{base}/v1/kv/msg"), "back").await;
    assert!(
        file_contains(&out, "msg=back", 10).await,
        "rendering resumes"
    );
    t.stop().await.unwrap();
    agent.shutdown().await;
}

#[tokio::test]
async fn template_edits_apply_live_and_broken_edits_keep_the_old_output() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let dir = tempfile::tempdir().unwrap();
    let tmpl = write(
        dir.path(),
        "e.tmpl",
        "v1 {{ env(name=\"HOME\", default=\"x\") | length > 0 }}",
    );
    let out = dir.path().join("e.out");
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-template",
        &format!("{tmpl}:{}", out.display()),
    ]);
    assert!(file_contains(&out, "v1 true", 5).await);
    std::fs::write(&tmpl, "v2 {{ datacenters() | join(sep=\",\") }}").unwrap();
    assert!(
        file_contains(&out, "v2 dc1", 5).await,
        "an edit re-renders without a restart"
    );
    std::fs::write(&tmpl, "v3 {% for x in %}").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        read(&out),
        "v2 dc1",
        "a template that no longer parses keeps the old output"
    );
    t.stop().await.unwrap();
    agent.shutdown().await;
}

#[tokio::test]
async fn once_renders_and_exits_and_reports_missing_keys() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let dir = tempfile::tempdir().unwrap();
    let tmpl = write(
        dir.path(),
        "o.tmpl",
        "{% for s in services() %}{{ s.Name }};{% endfor %}",
    );
    let out = dir.path().join("o.out");
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-once",
        "-template",
        &format!("{tmpl}:{}", out.display()),
    ]);
    let code = tokio::time::timeout(Duration::from_secs(10), t.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(read(&out), "consul;");
    let missing = write(dir.path(), "k.tmpl", "{{ key(path=\"does/not/exist\") }}");
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-once",
        "-template",
        &format!("{missing}:{}", dir.path().join("k.out").display()),
    ]);
    let err = tokio::time::timeout(Duration::from_secs(10), t.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.exit_code(), 14);
    assert!(err.to_string().contains("does/not/exist"), "{err}");
    agent.shutdown().await;
}

#[tokio::test]
async fn bad_templates_do_not_stop_the_others_when_errors_are_not_fatal() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.tmpl", "ok {{ datacenters() | length }}");
    let bad_args = write(dir.path(), "bad.tmpl", "{{ service(nam=\"web\") }}");
    let bad_json = write(
        dir.path(),
        "json.tmpl",
        "{{ key_or_default(path=\"cfg\", default=\"nope\") | parse_json }}",
    );
    // Errors are fatal by default, as in consul-template.
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-template-error-fatal=false",
        "-template",
        &format!("{good}:{}", dir.path().join("good.out").display()),
        "-template",
        &format!("{bad_args}:{}", dir.path().join("bad.out").display()),
        "-template",
        &format!(
            "{}:{}",
            dir.path().join("missing.tmpl").display(),
            dir.path().join("m.out").display()
        ),
        "-template",
        &format!("{bad_json}:{}", dir.path().join("json.out").display()),
    ]);
    assert!(file_contains(&dir.path().join("good.out"), "ok 1", 5).await);
    assert!(!dir.path().join("bad.out").exists());
    assert!(!dir.path().join("json.out").exists());
    assert!(!t.task.is_finished());
    t.stop().await.unwrap();
    agent.shutdown().await;
}
