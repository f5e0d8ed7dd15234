//! The Consul connection flags of Consul's own CLI (`-http-addr`, `-token`,
//! `-token-file`, `-ca-file`, ...), for the toolkit's binaries and for
//! services that want them. Each flag falls back to its `CONSUL_*` variable;
//! precedence is flag > environment > default. Enable with the `cli` feature.
//!
//! ```
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     consul: dcy::cli::ConsulArgs,
//! }
//!
//! let args = Args::parse_from(["app", "--http-addr", "127.0.0.1:18500", "--datacenter", "dc2"]);
//! let cfg = args.consul.to_config().unwrap();
//! assert_eq!(cfg.address, "127.0.0.1:18500");
//! assert_eq!(cfg.datacenter.as_deref(), Some("dc2"));
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::Config;
use crate::error::Result;

/// Consul's HTTP API flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConsulArgs {
    /// Consul agent address (`CONSUL_HTTP_ADDR`), e.g. `127.0.0.1:8500` or `https://consul:8501`.
    #[arg(long = "http-addr", value_name = "ADDR")]
    pub http_addr: Option<String>,
    /// ACL token (`CONSUL_HTTP_TOKEN`).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// File holding the ACL token (`CONSUL_HTTP_TOKEN_FILE`).
    #[arg(long = "token-file", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// CA bundle to verify Consul's certificate (`CONSUL_CACERT`).
    #[arg(long = "ca-file", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Directory of CA certificates (`CONSUL_CAPATH`).
    #[arg(long = "ca-path", value_name = "DIR")]
    pub ca_path: Option<PathBuf>,
    /// Client certificate (`CONSUL_CLIENT_CERT`).
    #[arg(long = "client-cert", value_name = "PATH")]
    pub client_cert: Option<PathBuf>,
    /// Client key (`CONSUL_CLIENT_KEY`).
    #[arg(long = "client-key", value_name = "PATH")]
    pub client_key: Option<PathBuf>,
    /// Server name to verify (`CONSUL_TLS_SERVER_NAME`).
    #[arg(long = "tls-server-name", value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// Datacenter to use (default: the agent's).
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<String>,
}

impl ConsulArgs {
    /// The client configuration: these flags over the process environment.
    pub fn to_config(&self) -> Result<Config> {
        let env: HashMap<String, String> = std::env::vars().collect();
        self.to_config_with_env(env)
    }

    /// The client configuration: these flags over the given environment.
    pub fn to_config_with_env(&self, mut env: HashMap<String, String>) -> Result<Config> {
        let mut set = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                env.insert(k.to_string(), v);
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        set("CONSUL_HTTP_ADDR", self.http_addr.clone());
        if self.token.is_some() {
            // A token flag beats a token file from the environment.
            env.remove("CONSUL_HTTP_TOKEN_FILE");
        }
        let mut set = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                env.insert(k.to_string(), v);
            }
        };
        set("CONSUL_HTTP_TOKEN", self.token.clone());
        set("CONSUL_HTTP_TOKEN_FILE", path(&self.token_file));
        set("CONSUL_CACERT", path(&self.ca_file));
        set("CONSUL_CAPATH", path(&self.ca_path));
        set("CONSUL_CLIENT_CERT", path(&self.client_cert));
        set("CONSUL_CLIENT_KEY", path(&self.client_key));
        set("CONSUL_TLS_SERVER_NAME", self.tls_server_name.clone());
        let mut cfg = Config::from_env_map(&env)?;
        if let Some(dc) = &self.datacenter {
            cfg.datacenter = Some(dc.clone());
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_environment() {
        let env: HashMap<String, String> = [
            ("CONSUL_HTTP_ADDR", "10.0.0.1:8500"),
            ("CONSUL_HTTP_TOKEN", "env-token"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let none = ConsulArgs::default()
            .to_config_with_env(env.clone())
            .unwrap();
        assert_eq!(none.address, "10.0.0.1:8500");
        assert_eq!(none.token.as_ref().map(|t| t.expose()), Some("env-token"));
        let flags = ConsulArgs {
            http_addr: Some("https://127.0.0.1:8501".into()),
            token: Some("flag-token".into()),
            ..ConsulArgs::default()
        };
        let cfg = flags.to_config_with_env(env).unwrap();
        assert_eq!(cfg.base_url(), "https://127.0.0.1:8501");
        assert_eq!(cfg.token.as_ref().map(|t| t.expose()), Some("flag-token"));
    }
}
