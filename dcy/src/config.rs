//! How to reach Consul: the Go client's `CONSUL_*` environment contract,
//! exactly, plus a builder for code.
//!
//! | Variable | Effect |
//! |---|---|
//! | `CONSUL_HTTP_ADDR` | `host:port`, `http://`, `https://` (with an optional path prefix) or `unix:///path` |
//! | `CONSUL_HTTP_TOKEN` | ACL token, sent as `X-Consul-Token` |
//! | `CONSUL_HTTP_TOKEN_FILE` | file holding the token; wins over `CONSUL_HTTP_TOKEN` |
//! | `CONSUL_HTTP_AUTH` | basic auth `user[:password]` |
//! | `CONSUL_HTTP_SSL` | `true` switches to https (never back to http) |
//! | `CONSUL_HTTP_SSL_VERIFY` | `false` skips certificate verification |
//! | `CONSUL_CACERT`, `CONSUL_CAPATH` | CA bundle file, directory of CA files |
//! | `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY` | client certificate and key (both or neither) |
//! | `CONSUL_TLS_SERVER_NAME` | name to verify the server certificate against |
//! | `CONSUL_NAMESPACE`, `CONSUL_PARTITION` | Enterprise `ns` / `partition` query parameters |
//! | `DCY_DNS_ADDR` | Consul DNS address for [`crate::dns`] (default `127.0.0.1:8600`) |
//! | `SVCKIT_DCY_CONSUL` | svckit's agent `host[:port]`, used only when `CONSUL_HTTP_ADDR` is unset |
//!
//! Booleans use Go's `strconv.ParseBool` spelling (`1`, `t`, `true`, `0`, `f`, `false`, ...).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// How requests reach the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
    /// HTTP over a Unix socket at this path.
    Unix(PathBuf),
}

/// TLS settings for https.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `CONSUL_CACERT`: a PEM bundle of CAs to trust.
    pub ca_file: Option<PathBuf>,
    /// `CONSUL_CAPATH`: a directory of PEM CA files to trust.
    pub ca_path: Option<PathBuf>,
    /// `CONSUL_CLIENT_CERT`: PEM client certificate (needs the key).
    pub client_cert: Option<PathBuf>,
    /// `CONSUL_CLIENT_KEY`: PEM client key (needs the certificate).
    pub client_key: Option<PathBuf>,
    /// `CONSUL_TLS_SERVER_NAME`: verify the certificate against this name.
    pub server_name: Option<String>,
    /// `CONSUL_HTTP_SSL_VERIFY=false`: accept any certificate.
    pub insecure_skip_verify: bool,
}

/// A secret that never shows in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything a [`crate::Client`] needs to talk to Consul.
#[derive(Clone, Debug)]
pub struct Config {
    /// `host:port` of the agent (unused for Unix sockets).
    pub address: String,
    /// HTTP, HTTPS or a Unix socket.
    pub transport: Transport,
    /// Path prefix of a reverse proxy in front of the agent (`http://h/consul` → `/consul`).
    pub path_prefix: String,
    /// ACL token.
    pub token: Option<Secret>,
    /// Basic auth user and password.
    pub http_auth: Option<(String, Option<Secret>)>,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Datacenter to query (default: the agent's own).
    pub datacenter: Option<String>,
    /// Enterprise namespace.
    pub namespace: Option<String>,
    /// Enterprise admin partition.
    pub partition: Option<String>,
    /// Consul DNS server for [`crate::dns`].
    pub dns_addr: SocketAddr,
    /// Timeout of ordinary (non-blocking) requests.
    pub request_timeout: Duration,
    /// `wait` of blocking queries made by watches.
    pub watch_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            address: "127.0.0.1:8500".into(),
            transport: Transport::Http,
            path_prefix: String::new(),
            token: None,
            http_auth: None,
            tls: TlsConfig::default(),
            datacenter: None,
            namespace: None,
            partition: None,
            dns_addr: SocketAddr::from(([127, 0, 0, 1], 8600)),
            request_timeout: Duration::from_secs(10),
            watch_wait: Duration::from_secs(300),
        }
    }
}

fn parse_bool(name: &str, v: &str) -> Option<bool> {
    let b = gocompat::parse_bool(v);
    if b.is_none() {
        tracing::warn!(
            variable = name,
            value = v,
            "ignoring a value that is not a boolean (use true or false)"
        );
    }
    b
}

impl Config {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<Config> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Config::from_env_map(&vars)
    }

    /// The configuration from a map of environment variables (for tests and
    /// for tools that pass a child's environment).
    pub fn from_env_map(env: &HashMap<String, String>) -> Result<Config> {
        let get = |k: &str| env.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let mut b = Config::builder();
        if let Some(addr) = get("CONSUL_HTTP_ADDR") {
            b = b.address(addr);
        } else if let Some(addr) = get("SVCKIT_DCY_CONSUL").filter(|a| !a.starts_with('-')) {
            let addr = if addr.contains(':') {
                addr.to_string()
            } else {
                format!("{addr}:8500")
            };
            b = b.address(&addr);
        }
        if let Some(t) = get("CONSUL_HTTP_TOKEN") {
            b = b.token(t);
        }
        if let Some(f) = get("CONSUL_HTTP_TOKEN_FILE") {
            b = b.token_file(f);
        }
        if let Some(auth) = get("CONSUL_HTTP_AUTH") {
            b = b.http_auth(auth);
        }
        if let Some(ssl) = get("CONSUL_HTTP_SSL") {
            if parse_bool("CONSUL_HTTP_SSL", ssl) == Some(true) {
                b = b.ssl(true);
            }
        }
        if let Some(v) = get("CONSUL_HTTP_SSL_VERIFY") {
            if parse_bool("CONSUL_HTTP_SSL_VERIFY", v) == Some(false) {
                b = b.insecure_skip_verify(true);
            }
        }
        if let Some(f) = get("CONSUL_CACERT") {
            b = b.ca_file(f);
        }
        if let Some(p) = get("CONSUL_CAPATH") {
            b = b.ca_path(p);
        }
        if let Some(c) = get("CONSUL_CLIENT_CERT") {
            b.tls.client_cert = Some(c.into());
        }
        if let Some(k) = get("CONSUL_CLIENT_KEY") {
            b.tls.client_key = Some(k.into());
        }
        if let Some(n) = get("CONSUL_TLS_SERVER_NAME") {
            b = b.tls_server_name(n);
        }
        if let Some(ns) = get("CONSUL_NAMESPACE") {
            b.namespace = Some(ns.to_string());
        }
        if let Some(p) = get("CONSUL_PARTITION") {
            b.partition = Some(p.to_string());
        }
        if let Some(d) = get("DCY_DNS_ADDR") {
            b = b.dns_addr(d);
        }
        b.build()
    }

    /// A builder starting from the defaults (`127.0.0.1:8500`, http).
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// `scheme://host[:port]` plus the path prefix, without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.transport {
            Transport::Http => format!("http://{}{}", self.address, self.path_prefix),
            Transport::Https => format!("https://{}{}", self.address, self.path_prefix),
            Transport::Unix(_) => format!("http://localhost{}", self.path_prefix),
        }
    }

    /// The variables a child process needs to reach the same agent, as the
    /// Go client's `GenerateEnv` (the token goes to the child, on purpose).
    pub fn child_env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "CONSUL_HTTP_ADDR".to_string(),
            match &self.transport {
                Transport::Unix(p) => format!("unix://{}", p.display()),
                Transport::Https => format!("https://{}{}", self.address, self.path_prefix),
                Transport::Http => format!("{}{}", self.address, self.path_prefix),
            },
        )];
        if let Some(t) = &self.token {
            env.push(("CONSUL_HTTP_TOKEN".into(), t.expose().to_string()));
        }
        if self.transport == Transport::Https {
            env.push(("CONSUL_HTTP_SSL".into(), "true".into()));
            env.push((
                "CONSUL_HTTP_SSL_VERIFY".into(),
                (!self.tls.insecure_skip_verify).to_string(),
            ));
        }
        let paths = [
            ("CONSUL_CACERT", &self.tls.ca_file),
            ("CONSUL_CAPATH", &self.tls.ca_path),
            ("CONSUL_CLIENT_CERT", &self.tls.client_cert),
            ("CONSUL_CLIENT_KEY", &self.tls.client_key),
        ];
        for (k, v) in paths {
            if let Some(p) = v {
                env.push((k.into(), p.display().to_string()));
            }
        }
        if let Some(n) = &self.tls.server_name {
            env.push(("CONSUL_TLS_SERVER_NAME".into(), n.clone()));
        }
        if let Some((user, pass)) = &self.http_auth {
            let v = match pass {
                Some(p) => format!("{user}:{}", p.expose()),
                None => user.clone(),
            };
            env.push(("CONSUL_HTTP_AUTH".into(), v));
        }
        env
    }
}

/// Builds a [`Config`]; later calls override earlier ones.
#[derive(Clone, Debug, Default)]
pub struct ConfigBuilder {
    address: Option<String>,
    ssl: bool,
    token: Option<Secret>,
    token_file: Option<PathBuf>,
    http_auth: Option<String>,
    tls: TlsConfig,
    datacenter: Option<String>,
    namespace: Option<String>,
    partition: Option<String>,
    dns_addr: Option<String>,
    request_timeout: Option<Duration>,
    watch_wait: Option<Duration>,
}

impl ConfigBuilder {
    /// Agent address: `host:port`, `http://host:port[/prefix]`,
    /// `https://host:port[/prefix]` or `unix:///path/to/socket`.
    pub fn address(mut self, addr: &str) -> Self {
        self.address = Some(addr.to_string());
        self
    }

    /// Use https.
    pub fn ssl(mut self, on: bool) -> Self {
        self.ssl = on;
        self
    }

    /// ACL token.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(Secret::new(token));
        self
    }

    /// File holding the ACL token; read when the config is built, wins over [`ConfigBuilder::token`].
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    /// Basic auth as `user[:password]`.
    pub fn http_auth(mut self, auth: &str) -> Self {
        self.http_auth = Some(auth.to_string());
        self
    }

    /// Accept any server certificate.
    pub fn insecure_skip_verify(mut self, on: bool) -> Self {
        self.tls.insecure_skip_verify = on;
        self
    }

    /// CA bundle to trust.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca_file = Some(path.into());
        self
    }

    /// Directory of CA files to trust.
    pub fn ca_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca_path = Some(path.into());
        self
    }

    /// Client certificate and key (PEM files).
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls.client_cert = Some(cert.into());
        self.tls.client_key = Some(key.into());
        self
    }

    /// Name to verify the server certificate against (a `:port` is stripped).
    pub fn tls_server_name(mut self, name: &str) -> Self {
        let host = name.rsplit_once(':').map_or(name, |(h, _)| h);
        self.tls.server_name = Some(host.to_string());
        self
    }

    /// Datacenter to query.
    pub fn datacenter(mut self, dc: &str) -> Self {
        self.datacenter = Some(dc.to_string());
        self
    }

    /// Consul DNS server for [`crate::dns`] (`host:port`).
    pub fn dns_addr(mut self, addr: &str) -> Self {
        self.dns_addr = Some(addr.to_string());
        self
    }

    /// Timeout of ordinary requests (default 10s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = Some(d);
        self
    }

    /// `wait` of the blocking queries that watches make (default 5m, at most 10m).
    pub fn watch_wait(mut self, d: Duration) -> Self {
        self.watch_wait = Some(d);
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<Config> {
        let mut cfg = Config::default();
        if let Some(addr) = &self.address {
            let (transport, address, prefix) = parse_address(addr)?;
            cfg.transport = transport;
            cfg.address = address;
            cfg.path_prefix = prefix;
        }
        // Never revert to http if TLS was explicitly requested.
        if self.ssl && cfg.transport == Transport::Http {
            cfg.transport = Transport::Https;
        }
        cfg.token = self.token;
        if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::config(format!(
                    "reading the token file {} (CONSUL_HTTP_TOKEN_FILE): {e}",
                    path.display()
                ))
            })?;
            let t = text.trim();
            if !t.is_empty() {
                cfg.token = Some(Secret::new(t));
            }
        }
        if let Some(auth) = &self.http_auth {
            cfg.http_auth = Some(match auth.split_once(':') {
                Some((u, p)) => (u.to_string(), Some(Secret::new(p))),
                None => (auth.clone(), None),
            });
        }
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(Error::config(
                "both client cert and client key must be provided (CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY)",
            ));
        }
        cfg.tls = self.tls;
        cfg.datacenter = self.datacenter;
        cfg.namespace = self.namespace;
        cfg.partition = self.partition;
        if let Some(d) = &self.dns_addr {
            cfg.dns_addr = d.parse().map_err(|_| {
                Error::config(format!(
                    "DNS address {d:?} (DCY_DNS_ADDR): use ip:port such as 127.0.0.1:8600"
                ))
            })?;
        }
        if let Some(t) = self.request_timeout {
            cfg.request_timeout = t;
        }
        if let Some(w) = self.watch_wait {
            cfg.watch_wait = w.clamp(Duration::from_millis(1), Duration::from_secs(600));
        }
        Ok(cfg)
    }
}

/// Splits an address the way the Go client's `NewClient` does.
fn parse_address(addr: &str) -> Result<(Transport, String, String)> {
    let Some((scheme, rest)) = addr.split_once("://") else {
        if addr.is_empty() {
            return Err(Error::config(
                "CONSUL_HTTP_ADDR is empty: use host:port such as 127.0.0.1:8500",
            ));
        }
        return Ok((Transport::Http, addr.to_string(), String::new()));
    };
    let transport = match scheme {
        "http" => Transport::Http,
        "https" => Transport::Https,
        "unix" => {
            if rest.is_empty() {
                return Err(Error::config("unix:// address without a socket path: use unix:///path/to/consul.sock"));
            }
            return Ok((Transport::Unix(PathBuf::from(rest)), String::new(), String::new()));
        }
        other => {
            return Err(Error::config(format!(
                "Unknown protocol scheme: {other} (in the Consul address {addr:?}; use http://, https:// or unix://)"
            )))
        }
    };
    match rest.split_once('/') {
        Some((host, prefix)) => {
            let prefix = prefix.trim_end_matches('/');
            let prefix = if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            };
            Ok((transport, host.to_string(), prefix))
        }
        None => Ok((transport, rest.to_string(), String::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env_map(&map)
    }

    #[test]
    fn address_forms() {
        let table: &[(&str, Transport, &str, &str)] = &[
            ("127.0.0.1:8500", Transport::Http, "127.0.0.1:8500", ""),
            ("http://consul:8500", Transport::Http, "consul:8500", ""),
            ("https://consul:8501", Transport::Https, "consul:8501", ""),
            (
                "https://proxy.example/consul/",
                Transport::Https,
                "proxy.example",
                "/consul",
            ),
            ("http://proxy:80/a/b", Transport::Http, "proxy:80", "/a/b"),
            (
                "unix:///var/run/consul.sock",
                Transport::Unix("/var/run/consul.sock".into()),
                "",
                "",
            ),
        ];
        for (addr, transport, host, prefix) in table {
            let c = env(&[("CONSUL_HTTP_ADDR", addr)]).unwrap();
            assert_eq!(
                (&c.transport, c.address.as_str(), c.path_prefix.as_str()),
                (transport, *host, *prefix),
                "{addr}"
            );
        }
        let e = env(&[("CONSUL_HTTP_ADDR", "ftp://x")]).unwrap_err();
        assert!(
            e.to_string().contains("Unknown protocol scheme: ftp"),
            "{e}"
        );
        assert_eq!(env(&[]).unwrap().base_url(), "http://127.0.0.1:8500");
        assert_eq!(
            env(&[("SVCKIT_DCY_CONSUL", "consul1")]).unwrap().address,
            "consul1:8500"
        );
        assert_eq!(
            env(&[("SVCKIT_DCY_CONSUL", "x:1"), ("CONSUL_HTTP_ADDR", "y:2")])
                .unwrap()
                .address,
            "y:2"
        );
    }

    #[test]
    fn ssl_never_reverts_to_http() {
        let c = env(&[
            ("CONSUL_HTTP_ADDR", "http://h:1"),
            ("CONSUL_HTTP_SSL", "true"),
        ])
        .unwrap();
        assert_eq!(c.transport, Transport::Https);
        let c = env(&[("CONSUL_HTTP_SSL", "1")]).unwrap();
        assert_eq!(c.base_url(), "https://127.0.0.1:8500");
        let c = env(&[("CONSUL_HTTP_SSL", "nonsense")]).unwrap();
        assert_eq!(c.transport, Transport::Http, "a bad boolean only warns");
        let c = env(&[("CONSUL_HTTP_SSL_VERIFY", "f")]).unwrap();
        assert!(c.tls.insecure_skip_verify);
    }

    #[test]
    fn token_file_wins_and_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "  from-file\n").unwrap();
        let c = env(&[
            ("CONSUL_HTTP_TOKEN", "from-env"),
            ("CONSUL_HTTP_TOKEN_FILE", f.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("from-file"));
        assert!(!format!("{c:?}").contains("from-file"));
        let e = env(&[("CONSUL_HTTP_TOKEN_FILE", "/nonexistent/token")]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/token"));
        let c = env(&[("CONSUL_HTTP_TOKEN", "t")]).unwrap();
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("t"));
    }

    #[test]
    fn auth_tls_and_dns_settings() {
        let c = env(&[("CONSUL_HTTP_AUTH", "user:pa:ss")]).unwrap();
        let (u, p) = c.http_auth.clone().unwrap();
        assert_eq!(
            (u.as_str(), p.as_ref().map(Secret::expose)),
            ("user", Some("pa:ss"))
        );
        assert!(!format!("{c:?}").contains("pa:ss"));
        let e = env(&[("CONSUL_CLIENT_CERT", "/c.pem")]).unwrap_err();
        assert!(e.to_string().contains("both client cert and client key"));
        let c = env(&[
            ("CONSUL_CLIENT_CERT", "/c.pem"),
            ("CONSUL_CLIENT_KEY", "/k.pem"),
            ("CONSUL_TLS_SERVER_NAME", "consul.local:8501"),
        ])
        .unwrap();
        assert_eq!(c.tls.server_name.as_deref(), Some("consul.local"));
        assert_eq!(
            env(&[("DCY_DNS_ADDR", "127.0.0.1:53")])
                .unwrap()
                .dns_addr
                .port(),
            53
        );
        assert!(env(&[("DCY_DNS_ADDR", "nowhere")]).is_err());
        let c = env(&[("CONSUL_NAMESPACE", "team"), ("CONSUL_CACERT", "/ca.pem")]).unwrap();
        assert_eq!(c.namespace.as_deref(), Some("team"));
        let child = c.child_env();
        assert!(child.contains(&("CONSUL_CACERT".to_string(), "/ca.pem".to_string())));
    }
}
