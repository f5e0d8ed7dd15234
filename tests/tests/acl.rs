//! The demo's services under `default_policy = "deny"`, each with a token
//! holding exactly the rights its job needs: the sensor and the workers
//! register themselves, the app finds them by name, templater renders the
//! healthy workers and a key, registrar registers a program. A token without
//! the right gets Consul's 403, and the service says so.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::{devagent_with, eventually, read_line, read_stderr, spawn, spawn_with};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

const MGMT: &str = "e2e0aaaa-1111-4222-8333-444455556666";

struct Consul {
    base: String,
    http: reqwest::Client,
}

impl Consul {
    async fn put(&self, path: &str, body: String) -> Value {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .header("X-Consul-Token", MGMT)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT {path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// A policy and a token holding only it; returns the SecretID.
    async fn token(&self, name: &str, rules: &str) -> String {
        self.put(
            "/v1/acl/policy",
            json!({"Name": name, "Rules": rules}).to_string(),
        )
        .await;
        let t = self
            .put(
                "/v1/acl/token",
                json!({"Description": name, "Policies": [{"Name": name}]}).to_string(),
            )
            .await;
        t["SecretID"].as_str().unwrap().to_string()
    }

    /// Passing instances of `service`, seen with `token` ("" for none).
    async fn passing(&self, service: &str, token: &str) -> usize {
        let mut r = self
            .http
            .get(format!("{}/v1/health/service/{service}?passing", self.base));
        if !token.is_empty() {
            r = r.header("X-Consul-Token", token);
        }
        let Ok(resp) = r.send().await else { return 0 };
        let v: Value = resp.json().await.unwrap_or_default();
        v.as_array().map_or(0, Vec::len)
    }
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

use testkit::free_port;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_with_least_privilege_tokens_and_refusals_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("acl.hcl");
    std::fs::write(
        &cfg,
        format!(
            "acl {{\n  enabled = true\n  default_policy = \"deny\"\n  tokens {{\n    initial_management = \"{MGMT}\"\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let (_agent, http_addr) = devagent_with(0, &["-config-file", cfg.to_str().unwrap()]).await;
    let c = Consul {
        base: format!("http://{http_addr}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap(),
    };
    let consul = c.base.clone();

    // The tokens, as the README's least-privilege example writes them.
    let sensor = c
        .token("sensor", r#"service "sensor" { policy = "write" }"#)
        .await;
    let worker = c
        .token("worker", r#"service "worker" { policy = "write" }"#)
        .await;
    let app = c
        .token(
            "app",
            r#"service "app" { policy = "write" }
service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }"#,
        )
        .await;
    let templater = c
        .token(
            "templater",
            r#"service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }
key_prefix "demo/" { policy = "read" }"#,
        )
        .await;
    let static_web = c
        .token("static", r#"service "static" { policy = "write" }"#)
        .await;
    c.put("/v1/kv/demo/greeting", "hello".into()).await;

    let svc = |token: &str| -> Vec<String> {
        [
            "--http-addr",
            &consul,
            "--check-interval",
            "1s",
            "--token",
            token,
        ]
        .map(str::to_string)
        .to_vec()
    };
    let _sensor = spawn("sensor", &args(&svc(&sensor))).unwrap();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let mut w = spawn("worker", &args(&svc(&worker))).unwrap();
        let line = read_line(&mut w, "worker listening on", Duration::from_secs(20)).await;
        assert!(line.is_some(), "a worker registers with its token");
        workers.push(w);
    }
    let mut app_args = svc(&app);
    app_args.extend(["--interval", "5ms"].map(str::to_string));
    let mut app_proc = spawn("app", &args(&app_args)).unwrap();
    let line = read_line(&mut app_proc, "app listening on", Duration::from_secs(30))
        .await
        .expect("the app finds the sensor and a worker with its token");
    let app_addr = line.rsplit(' ').next().unwrap().to_string();

    let tmpl = dir.path().join("upstreams.tmpl");
    let out = dir.path().join("upstreams.conf");
    std::fs::write(
        &tmpl,
        "{% for s in service(name=\"worker\") %}server {{ s.Address }}:{{ s.Port }};\n{% endfor %}greeting={{ key(path=\"demo/greeting\") }}\n",
    )
    .unwrap();
    let template = format!("{}:{}", tmpl.display(), out.display());
    let _templater = spawn(
        "templater",
        &[
            "-consul-addr",
            &http_addr,
            "-consul-token",
            &templater,
            "-template",
            &template,
        ],
    )
    .unwrap();

    let port = free_port().to_string();
    let check = format!("127.0.0.1:{port}");
    let mut registrar = spawn(
        "registrar",
        &[
            "run",
            "-http-addr",
            &consul,
            "-token",
            &static_web,
            "-name",
            "static",
            "-port",
            &port,
            "-check-tcp",
            &check,
            "--",
            "python3",
            "-m",
            "http.server",
            &port,
            "--bind",
            "127.0.0.1",
        ],
    )
    .unwrap();

    // Everything registered and passing; the app squares through both workers.
    let all_up = eventually(20, || async {
        c.passing("sensor", MGMT).await == 1
            && c.passing("worker", MGMT).await == 2
            && c.passing("app", MGMT).await == 1
            && c.passing("static", MGMT).await == 1
    })
    .await;
    assert!(all_up, "every service registered with its own token");
    assert_eq!(
        c.passing("worker", "").await,
        0,
        "the anonymous token sees nothing"
    );
    let stats = || async {
        let r = c.http.get(format!("http://{app_addr}/stats")).send().await;
        match r {
            Ok(r) => r.json::<app::Stats>().await.unwrap_or_default(),
            Err(_) => app::Stats::default(),
        }
    };
    assert!(
        eventually(20, || async {
            let s = stats().await;
            s.ok >= 50 && s.by_worker.len() == 2
        })
        .await,
        "{:?}",
        stats().await
    );
    assert_eq!(stats().await.failed, 0);
    let rendered = eventually(20, || async {
        std::fs::read_to_string(&out).is_ok_and(|t| {
            t.matches("server 127.0.0.1:").count() == 2 && t.contains("greeting=hello")
        })
    })
    .await;
    assert!(
        rendered,
        "templater renders the workers and the key: {:?}",
        std::fs::read_to_string(&out)
    );

    // A worker with the sensor's token: 403, said plainly, and it exits.
    let mut wrong = spawn_with("worker", &args(&svc(&sensor)), true).unwrap();
    let err = read_stderr(&mut wrong, "service:write", Duration::from_secs(20)).await;
    assert!(
        err.contains("403") && err.contains("lacks permission 'service:write' on \"worker\""),
        "{err}"
    );
    assert_eq!(wrong.wait(Duration::from_secs(10)).await, Some(1));

    // templater with a token that may not read the key: it names the key and the right.
    let out2 = dir.path().join("denied.conf");
    let template2 = format!("{}:{}", tmpl.display(), out2.display());
    let mut denied = spawn_with(
        "templater",
        &[
            "-consul-addr",
            &http_addr,
            "-consul-token",
            &app,
            "-template",
            &template2,
            "-log-level",
            "warn",
        ],
        true,
    )
    .unwrap();
    let err = read_stderr(&mut denied, "key:read", Duration::from_secs(20)).await;
    assert!(
        err.contains("403") && err.contains("lacks permission 'key:read' on \"demo/greeting\""),
        "{err}"
    );
    assert!(!out2.exists(), "nothing rendered without the key");

    // registrar with a token for another service: refused, with the reason.
    let port2 = free_port().to_string();
    let check2 = format!("127.0.0.1:{port2}");
    let mut reg = spawn_with(
        "registrar",
        &[
            "run",
            "-http-addr",
            &consul,
            "-token",
            &worker,
            "-name",
            "static2",
            "-port",
            &port2,
            "-check-tcp",
            &check2,
            "--",
            "python3",
            "-m",
            "http.server",
            &port2,
            "--bind",
            "127.0.0.1",
        ],
        true,
    )
    .unwrap();
    let err = read_stderr(&mut reg, "service:write", Duration::from_secs(20)).await;
    assert!(
        err.contains("lacks permission 'service:write' on \"static2\""),
        "{err}"
    );
    assert_eq!(c.passing("static2", MGMT).await, 0);

    // registrar stops its program on SIGTERM (a SIGKILL on drop would orphan it).
    for r in [&mut reg, &mut registrar] {
        r.signal(Signal::SIGTERM);
        assert!(
            r.wait(Duration::from_secs(10)).await.is_some(),
            "registrar exits"
        );
    }
}
