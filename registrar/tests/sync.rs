//! `registrar sync` over a directory the tests edit, against an in-process
//! devagent restarted midway; and `registrar check` over the same kind of
//! directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::{agent_on, eventually, free_port, Api, Registrar};

fn write(dir: &Path, name: &str, text: &str) {
    // Write then rename, as careful tools do, so no half-written file is read.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn port_of(services: &serde_json::Map<String, serde_json::Value>, id: &str) -> Option<u64> {
    services.get(id)?.get("Port")?.as_u64()
}

fn file_of(services: &serde_json::Map<String, serde_json::Value>, id: &str) -> Option<String> {
    Some(
        services.get(id)?["Meta"]["registrar-file"]
            .as_str()?
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_follows_edits_bad_files_duplicates_and_an_agent_restart() {
    let agent = agent_on(0).await;
    let http = agent.http_addr();
    let api = Api::new(http);
    // Somebody else's services: never touched.
    let outsider = serde_json::json!({"Name": "outsider", "Port": 1});
    assert_eq!(
        api.put_json("/v1/agent/service/register", &outsider).await,
        200
    );
    let other_dir = serde_json::json!({"Name": "elsewhere", "Port": 2,
        "Meta": {"managed-by": "registrar", "registrar-file": "x.json", "registrar-dir": "/some/other/dir"}});
    assert_eq!(
        api.put_json("/v1/agent/service/register", &other_dir).await,
        200
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "web.json",
        r#"{"service": {"name": "web", "port": 8080, "tags": ["v1"]}}"#,
    );
    write(
        dir,
        "db.hcl",
        "services {\n  name = \"db\"\n  port = 5432\n}\nservices {\n  name = \"cache\"\n  id = \"cache-1\"\n  port = 6379\n}\n",
    );
    write(
        dir,
        "bad.json",
        "{\"service\": {\n  \"name\": \"bad\"\n  \"port\": 1\n}}\n",
    );
    write(dir, "notes.txt", "not a definition");
    let d = dir.display().to_string();
    let mut r = Registrar::start(
        http,
        &["sync", "-sync-interval", "500ms", "-debounce", "50ms", &d],
    );

    assert!(
        eventually(15, || async {
            let s = api.services().await;
            ["web", "db", "cache-1"]
                .iter()
                .all(|id| s.contains_key(*id))
        })
        .await,
        "{}",
        r.log()
    );
    let s = api.services().await;
    assert_eq!(s["web"]["Meta"]["managed-by"], "registrar");
    assert_eq!(file_of(&s, "cache-1").as_deref(), Some("db.hcl"));
    assert!(!s.contains_key("bad"));
    assert!(r.logged(5, "bad.json:3: invalid JSON").await, "{}", r.log());

    // An edit updates.
    write(
        dir,
        "web.json",
        r#"{"service": {"name": "web", "port": 8081, "tags": ["v2"]}}"#,
    );
    assert!(
        eventually(10, || async {
            port_of(&api.services().await, "web") == Some(8081)
        })
        .await
    );

    // A malformed edit is reported and the last good version stays.
    write(
        dir,
        "web.json",
        "{\"service\": {\"name\": \"web\",\n \"port\": }}",
    );
    assert!(
        r.logged(10, "web.json:2: invalid JSON").await,
        "{}",
        r.log()
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(port_of(&api.services().await, "web"), Some(8081));

    // Fixed again.
    write(
        dir,
        "web.json",
        r#"{"service": {"name": "web", "port": 8082}}"#,
    );
    assert!(
        eventually(10, || async {
            port_of(&api.services().await, "web") == Some(8082)
        })
        .await
    );

    // A second file with the same ID: reported with both files; the first keeps it.
    write(
        dir,
        "a-dup.json",
        r#"{"service": {"name": "web", "port": 9999}}"#,
    );
    assert!(
        r.logged(10, "duplicate service ID `web`").await,
        "{}",
        r.log()
    );
    let log = r.log();
    let line = log
        .lines()
        .find(|l| l.contains("duplicate service ID `web`"))
        .unwrap();
    assert!(
        line.contains("web.json:1") && line.contains("a-dup.json:1"),
        "{line}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let s = api.services().await;
    assert_eq!(port_of(&s, "web"), Some(8082));
    assert_eq!(file_of(&s, "web").as_deref(), Some("web.json"));

    // A removed file deregisters its services only.
    std::fs::remove_file(dir.join("db.hcl")).unwrap();
    assert!(
        eventually(10, || async {
            let s = api.services().await;
            !s.contains_key("db") && !s.contains_key("cache-1")
        })
        .await
    );
    let s = api.services().await;
    assert!(
        s.contains_key("outsider") && s.contains_key("elsewhere"),
        "{s:?}"
    );

    // Agent restart: everything comes back within a sync interval.
    let port = http.port();
    agent.shutdown().await;
    let agent = agent_on(port).await;
    let back = tokio::time::Instant::now();
    assert!(
        eventually(5, || async {
            port_of(&api.services().await, "web") == Some(8082)
        })
        .await,
        "{}",
        r.log()
    );
    assert!(
        back.elapsed() < Duration::from_secs(3),
        "took {:?}",
        back.elapsed()
    );

    // The owner removed, the duplicate takes over.
    std::fs::remove_file(dir.join("web.json")).unwrap();
    assert!(
        eventually(10, || async {
            port_of(&api.services().await, "web") == Some(9999)
        })
        .await
    );
    assert_eq!(
        file_of(&api.services().await, "web").as_deref(),
        Some("a-dup.json")
    );

    // A file naming an ID somebody else registered does not take it over.
    assert_eq!(
        api.put_json("/v1/agent/service/register", &outsider).await,
        200
    );
    write(
        dir,
        "outsider.json",
        r#"{"service": {"name": "outsider", "port": 7}}"#,
    );
    assert!(
        r.logged(10, "already registered on the agent, not by this registrar")
            .await,
        "{}",
        r.log()
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let s = api.services().await;
    assert_eq!(port_of(&s, "outsider"), Some(1));
    std::fs::remove_file(dir.join("outsider.json")).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        api.services().await.contains_key("outsider"),
        "removed a service it did not create"
    );

    // On exit the services stay, as config-file services do.
    r.signal(Signal::SIGTERM);
    assert_eq!(r.wait(10).await.code(), Some(0));
    assert!(api.services().await.contains_key("web"));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn consul_down_at_start_is_waited_out_and_health_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "api.json",
        r#"{"service": {"name": "api", "port": 3000}}"#,
    );
    let agent_port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{agent_port}").parse().unwrap();
    let d = tmp.path().display().to_string();
    let mut r = Registrar::start(
        addr,
        &[
            "sync",
            "-sync-interval",
            "1s",
            "-status-addr",
            "127.0.0.1:0",
            &d,
        ],
    );
    assert!(r.logged(10, "Consul unreachable").await, "{}", r.log());
    assert!(r.logged(10, "status listener on http://").await);
    let log = r.log();
    let at = log.find("status listener on http://").unwrap() + "status listener on http://".len();
    let status = log[at..].split_whitespace().next().unwrap().to_string();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = http
        .get(format!("http://{status}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    assert!(health.text().await.unwrap().contains("consul unreachable"));

    let agent = agent_on(agent_port).await;
    let api = Api::new(agent.http_addr());
    assert!(
        eventually(15, || async { api.services().await.contains_key("api") }).await,
        "{}",
        r.log()
    );
    assert!(
        eventually(5, || async {
            let h = http.get(format!("http://{status}/health")).send().await;
            h.is_ok_and(|h| h.status() == 200)
        })
        .await
    );
    let metrics = http
        .get(format!("http://{status}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("registrar_files_watched 1"), "{metrics}");
    assert!(
        metrics.contains("registrar_registrations_total 1"),
        "{metrics}"
    );
    r.signal(Signal::SIGINT);
    assert_eq!(r.wait(10).await.code(), Some(0));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_sync_removes_what_lost_its_file_and_keeps_what_a_broken_file_holds() {
    let agent = agent_on(0).await;
    let api = Api::new(agent.http_addr());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "a.json", r#"{"service": {"name": "a"}}"#);
    write(dir, "b.json", r#"{"service": {"name": "b"}}"#);
    let d = dir.display().to_string();
    let mut r = Registrar::start(agent.http_addr(), &["sync", &d]);
    assert!(
        eventually(10, || async {
            let s = api.services().await;
            s.contains_key("a") && s.contains_key("b")
        })
        .await
    );
    r.signal(Signal::SIGTERM);
    assert_eq!(r.wait(10).await.code(), Some(0));
    std::fs::remove_file(dir.join("b.json")).unwrap();
    let mut r = Registrar::start(agent.http_addr(), &["sync", &d]);
    assert!(
        eventually(10, || async { !api.services().await.contains_key("b") }).await,
        "{}",
        r.log()
    );
    assert!(api.services().await.contains_key("a"));
    r.signal(Signal::SIGTERM);
    assert_eq!(r.wait(10).await.code(), Some(0));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_of_a_missing_directory_is_a_clear_error() {
    let agent = agent_on(0).await;
    let mut r = Registrar::start(agent.http_addr(), &["sync", "/nonexistent/registrar/dir"]);
    let st = r.wait(10).await;
    assert_eq!(st.code(), Some(1));
    assert!(
        r.log().contains("/nonexistent/registrar/dir"),
        "{}",
        r.log()
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_every_problem_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "good.json",
        r#"{"service": {"name": "web", "port": 80}}"#,
    );
    write(dir, "dup.hcl", "service {\n  name = \"web\"\n}\n");
    write(
        dir,
        "bad.json",
        "{\n  \"service\": {\n    \"port\": 1\n  }\n}\n",
    );
    write(dir, "syntax.hcl", "service {\n  name = \n}\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_registrar"))
        .args(["check", &dir.display().to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let d = dir.display();
    assert!(
        text.contains(&format!("{d}/bad.json:2: missing service name")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{d}/syntax.hcl:2: invalid HCL")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{d}/good.json:1: duplicate service ID `web`"))
            || text.contains(&format!("{d}/dup.hcl:1: duplicate service ID `web`")),
        "{text}"
    );
    assert!(text.contains("4 definition file(s)"), "{text}");

    std::fs::remove_file(dir.join("bad.json")).unwrap();
    std::fs::remove_file(dir.join("syntax.hcl")).unwrap();
    std::fs::remove_file(dir.join("dup.hcl")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_registrar"))
        .args(["check", &dir.display().to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("1 definition file(s), 1 service(s), 0 error(s)"),
        "{text}"
    );
}
