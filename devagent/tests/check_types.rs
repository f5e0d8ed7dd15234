//! Script, gRPC, UDP, H2PING, alias and Docker checks, as Consul runs them.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use serde_json::Value;
use support::{eventually, start, start_with, TestAgent};
use tokio::net::{TcpListener, UdpSocket};

async fn check(a: &TestAgent, id: &str) -> Value {
    a.get("/v1/agent/checks").await.json()[id].clone()
}

/// Waits for `status` with an output (a new check is critical with none).
async fn wait_status(a: &TestAgent, id: &str, status: &str) -> Value {
    let ok = eventually(5, || async {
        let c = check(a, id).await;
        c["Status"] == status && c["Output"] != ""
    })
    .await;
    let c = check(a, id).await;
    assert!(ok, "check {id} never became {status}: {c}");
    c
}

fn scripts() -> devagent::AgentBuilder {
    devagent::Agent::builder().enable_script_checks(true)
}

#[tokio::test]
async fn script_checks_are_refused_unless_enabled() {
    let a = start().await;
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"s","Args":["/bin/true"],"Interval":"1s"}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("Scripts are disabled on this agent"),
        "{}",
        r.body
    );
    assert!(r.body.contains("enable_script_checks"), "{}", r.body);
    a.shutdown().await;
}

#[tokio::test]
async fn script_exit_codes_map_to_passing_warning_critical() {
    let a = start_with(scripts()).await;
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::write(&code, "0").unwrap();
    let script = dir.path().join("check.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"out $(cat \"$1\")\"\necho err >&2\nexit $(cat \"$1\")\n",
    )
    .unwrap();
    let body = serde_json::json!({
        "Name": "s", "Args": ["/bin/sh", script, code], "Interval": "100ms"
    });
    let r = a.put("/v1/agent/check/register", &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = wait_status(&a, "s", "passing").await;
    assert_eq!(c["Type"], "script");
    let out = c["Output"].as_str().unwrap();
    assert!(out.contains("out 0") && out.contains("err"), "{out}");
    assert_eq!(c["Definition"]["ScriptArgs"][0], "/bin/sh");
    std::fs::write(&code, "1").unwrap();
    wait_status(&a, "s", "warning").await;
    std::fs::write(&code, "2").unwrap();
    let c = wait_status(&a, "s", "critical").await;
    assert!(c["Output"].as_str().unwrap().contains("out 2"));
    a.shutdown().await;
}

#[tokio::test]
async fn script_output_keeps_its_last_bytes_and_timeouts_are_critical() {
    let a = start_with(scripts()).await;
    // No shell: `Args` is run as it is, so `;` is an argument of echo.
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"lit","Args":["/bin/echo","a;b"],"Interval":"100ms"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = wait_status(&a, "lit", "passing").await;
    assert_eq!(c["Output"], "a;b\n");
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"big","Args":["/bin/sh","-c","head -c 10000 /dev/zero | tr '\\0' x; echo END"],
                "Interval":"100ms","OutputMaxSize":100}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = wait_status(&a, "big", "passing").await;
    let out = c["Output"].as_str().unwrap();
    assert!(
        out.starts_with("Captured 100 of 10004 bytes\n...\n"),
        "{out}"
    );
    assert!(out.ends_with("xEND\n"), "{out}");
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"slow","Args":["/bin/sleep","30"],"Interval":"100ms","Timeout":"300ms"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = wait_status(&a, "slow", "critical").await;
    assert_eq!(c["Output"], "Timed out (300ms) running check");
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"nope","Args":["/no/such/program"],"Interval":"100ms"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = wait_status(&a, "nope", "critical").await;
    assert!(c["Output"].as_str().unwrap().contains("/no/such/program"));
    a.shutdown().await;
}

#[tokio::test]
async fn local_script_checks_run_from_config_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("svc.hcl");
    std::fs::write(
        &file,
        r#"enable_local_script_checks = true
service {
  name = "cron"
  port = 1
  check {
    id = "cron-alive"
    args = ["/bin/sh", "-c", "echo alive"]
    interval = "100ms"
  }
}
"#,
    )
    .unwrap();
    let cfg = devagent::AgentConfig::builder()
        .config_file(&file)
        .build()
        .unwrap();
    let a = start_with(devagent::Agent::builder().config(cfg)).await;
    let c = wait_status(&a, "cron-alive", "passing").await;
    assert_eq!(c["Output"], "alive\n");
    assert_eq!(c["ServiceName"], "cron");
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"remote","Args":["/bin/true"],"Interval":"1s"}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("Scripts are disabled on this agent from remote calls"),
        "{}",
        r.body
    );
    a.shutdown().await;
}

#[tokio::test]
async fn docker_checks_without_a_docker_socket_are_refused_clearly() {
    if std::path::Path::new("/var/run/docker.sock").exists()
        || std::env::var_os("DOCKER_HOST").is_some()
    {
        return; // this machine has Docker: the refusal cannot be seen here
    }
    let a = start_with(scripts()).await;
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"d","DockerContainerID":"abc","Args":["true"],"Interval":"1s"}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("/var/run/docker.sock"), "{}", r.body);
    assert!(r.body.contains("DOCKER_HOST"), "{}", r.body);
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"o","OSService":"sshd","Interval":"1s"}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Windows"), "{}", r.body);
    a.shutdown().await;
}

#[tokio::test]
async fn udp_checks_pass_unless_the_port_refuses() {
    let a = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let body = format!(r#"{{"Name":"u","UDP":"{addr}","Interval":"100ms","Timeout":"200ms"}}"#);
    let r = a.put("/v1/agent/check/register", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = wait_status(&a, "u", "passing").await;
    assert_eq!(c["Output"], format!("UDP connect {addr}: Success"));
    assert_eq!(c["Type"], "udp");
    assert_eq!(c["Definition"]["UDP"], addr.to_string());
    drop(sock);
    let c = wait_status(&a, "u", "critical").await;
    assert!(
        c["Output"].as_str().unwrap().contains("Check socket"),
        "{c}"
    );
    a.shutdown().await;
}

/// A gRPC server speaking `grpc.health.v1` over HTTP/2 (h2c, or TLS with `tls`).
async fn grpc_server(tls: Option<tokio_rustls::TlsAcceptor>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acc) => {
                        if let Ok(s) = acc.accept(sock).await {
                            serve_h2(s).await;
                        }
                    }
                    None => serve_h2(sock).await,
                }
            });
        }
    });
    addr.to_string()
}

async fn serve_h2<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(io: T) {
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        let mut body = req.into_body();
        let mut buf = BytesMut::new();
        while let Some(Ok(chunk)) = body.data().await {
            buf.extend_from_slice(&chunk);
        }
        let service = String::from_utf8_lossy(buf.get(7..).unwrap_or_default()).into_owned();
        let status: Option<u8> = match service.as_str() {
            "" | "up" => Some(1),
            "down" => Some(2),
            _ => None,
        };
        let Some(status) = status else {
            let resp = http::Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "5")
                .header("grpc-message", "unknown%20service")
                .body(())
                .unwrap();
            let _ = respond.send_response(resp, true);
            continue;
        };
        let resp = http::Response::builder()
            .header("content-type", "application/grpc")
            .body(())
            .unwrap();
        let Ok(mut stream) = respond.send_response(resp, false) else {
            continue;
        };
        let mut frame = BytesMut::new();
        frame.put_slice(&[0, 0, 0, 0, 2, 0x08, status]);
        let _ = stream.send_data(frame.freeze(), false);
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let _ = stream.send_trailers(trailers);
    }
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

#[tokio::test]
async fn grpc_checks_follow_the_health_protocol() {
    let a = start().await;
    let addr = grpc_server(None).await;
    for (id, target) in [
        ("all", addr.clone()),
        ("up", format!("{addr}/up")),
        ("down", format!("{addr}/down")),
        ("unknown", format!("{addr}/other")),
    ] {
        let body = format!(r#"{{"Name":"{id}","GRPC":"{target}","Interval":"100ms"}}"#);
        let r = a.put("/v1/agent/check/register", &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let c = wait_status(&a, "up", "passing").await;
    assert_eq!(c["Output"], format!("gRPC check {addr}/up: success"));
    assert_eq!(c["Type"], "grpc");
    wait_status(&a, "all", "passing").await;
    let c = wait_status(&a, "down", "critical").await;
    assert_eq!(
        c["Output"],
        format!("gRPC {addr}/down serving status: NOT_SERVING")
    );
    let c = wait_status(&a, "unknown", "critical").await;
    assert_eq!(
        c["Output"],
        "rpc error: code = NotFound desc = unknown service"
    );
    // TLS: verification against the system roots fails for a self-signed
    // certificate; TLSSkipVerify accepts it.
    let tls_addr = grpc_server(Some(tls_acceptor())).await;
    let body = format!(
        r#"{{"Name":"tls","GRPC":"{tls_addr}/up","GRPCUseTLS":true,"TLSSkipVerify":true,"Interval":"100ms"}}"#
    );
    assert_eq!(a.put("/v1/agent/check/register", &body).await.status, 200);
    let body = format!(
        r#"{{"Name":"tls-verify","GRPC":"{tls_addr}/up","GRPCUseTLS":true,"TLSServerName":"localhost","Interval":"100ms"}}"#
    );
    assert_eq!(a.put("/v1/agent/check/register", &body).await.status, 200);
    let c = wait_status(&a, "tls", "passing").await;
    assert_eq!(c["Definition"]["GRPCUseTLS"], true);
    let c = wait_status(&a, "tls-verify", "critical").await;
    assert!(c["Output"].as_str().unwrap().contains("TLS"), "{c}");
    // Nothing listening: critical, Unavailable.
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"gone","GRPC":"127.0.0.1:1","Interval":"100ms"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    let c = wait_status(&a, "gone", "critical").await;
    assert!(
        c["Output"]
            .as_str()
            .unwrap()
            .starts_with("rpc error: code = Unavailable"),
        "{c}"
    );
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"bad","GRPC":"no-port","Interval":"1s"}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("host:port"), "{}", r.body);
    a.shutdown().await;
}

#[tokio::test]
async fn h2ping_checks_ping_over_http2() {
    let a = start().await;
    let plain = grpc_server(None).await;
    let tls = grpc_server(Some(tls_acceptor())).await;
    let body =
        format!(r#"{{"Name":"p","H2PING":"{plain}","H2PingUseTLS":false,"Interval":"100ms"}}"#);
    assert_eq!(a.put("/v1/agent/check/register", &body).await.status, 200);
    let body =
        format!(r#"{{"Name":"t","H2PING":"{tls}","TLSSkipVerify":true,"Interval":"100ms"}}"#);
    assert_eq!(a.put("/v1/agent/check/register", &body).await.status, 200);
    let c = wait_status(&a, "p", "passing").await;
    assert_eq!(c["Output"], "HTTP2 ping was successful");
    assert_eq!(c["Type"], "h2ping");
    let c = wait_status(&a, "t", "passing").await;
    assert_eq!(c["Definition"]["H2PingUseTLS"], true);
    // An HTTP/1 server is not an HTTP/2 one.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let h1 = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let body = format!(
        r#"{{"Name":"h1","H2PING":"{h1}","H2PingUseTLS":false,"Interval":"100ms","Timeout":"1s"}}"#
    );
    assert_eq!(a.put("/v1/agent/check/register", &body).await.status, 200);
    let c = wait_status(&a, "h1", "critical").await;
    assert!(
        c["Output"]
            .as_str()
            .unwrap()
            .starts_with("Failed to ping server"),
        "{c}"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn alias_checks_follow_the_aliased_service() {
    let a = start().await;
    a.register(r#"{"Name":"api","ID":"api-1","Check":{"CheckID":"api-ttl","TTL":"60s"}}"#)
        .await;
    a.register(r#"{"Name":"api-proxy","Check":{"CheckID":"proxy-alias","AliasService":"api-1"}}"#)
        .await;
    let c = wait_status(&a, "proxy-alias", "critical").await;
    assert_eq!(c["Type"], "alias");
    assert_eq!(
        c["Output"],
        "Aliased check \"Service 'api' check\" failing: "
    );
    let r = a.put("/v1/agent/check/pass/api-ttl?note=fine", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = wait_status(&a, "proxy-alias", "passing").await;
    assert_eq!(c["Output"], "All checks passing.");
    let r = a.put("/v1/agent/check/warn/api-ttl?note=slow", "").await;
    assert_eq!(r.status, 200);
    let c = wait_status(&a, "proxy-alias", "warning").await;
    assert!(c["Output"].as_str().unwrap().contains("slow"), "{c}");
    let r = a.put("/v1/agent/service/deregister/api-1", "").await;
    assert_eq!(r.status, 200);
    let c = wait_status(&a, "proxy-alias", "critical").await;
    assert_eq!(
        c["Output"],
        "Service api-1 could not be found on node node1"
    );
    // Interval or TTL on an alias check is Consul's 400.
    let r = a
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"x","AliasService":"a","Interval":"1s"}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("Interval must not be set for Alias checks"),
        "{}",
        r.body
    );
    a.shutdown().await;
}

#[tokio::test]
async fn many_slow_scripts_run_a_bounded_number_at_a_time() {
    let a = start_with(scripts()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // Each run holds a file `r.<pid>` while it sleeps and notes how many
    // runs it saw at once in `n.<pid>`.
    let script =
        format!("touch {d}/r.$$; ls {d} | grep -c '^r\\.' > {d}/n.$$; sleep 0.3; rm {d}/r.$$");
    for i in 0..40 {
        let body = serde_json::json!({
            "Name": format!("s{i}"), "Args": ["/bin/sh", "-c", script], "Interval": "100ms"
        });
        let r = a.put("/v1/agent/check/register", &body.to_string()).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    let mut max = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("n.") {
            let n: usize = std::fs::read_to_string(&p)
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap_or(0);
            max = max.max(n);
        }
    }
    assert!(max > 1, "scripts run concurrently, saw {max}");
    assert!(max <= 16, "at most 16 scripts at once, saw {max}");
    a.shutdown().await;
}
