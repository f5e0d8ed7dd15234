//! Real nginx and haproxy driven by templater: the rendered upstreams follow
//! the healthy workers, a change reloads the proxy, and a render the proxy
//! rejects never replaces a working config.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use support::{agent_on, eventually, file_contains, put, read, register, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A worker that answers `worker-<n>` until its task is aborted.
async fn worker(n: usize) -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let body = format!("worker-{n}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (port, task)
}

use testkit::free_port;

async fn hits(port: u16, n: usize) -> BTreeSet<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/")).send().await {
            if r.status() == 200 {
                seen.insert(r.text().await.unwrap_or_default());
            }
        }
    }
    seen
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The whole nginx.conf, rendered: `nginx -t -c` checks a full config.
const NGINX: &str = r#"worker_processes 1;
daemon off;
pid @D@/nginx.pid;
error_log @D@/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path @D@/tmp/body;
  proxy_temp_path @D@/tmp/proxy;
  fastcgi_temp_path @D@/tmp/fastcgi;
  uwsgi_temp_path @D@/tmp/uwsgi;
  scgi_temp_path @D@/tmp/scgi;
  upstream workers {
{% for s in service(name="worker") %}    server {{ s.Address }}:{{ s.Port }} max_fails=0;
{% else %}    server 127.0.0.1:9 down;
{% endfor %}    {{ key_or_default(path="proxy/extra", default="") }}
  }
  server {
    listen 127.0.0.1:@LISTEN@;
    location / { proxy_pass http://workers; proxy_next_upstream off; }
  }
}
"#;

async fn setup_workers(base: &str, ports: &[u16]) {
    let http = reqwest::Client::new();
    for (i, p) in ports.iter().enumerate() {
        register(&http, base, &format!(
            r#"{{"Name":"worker","ID":"worker-{}","Address":"127.0.0.1","Port":{p},"Check":{{"HTTP":"http://127.0.0.1:{p}/","Interval":"100ms","Timeout":"1s"}}}}"#,
            i + 1
        )).await;
    }
}

/// Whether `dir` holds no temporary file of templater's.
fn no_temporary_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: run .ci/test, which installs what the tests need (or apt-get install {name})");
}

#[tokio::test]
async fn nginx_follows_healthy_workers_and_rejects_broken_renders() {
    let nginx = tool("nginx");
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let mut workers = Vec::new();
    for n in 1..=3 {
        workers.push(worker(n).await);
    }
    setup_workers(&base, &workers.iter().map(|w| w.0).collect::<Vec<_>>()).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    let listen = free_port();
    let conf = d.join("nginx.conf");
    std::fs::write(
        d.join("nginx.tmpl"),
        NGINX
            .replace("@D@", &d.display().to_string())
            .replace("@LISTEN@", &listen.to_string()),
    )
    .unwrap();
    let ngx = format!("{} -p {}", nginx.display(), d.display());
    // The check saves what the live config holds while it runs.
    let during = d.join("during-check");
    std::fs::write(d.join("templater.hcl"), format!(
        "template {{\n  source = \"{d}/nginx.tmpl\"\n  destination = \"{conf}\"\n  check_command = \"cat {conf} > {during} 2>/dev/null; {ngx} -t -q -c {{{{path}}}}\"\n  command = \"{ngx} -c {conf} -s reload\"\n  wait = \"100ms:500ms\"\n}}\n",
        d = d.display(), conf = conf.display(), during = during.display()
    )).unwrap();
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-config",
        &d.join("templater.hcl").display().to_string(),
    ]);
    let out = conf.clone();
    assert!(
        eventually(10, || async {
            read(&out).matches("server 127.0.0.1:").count() == 3
        })
        .await,
        "{}",
        read(&out)
    );

    let mut proxy = tokio::process::Command::new(&nginx)
        .args([
            "-p",
            &d.display().to_string(),
            "-c",
            &conf.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let all = set(&["worker-1", "worker-2", "worker-3"]);
    assert!(
        eventually(10, || async { hits(listen, 12).await == all }).await,
        "requests through nginx reach every worker"
    );

    // Worker 2 dies: its check goes critical and nginx stops sending to it.
    workers[1].1.abort();
    drop(workers.remove(1));
    assert!(
        eventually(10, || async {
            read(&out).matches("server 127.0.0.1:").count() == 2
        })
        .await
    );
    assert!(
        eventually(10, || async {
            hits(listen, 12).await == set(&["worker-1", "worker-3"])
        })
        .await,
        "nginx reloaded without worker 2"
    );

    // A render nginx rejects never replaces the working config, not even
    // while the check runs.
    let http = reqwest::Client::new();
    let before = read(&out);
    let _ = std::fs::remove_file(&during);
    put(
        &http,
        &format!("{base}/v1/kv/proxy/extra"),
        "this is not nginx syntax",
    )
    .await;
    assert!(
        eventually(10, || async { during.exists() }).await,
        "the check ran"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        read(&during),
        before,
        "during the check the live config is the accepted one"
    );
    assert_eq!(read(&out), before, "the previous config stays");
    assert!(no_temporary_files(d), "the rejected file is removed");
    assert_eq!(
        hits(listen, 6).await,
        set(&["worker-1", "worker-3"]),
        "nginx keeps serving"
    );
    put(&http, &format!("{base}/v1/kv/proxy/extra"), "keepalive 8;").await;
    assert!(
        file_contains(&out, "keepalive 8;", 5).await,
        "a valid change goes through again"
    );

    let _ = tokio::process::Command::new(&nginx)
        .args([
            "-p",
            &d.display().to_string(),
            "-c",
            &conf.display().to_string(),
            "-s",
            "quit",
        ])
        .status()
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), proxy.wait()).await;
    let _ = proxy.kill().await;
    t.stop().await.unwrap();
    agent.shutdown().await;
}

const HAPROXY: &str = r#"global
  maxconn 64
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:{{ env(name="HAPROXY_TEST_PORT") }}
  default_backend workers
backend workers
  balance roundrobin
{% for s in service(name="worker") %}  server {{ s.ID }} {{ s.Address }}:{{ s.Port }}
{% endfor %}{{ key_or_default(path="proxy/extra", default="") }}
"#;

#[tokio::test]
async fn haproxy_follows_healthy_workers_and_rejects_broken_renders() {
    let haproxy = tool("haproxy");
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let mut workers = Vec::new();
    for n in 1..=3 {
        workers.push(worker(n).await);
    }
    setup_workers(&base, &workers.iter().map(|w| w.0).collect::<Vec<_>>()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listen = free_port();
    std::env::set_var("HAPROXY_TEST_PORT", listen.to_string());
    std::fs::write(d.join("haproxy.tmpl"), HAPROXY).unwrap();
    let cfg = d.join("haproxy.cfg");
    let pid = d.join("haproxy.pid");
    std::fs::write(d.join("templater.hcl"), format!(
        "template {{\n  source = \"{d}/haproxy.tmpl\"\n  destination = \"{cfg}\"\n  check_command = \"cat {cfg} > {d}/during-check 2>/dev/null; {hp} -c -q -f {{{{path}}}}\"\n  command = \"kill -USR2 $(cat {pid})\"\n  wait = \"100ms:500ms\"\n}}\n",
        d = d.display(), cfg = cfg.display(), hp = haproxy.display(), pid = pid.display()
    )).unwrap();
    let t = spawn(&[
        "-consul-addr",
        &base,
        "-config",
        &d.join("templater.hcl").display().to_string(),
    ]);
    assert!(
        eventually(10, || async {
            read(&cfg).matches("server worker-").count() == 3
        })
        .await,
        "{}",
        read(&cfg)
    );
    let mut proxy = tokio::process::Command::new(&haproxy)
        .args([
            "-W",
            "-db",
            "-f",
            &cfg.display().to_string(),
            "-p",
            &pid.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let all = set(&["worker-1", "worker-2", "worker-3"]);
    assert!(
        eventually(10, || async { hits(listen, 12).await == all }).await,
        "requests through haproxy reach every worker"
    );

    let http = reqwest::Client::new();
    put(
        &http,
        &format!("{base}/v1/agent/service/deregister/worker-3"),
        "",
    )
    .await;
    assert!(eventually(10, || async { !read(&cfg).contains("worker-3") }).await);
    assert!(
        eventually(10, || async {
            hits(listen, 12).await == set(&["worker-1", "worker-2"])
        })
        .await,
        "haproxy reloaded without worker 3"
    );

    let before = read(&cfg);
    let during = d.join("during-check");
    let _ = std::fs::remove_file(&during);
    put(
        &http,
        &format!("{base}/v1/kv/proxy/extra"),
        "  bogus directive here",
    )
    .await;
    assert!(
        eventually(10, || async { during.exists() }).await,
        "the check ran"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        read(&during),
        before,
        "during the check the live config is the accepted one"
    );
    assert_eq!(read(&cfg), before, "the previous config stays");
    assert!(no_temporary_files(d), "the rejected file is removed");
    assert_eq!(hits(listen, 6).await, set(&["worker-1", "worker-2"]));

    let _ = proxy.kill().await;
    t.stop().await.unwrap();
    agent.shutdown().await;
}
