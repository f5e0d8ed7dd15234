//! The transport against small raw servers: what goes on the wire, the
//! pool, stale connections, Unix sockets, TLS and proxies.

use std::sync::{Arc, Mutex as StdMutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const OK: &str = "HTTP/1.1 200 OK\r\nX-Consul-Index: 7\r\nContent-Length: 2\r\n\r\n[]";

/// What a raw server saw: the request heads, and how many connections.
#[derive(Default)]
struct Seen {
    heads: Vec<String>,
    connections: usize,
}

/// Answers every request on `io` with `answer`; `once` closes after one.
async fn serve_conn<S>(mut io: S, answer: &'static str, once: bool, seen: Arc<StdMutex<Seen>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            buf.drain(..end + 4);
            seen.lock().unwrap().heads.push(head);
            if io.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            if once {
                return;
            }
        }
    }
}

/// A TCP server answering `answer`; its address and what it saw.
async fn server(answer: &'static str, once: bool) -> (String, Arc<StdMutex<Seen>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(StdMutex::new(Seen::default()));
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            s.lock().unwrap().connections += 1;
            tokio::spawn(serve_conn(sock, answer, once, Arc::clone(&s)));
        }
    });
    (addr, seen)
}

fn transport(config: Config) -> Transport {
    Transport::new(&config).unwrap()
}

async fn get(t: &Transport, path: &str) -> Result<Answer> {
    t.send(Method::GET, path, "", None, None, Duration::from_secs(5))
        .await
}

#[tokio::test]
async fn headers_auth_and_token_go_out_once_and_connections_are_reused() {
    let (addr, seen) = server(OK, false).await;
    let cfg = Config::builder()
        .address(&format!("http://{addr}/consul"))
        .token("tok-1")
        .http_auth("user:pw")
        .build()
        .unwrap();
    let t = transport(cfg);
    for _ in 0..3 {
        let a = get(&t, "/v1/kv/x").await.unwrap();
        assert_eq!((a.status, &a.body[..]), (StatusCode::OK, &b"[]"[..]));
    }
    let other = Secret::new("tok-2");
    t.send(
        Method::PUT,
        "/v1/kv/y",
        "cas=0",
        Some(&other),
        Some(Bytes::from_static(b"v")),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.connections, 1,
        "one pooled connection carried all four"
    );
    let first = seen.heads[0].to_ascii_lowercase();
    assert!(first.starts_with("get /consul/v1/kv/x http/1.1"), "{first}");
    assert_eq!(first.matches("x-consul-token: tok-1").count(), 1, "{first}");
    assert_eq!(
        first.matches("authorization: basic dxnlcjpwdw==").count(),
        1
    );
    assert_eq!(first.matches("user-agent: dcy/").count(), 1);
    assert_eq!(first.matches("\r\nhost: ").count(), 1);
    let put = seen.heads[3].to_ascii_lowercase();
    assert!(put.starts_with("put /consul/v1/kv/y?cas=0 "), "{put}");
    assert!(put.contains("x-consul-token: tok-2") && !put.contains("tok-1"));
    assert_eq!(t.idle_count(), 1);
}

#[tokio::test]
async fn a_connection_the_agent_closed_is_replaced_and_close_is_honoured() {
    // The server closes after each answer without saying so: the pooled
    // connection is dead when the next request comes.
    let (addr, seen) = server(OK, true).await;
    let t = transport(Config::builder().address(&addr).build().unwrap());
    for _ in 0..3 {
        get(&t, "/v1/status/leader").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.lock().unwrap().connections, 3);

    let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]";
    let (addr, _) = server(close, false).await;
    let t = transport(Config::builder().address(&addr).build().unwrap());
    get(&t, "/v1/status/leader").await.unwrap();
    assert_eq!(t.idle_count(), 0, "Connection: close is not pooled");
}

#[tokio::test]
async fn refused_hung_and_garbage_agents_are_typed_errors() {
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let t = transport(Config::builder().address(&refused).build().unwrap());
    let e = get(&t, "/v1/status/leader").await.unwrap_err();
    assert!(e.is_connect() && e.is_retryable(), "{e}");
    assert!(e.to_string().starts_with("GET /v1/status/leader: "), "{e}");

    let hung = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hung.local_addr().unwrap().to_string();
    let t = transport(Config::builder().address(&addr).build().unwrap());
    let e = t
        .send(
            Method::GET,
            "/v1/x",
            "",
            None,
            None,
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    drop(hung);

    let (addr, _) = server("SSH-2.0-OpenSSH\r\n\r\n", false).await;
    let t = transport(Config::builder().address(&addr).build().unwrap());
    let e = get(&t, "/v1/x").await.unwrap_err();
    assert!(!e.to_string().is_empty() && e.is_retryable(), "{e}");
}

#[tokio::test]
async fn unix_sockets_carry_requests_with_host_localhost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let l = tokio::net::UnixListener::bind(&path).unwrap();
    let seen = Arc::new(StdMutex::new(Seen::default()));
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            tokio::spawn(serve_conn(sock, OK, false, Arc::clone(&s)));
        }
    });
    let cfg = Config::builder()
        .address(&format!("unix://{}", path.display()))
        .build()
        .unwrap();
    let t = transport(cfg);
    let a = get(&t, "/v1/agent/self").await.unwrap();
    assert_eq!(a.status, StatusCode::OK);
    let head = seen.lock().unwrap().heads[0].to_ascii_lowercase();
    assert!(head.contains("\r\nhost: localhost"), "{head}");
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written to `dir`;
/// the acceptor that serves it.
fn tls_pair(dir: &std::path::Path) -> (std::path::PathBuf, tokio_rustls::TlsAcceptor) {
    let key =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, key.cert.pem()).unwrap();
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![key.cert.der().clone()], der)
    .unwrap();
    (ca, tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

#[tokio::test]
async fn https_verifies_the_agent_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, acceptor) = tls_pair(dir.path());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(StdMutex::new(Seen::default()));
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let (acceptor, s) = (acceptor.clone(), Arc::clone(&s));
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(sock).await {
                    serve_conn(tls, OK, false, s).await;
                }
            });
        }
    });
    let cfg = Config::builder()
        .address(&format!("https://localhost:{port}"))
        .ca_file(ca.to_str().unwrap())
        .build()
        .unwrap();
    let t = transport(cfg);
    assert_eq!(get(&t, "/v1/status/leader").await.unwrap().status, 200);
    // The same agent, verified against the system roots: refused.
    let cfg = Config::builder()
        .address(&format!("https://localhost:{port}"))
        .build()
        .unwrap();
    let e = get(&transport(cfg), "/v1/status/leader").await.unwrap_err();
    assert!(e.is_connect(), "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
    // CONSUL_TLS_SERVER_NAME names what the certificate must say.
    let cfg = Config::builder()
        .address(&format!("https://127.0.0.1:{port}"))
        .ca_file(ca.to_str().unwrap())
        .tls_server_name("localhost")
        .build()
        .unwrap();
    assert_eq!(get(&transport(cfg), "/v1/x").await.unwrap().status, 200);
    assert_eq!(seen.lock().unwrap().heads.len(), 2);
}

#[tokio::test]
async fn remote_agents_go_through_the_proxy_of_the_environment() {
    use hyper_util::client::proxy::matcher::Matcher;
    // A forward proxy for http: it sees absolute URIs and the credentials.
    let (proxy, seen) = server(OK, false).await;
    let proxies = Matcher::builder()
        .all(format!("http://pu:pp@{proxy}"))
        .build();
    let cfg = Config::builder()
        .address("consul.invalid:8500")
        .build()
        .unwrap();
    let t = Transport::with_dialer(&cfg, Dialer::with_proxies(&cfg, &proxies).unwrap()).unwrap();
    get(&t, "/v1/status/leader").await.unwrap();
    let head = seen.lock().unwrap().heads[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get http://consul.invalid:8500/v1/status/leader http/1.1"),
        "{head}"
    );
    assert!(head.contains("proxy-authorization: basic"), "{head}");

    // A CONNECT tunnel for https, ending at a TLS agent.
    let dir = tempfile::tempdir().unwrap();
    let (ca, acceptor) = tls_pair(dir.path());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tunnel_proxy = l.local_addr().unwrap().to_string();
    let connects = Arc::new(StdMutex::new(Vec::<String>::new()));
    let c = Arc::clone(&connects);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let (acceptor, c) = (acceptor.clone(), Arc::clone(&c));
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut b = [0u8; 1];
                    if sock.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                c.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).to_string());
                sock.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
                if let Ok(tls) = acceptor.accept(sock).await {
                    serve_conn(tls, OK, false, Arc::default()).await;
                }
            });
        }
    });
    let proxies = Matcher::builder()
        .all(format!("http://{tunnel_proxy}"))
        .build();
    let cfg = Config::builder()
        .address("https://localhost.invalid:8501")
        .ca_file(ca.to_str().unwrap())
        .tls_server_name("localhost")
        .build()
        .unwrap();
    let t = Transport::with_dialer(&cfg, Dialer::with_proxies(&cfg, &proxies).unwrap()).unwrap();
    assert_eq!(get(&t, "/v1/x").await.unwrap().status, 200);
    let connect = connects.lock().unwrap()[0].clone();
    assert!(
        connect.starts_with("CONNECT localhost.invalid:8501 HTTP/1.1"),
        "{connect}"
    );
}
