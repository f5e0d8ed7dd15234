//! Opening connections to the agent: TCP (hyper-util's `HttpConnector`:
//! resolution, connect timeout, `TCP_NODELAY`, keepalive), TLS on top with
//! rustls, a Unix socket, or through a proxy from the environment (a
//! forward proxy for http, a `CONNECT` tunnel for https). Loopback agents
//! and Unix sockets are always reached directly, as Go's
//! `http.ProxyFromEnvironment` does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderValue;
use http::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tower_service::Service;

use super::Conn;
use crate::config::{Config, Transport as Scheme};
use crate::error::{Error, Result};

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// TCP keepalive on agent connections (a blocking query idles for minutes).
const KEEPALIVE: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The TLS side of an https agent.
#[derive(Clone)]
struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

/// Where and how connections go.
#[derive(Clone)]
enum Route {
    /// Straight to the agent (`http://` or `https://` when `tls` is set).
    Direct {
        tcp: HttpConnector,
        agent: Uri,
        tls: Option<Tls>,
    },
    /// A Unix socket.
    Unix(PathBuf),
    /// Plain HTTP through a forward proxy: requests carry absolute URIs.
    Forward {
        tcp: HttpConnector,
        proxy: Uri,
        auth: Option<HeaderValue>,
    },
    /// HTTPS through a proxy's `CONNECT` tunnel.
    Tunnel {
        tunnel: Tunnel<HttpConnector>,
        agent: Uri,
        tls: Tls,
    },
}

/// Opens connections to the agent of one configuration.
pub(crate) struct Dialer {
    route: Route,
    host: String,
    origin: String,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let route = match &self.route {
            Route::Direct { tls: None, .. } => "http",
            Route::Direct { tls: Some(_), .. } => "https",
            Route::Unix(_) => "unix",
            Route::Forward { .. } => "http via a proxy",
            Route::Tunnel { .. } => "https via a proxy tunnel",
        };
        f.debug_struct("Dialer")
            .field("route", &route)
            .field("host", &self.host)
            .finish()
    }
}

/// Whether `address` (`host:port`) is this machine.
fn is_loopback(address: &str) -> bool {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn tcp_connector() -> HttpConnector {
    let mut c = HttpConnector::new();
    c.enforce_http(false);
    c.set_nodelay(true);
    c.set_connect_timeout(Some(CONNECT_TIMEOUT));
    c.set_keepalive(Some(KEEPALIVE));
    c
}

fn tls_for(config: &Config) -> Result<Tls> {
    let host = config
        .address
        .rsplit_once(':')
        .map_or(config.address.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    // As the Go client: CONSUL_TLS_SERVER_NAME is both what is asked for
    // (SNI) and what the certificate must name.
    let (name, from) = match &config.tls.server_name {
        Some(n) => (n.as_str(), "CONSUL_TLS_SERVER_NAME"),
        None => (host, "CONSUL_HTTP_ADDR"),
    };
    let name = ServerName::try_from(name.to_string())
        .map_err(|e| Error::config(format!("TLS server name {name:?} ({from}): {e}")))?;
    let client = crate::tls::client_config(&config.tls)?;
    Ok(Tls {
        connector: TlsConnector::from(Arc::new(client)),
        name,
    })
}

fn agent_uri(scheme: &str, address: &str) -> Result<Uri> {
    Uri::try_from(format!("{scheme}://{address}/")).map_err(|e| {
        Error::config(format!(
            "the agent address {address:?} is not host:port ({e}): check CONSUL_HTTP_ADDR"
        ))
    })
}

impl Dialer {
    pub(crate) fn new(config: &Config) -> Result<Dialer> {
        Dialer::with_proxies(config, &Matcher::from_env())
    }

    /// The dialer for `config`, with `proxies` deciding which remote agents
    /// are reached through a proxy.
    pub(crate) fn with_proxies(config: &Config, proxies: &Matcher) -> Result<Dialer> {
        let address = config.address.as_str();
        let scheme = match config.transport {
            Scheme::Https => "https",
            _ => "http",
        };
        let origin = format!("{scheme}://{address}");
        let route = match &config.transport {
            Scheme::Unix(path) => {
                return Ok(Dialer {
                    route: Route::Unix(path.clone()),
                    host: "localhost".into(),
                    origin: "http://localhost".into(),
                })
            }
            Scheme::Http | Scheme::Https => {
                let agent = agent_uri(scheme, address)?;
                let intercept = if is_loopback(address) {
                    None
                } else {
                    proxies.intercept(&agent)
                };
                let tls = match config.transport {
                    Scheme::Https => Some(tls_for(config)?),
                    _ => None,
                };
                match (intercept, tls) {
                    (None, tls) => Route::Direct {
                        tcp: tcp_connector(),
                        agent,
                        tls,
                    },
                    (Some(i), tls) => {
                        if i.uri().scheme_str() != Some("http") {
                            return Err(Error::config(format!(
                                "the proxy for {origin} is {}: only http:// proxies are supported (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY)",
                                i.uri()
                            )));
                        }
                        let auth = i.basic_auth().cloned();
                        match tls {
                            None => Route::Forward {
                                tcp: tcp_connector(),
                                proxy: i.uri().clone(),
                                auth,
                            },
                            Some(tls) => {
                                let mut tunnel = Tunnel::new(i.uri().clone(), tcp_connector());
                                if let Some(a) = auth {
                                    tunnel = tunnel.with_auth(a);
                                }
                                Route::Tunnel { tunnel, agent, tls }
                            }
                        }
                    }
                }
            }
        };
        Ok(Dialer {
            route,
            host: address.to_string(),
            origin,
        })
    }

    /// The `Host` header.
    pub(crate) fn host_header(&self) -> &str {
        &self.host
    }

    /// `scheme://host:port` of the agent.
    pub(crate) fn origin(&self) -> String {
        self.origin.clone()
    }

    /// Whether requests carry absolute URIs (through a forward proxy).
    pub(crate) fn absolute_form(&self) -> bool {
        matches!(self.route, Route::Forward { .. })
    }

    /// `Proxy-Authorization` for a forward proxy.
    pub(crate) fn forward_proxy_auth(&self) -> Option<&HeaderValue> {
        match &self.route {
            Route::Forward { auth, .. } => auth.as_ref(),
            _ => None,
        }
    }

    /// A new connection, its HTTP/1.1 handshake done.
    pub(super) async fn connect(&self) -> Result<Conn, BoxError> {
        match self.route.clone() {
            Route::Direct {
                mut tcp,
                agent,
                tls: None,
            } => handshake(tcp.call(agent).await?).await,
            Route::Direct {
                mut tcp,
                agent,
                tls: Some(tls),
            } => {
                let stream = tcp.call(agent).await?.into_inner();
                let stream = tls.connector.connect(tls.name, stream).await?;
                handshake(TokioIo::new(stream)).await
            }
            Route::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(&path).await.map_err(|e| {
                    Box::new(std::io::Error::new(
                        e.kind(),
                        format!("connecting to {}: {e}", path.display()),
                    ))
                })?;
                handshake(TokioIo::new(stream)).await
            }
            Route::Forward { mut tcp, proxy, .. } => handshake(tcp.call(proxy).await?).await,
            Route::Tunnel {
                mut tunnel,
                agent,
                tls,
            } => {
                let stream = tunnel.call(agent).await?.into_inner();
                let stream = tls.connector.connect(tls.name, stream).await?;
                handshake(TokioIo::new(stream)).await
            }
        }
    }
}

async fn handshake<T>(io: T) -> Result<Conn, BoxError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(io)
        .await?;
    Ok(Conn {
        send,
        driver: Box::pin(conn),
        done: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_agents_are_never_proxied() {
        for a in [
            "127.0.0.1:8500",
            "localhost:8500",
            "[::1]:8500",
            "127.0.0.2:1",
        ] {
            assert!(is_loopback(a), "{a}");
        }
        assert!(!is_loopback("consul.example.com:8500"));
        let proxies = Matcher::builder().all("http://proxy.invalid:3128").build();
        let local = Config::builder().address("127.0.0.1:8500").build().unwrap();
        let d = Dialer::with_proxies(&local, &proxies).unwrap();
        assert!(!d.absolute_form());
        let remote = Config::builder()
            .address("consul.example.com:8500")
            .build()
            .unwrap();
        let d = Dialer::with_proxies(&remote, &proxies).unwrap();
        assert!(d.absolute_form(), "{d:?}");
    }
}
