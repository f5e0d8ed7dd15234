//! `registrar run` around real programs (python's http.server, nginx, sh,
//! sleep) against an in-process devagent: registration as passing, DNS,
//! signals, exit codes, and the faults (exits at once, never ready, Consul
//! down at start, a service ID someone else holds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::{agent_on, dig_srv, eventually, free_port, Api, Registrar};

fn python_server(port: u16) -> Vec<String> {
    assert!(
        std::process::Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "python3 is not installed: run .ci/test, which installs what the tests need"
    );
    [
        "python3",
        "-m",
        "http.server",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn args<'a>(flags: &[&'a str], cmd: &'a [String]) -> Vec<&'a str> {
    let mut v = flags.to_vec();
    v.push("--");
    v.extend(cmd.iter().map(String::as_str));
    v
}

/// The status listener's address, from registrar's log.
async fn status_addr(r: &Registrar) -> String {
    assert!(
        r.logged(10, "status listener on http://").await,
        "no status listener"
    );
    let log = r.log();
    let at = log.find("status listener on http://").unwrap() + "status listener on http://".len();
    log[at..].split_whitespace().next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_http_server_is_registered_passing_found_by_dns_and_leaves_on_sigterm() {
    let agent = agent_on(0).await;
    let api = Api::new(agent.http_addr());
    let port = free_port();
    let cmd = python_server(port);
    let url = format!("http://127.0.0.1:{port}/");
    let flags = [
        "run",
        "-name",
        "pyweb",
        "-port",
        &port.to_string(),
        "-tag",
        "py",
        "-meta",
        "owner=tests",
        "-check-http",
        &url,
        "-check-interval",
        "1s",
        "-status-addr",
        "127.0.0.1:0",
    ];
    let mut r = Registrar::start(agent.http_addr(), &args(&flags, &cmd));
    assert!(
        eventually(30, || async { !api.passing("pyweb").await.is_empty() }).await,
        "pyweb never passed in /v1/health/service"
    );
    let entry = &api.passing("pyweb").await[0];
    assert_eq!(entry["Service"]["Port"], port);
    assert_eq!(entry["Service"]["Tags"], serde_json::json!(["py"]));
    assert_eq!(entry["Service"]["Meta"]["managed-by"], "registrar");
    assert_eq!(entry["Service"]["Meta"]["owner"], "tests");
    let dns = agent.dns_addr().unwrap();
    let answers = dig_srv(dns, "pyweb.service.consul").await;
    assert!(
        answers.iter().any(|a| a.contains(&format!(" {port} "))),
        "SRV answers {answers:?} lack port {port}"
    );

    // The status listener.
    let status = status_addr(&r).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = http
        .get(format!("http://{status}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = http
        .get(format!("http://{status}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("registrar_registrations_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("dcy_requests_total"), "{metrics}");

    r.signal(Signal::SIGTERM);
    let st = r.wait(15).await;
    // python dies of the forwarded SIGTERM: 128 + 15.
    assert_eq!(st.code(), Some(143), "{}", r.log());
    assert!(
        api.services().await.is_empty(),
        "still registered after SIGTERM"
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the child still listens after registrar exited"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_from_an_hcl_service_file_is_registered_and_leaves_on_sigterm() {
    let nginx = std::path::Path::new("/usr/sbin/nginx");
    assert!(
        nginx.exists(),
        "nginx is not installed: run .ci/test, which installs what the tests need (or apt-get install nginx-light)"
    );
    let agent = agent_on(0).await;
    let api = Api::new(agent.http_addr());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    for sub in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let service = format!(
        "service {{\n  name = \"edge\"\n  id = \"edge-1\"\n  port = {port}\n  tags = [\"nginx\"]\n  check {{\n    http = \"http://127.0.0.1:{port}/\"\n    interval = \"1s\"\n  }}\n}}\n"
    );
    let file = dir.path().join("edge.hcl");
    std::fs::write(&file, service).unwrap();
    let cmd: Vec<String> = [
        "/usr/sbin/nginx",
        "-g",
        "daemon off;",
        "-p",
        &d,
        "-e",
        &format!("{d}/error.log"),
        "-c",
        &format!("{d}/nginx.conf"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let file_arg = file.display().to_string();
    let mut r = Registrar::start(
        agent.http_addr(),
        &args(&["run", "-service-file", &file_arg], &cmd),
    );
    assert!(
        eventually(30, || async { !api.passing("edge").await.is_empty() }).await,
        "nginx never passed: {}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
    let entry = &api.passing("edge").await[0];
    assert_eq!(entry["Service"]["ID"], "edge-1");
    assert_eq!(entry["Service"]["Port"], port);
    let answers = dig_srv(agent.dns_addr().unwrap(), "edge.service.consul").await;
    assert!(
        answers.iter().any(|a| a.contains(&format!(" {port} "))),
        "{answers:?}"
    );
    let tagged = dig_srv(agent.dns_addr().unwrap(), "nginx.edge.service.consul").await;
    assert_eq!(tagged.len(), 1, "{tagged:?}");

    r.signal(Signal::SIGTERM);
    let st = r.wait(20).await;
    // nginx shuts down cleanly on SIGTERM.
    assert_eq!(st.code(), Some(0), "{}", r.log());
    assert!(api.services().await.is_empty());
    assert!(!dir.path().join("nginx.pid").exists(), "nginx did not stop");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_child_that_exits_at_once_is_not_registered_and_its_status_is_the_exit_code() {
    let agent = agent_on(0).await;
    let api = Api::new(agent.http_addr());
    let port = free_port().to_string();
    let cmd: Vec<String> = vec!["sh".into(), "-c".into(), "exit 3".into()];
    let mut r = Registrar::start(
        agent.http_addr(),
        &args(&["run", "-name", "quick", "-port", &port], &cmd),
    );
    let st = r.wait(15).await;
    assert_eq!(st.code(), Some(3));
    assert!(
        r.log().contains("exited with status 3 before it was ready"),
        "{}",
        r.log()
    );
    assert!(api.services().await.is_empty());
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_that_never_opens_stops_the_child_after_the_ready_timeout() {
    let agent = agent_on(0).await;
    let api = Api::new(agent.http_addr());
    let port = free_port().to_string();
    let cmd: Vec<String> = vec!["sleep".into(), "30".into()];
    let started = std::time::Instant::now();
    let mut r = Registrar::start(
        agent.http_addr(),
        &args(
            &[
                "run",
                "-name",
                "never",
                "-port",
                &port,
                "-ready-timeout",
                "500ms",
            ],
            &cmd,
        ),
    );
    let st = r.wait(15).await;
    assert_eq!(st.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    let log = r.log();
    assert!(
        log.contains("was not ready within the --ready-timeout"),
        "{log}"
    );
    assert!(log.contains(&format!("127.0.0.1:{port}")), "{log}");
    assert!(api.services().await.is_empty());
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_on_failure_backs_off_and_gives_up_after_max_restarts() {
    let agent = agent_on(0).await;
    let cmd: Vec<String> = vec!["sh".into(), "-c".into(), "exit 7".into()];
    let started = std::time::Instant::now();
    let mut r = Registrar::start(
        agent.http_addr(),
        &args(
            &[
                "run",
                "-name",
                "flaky",
                "-restart",
                "on-failure",
                "-max-restarts",
                "2",
            ],
            &cmd,
        ),
    );
    let st = r.wait(20).await;
    assert_eq!(st.code(), Some(7));
    // Backoff 1s then 2s.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let log = r.log();
    assert_eq!(log.matches("restarting `sh`").count(), 2, "{log}");
    assert!(log.contains("keeps failing: giving up"), "{log}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ttl_check_is_kept_passing_while_the_child_runs() {
    let agent = agent_on(0).await;
    let api = Api::new(agent.http_addr());
    let cmd: Vec<String> = vec!["sleep".into(), "60".into()];
    let mut r = Registrar::start(
        agent.http_addr(),
        &args(&["run", "-name", "batch", "-check-ttl", "1s"], &cmd),
    );
    assert!(eventually(15, || async { !api.passing("batch").await.is_empty() }).await);
    // Three TTLs later it still passes: registrar heartbeats it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(api.passing("batch").await.len(), 1);
    r.signal(Signal::SIGINT);
    let st = r.wait(15).await;
    assert_eq!(st.code(), Some(130), "sleep dies of the forwarded SIGINT");
    assert!(api.services().await.is_empty());
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_id_registered_by_someone_else_is_left_alone() {
    let agent = agent_on(0).await;
    let api = Api::new(agent.http_addr());
    let body = serde_json::json!({"Name": "taken", "Port": 1});
    assert_eq!(api.put_json("/v1/agent/service/register", &body).await, 200);
    let cmd: Vec<String> = vec!["sleep".into(), "30".into()];
    let mut r = Registrar::start(
        agent.http_addr(),
        &args(&["run", "-name", "taken", "-port", "2"], &cmd),
    );
    let st = r.wait(15).await;
    assert_eq!(st.code(), Some(2));
    assert!(
        r.log()
            .contains("already registered on the agent, not by registrar"),
        "{}",
        r.log()
    );
    let services = api.services().await;
    assert_eq!(
        services["taken"]["Port"], 1,
        "the other service was replaced"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn consul_down_at_start_registers_once_the_agent_comes_up() {
    let agent_port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{agent_port}").parse().unwrap();
    let port = free_port();
    let cmd = python_server(port);
    let url = format!("http://127.0.0.1:{port}/");
    let mut r = Registrar::start(
        addr,
        &args(
            &[
                "run",
                "-name",
                "early",
                "-port",
                &port.to_string(),
                "-check-http",
                &url,
            ],
            &cmd,
        ),
    );
    assert!(
        r.logged(30, "it is registered once Consul answers").await,
        "{}",
        r.log()
    );
    assert!(
        eventually(30, || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await
    );
    let agent = agent_on(agent_port).await;
    let api = Api::new(agent.http_addr());
    assert!(
        eventually(30, || async { !api.passing("early").await.is_empty() }).await,
        "{}",
        r.log()
    );
    r.signal(Signal::SIGTERM);
    assert_eq!(r.wait(15).await.code(), Some(143));
    assert!(api.services().await.is_empty());
    agent.shutdown().await;
}
