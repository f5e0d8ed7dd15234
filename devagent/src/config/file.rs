//! Consul's config files (JSON or HCL) and `-hcl` text: reading them and
//! applying their keys to an [`AgentConfig`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{AgentConfig, ConfigError};

/// One JSON or HCL config file (by its extension).
pub(super) fn read_file(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("reading config file {}: {e}", path.display())))?;
    let is_hcl = path.extension().is_some_and(|e| e == "hcl");
    if is_hcl {
        hcl::from_str::<Value>(&text)
            .map_err(|e| ConfigError(format!("config file {}: invalid HCL: {e}", path.display())))
    } else {
        serde_json::from_str(&text).map_err(|e| {
            ConfigError(format!(
                "config file {}: invalid JSON at line {} column {}: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    }
}

/// The files of `dirs` (`.json` and `.hcl`, in lexical order), then `files`.
pub(super) fn config_files(
    dirs: &[PathBuf],
    files: &[PathBuf],
) -> Result<Vec<PathBuf>, ConfigError> {
    let mut out = Vec::new();
    for dir in dirs {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| ConfigError(format!("reading config dir {}: {e}", dir.display())))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json" || e == "hcl"))
            .collect();
        found.sort();
        out.extend(found);
    }
    out.extend(files.iter().cloned());
    Ok(out)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |cur, k| cur.get(k))?.as_str()
}

fn u64_at(v: &Value, path: &[&str]) -> Option<i64> {
    let x = path.iter().try_fold(v, |cur, k| cur.get(k))?;
    x.as_i64().or_else(|| x.as_str()?.parse().ok())
}

fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    path.iter().try_fold(v, |cur, k| cur.get(k))?.as_bool()
}

/// An IP address, or an error naming `what`.
pub(super) fn parse_ip(s: &str, what: &str) -> Result<IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError(format!("{what}: {s:?} is not an IP address")))
}

/// A port; negative: off.
pub(super) fn port(v: i64, what: &str) -> Result<Option<u16>, ConfigError> {
    if v < 0 {
        return Ok(None);
    }
    u16::try_from(v)
        .map(Some)
        .map_err(|_| ConfigError(format!("{what}: {v} is not a port (0-65535)")))
}

/// A recursor: an IP address with an optional port (53).
pub(super) fn recursor(s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            ConfigError(format!(
                "recursor {s:?}: use an IP address with an optional port"
            ))
        })
}

/// Applies one config file's keys to `cfg`. Unknown keys are ignored.
pub(super) fn apply_file(
    cfg: &mut AgentConfig,
    v: &Value,
    http_port: &mut i64,
    dns_port: &mut i64,
) -> Result<(), ConfigError> {
    if let Some(s) = str_at(v, &["node_name"]) {
        cfg.node_name = s.to_string();
    }
    if let Some(s) = str_at(v, &["node_id"]) {
        cfg.node_id = Some(s.to_string());
    }
    if let Some(s) = str_at(v, &["datacenter"]) {
        cfg.datacenter = s.to_string();
    }
    if let Some(s) = str_at(v, &["data_dir"]) {
        cfg.data_dir = Some(PathBuf::from(s));
    }
    if let Some(s) = str_at(v, &["bind_addr"]) {
        cfg.advertise_addr = parse_ip(s, "bind_addr")?;
    }
    if let Some(s) = str_at(v, &["advertise_addr"]) {
        cfg.advertise_addr = parse_ip(s, "advertise_addr")?;
    }
    if let Some(s) = str_at(v, &["client_addr"]) {
        let ip = parse_ip(s, "client_addr")?;
        cfg.http_addr.set_ip(ip);
        if let Some(d) = cfg.dns_addr.as_mut() {
            d.set_ip(ip);
        }
    }
    if let Some(s) = str_at(v, &["addresses", "http"]) {
        cfg.http_addr.set_ip(parse_ip(s, "addresses.http")?);
    }
    if let Some(s) = str_at(v, &["addresses", "dns"]) {
        let ip = parse_ip(s, "addresses.dns")?;
        if let Some(d) = cfg.dns_addr.as_mut() {
            d.set_ip(ip);
        }
    }
    if let Some(p) = u64_at(v, &["ports", "http"]) {
        *http_port = p;
    }
    if let Some(p) = u64_at(v, &["ports", "dns"]) {
        *dns_port = p;
    }
    for empty in cfg.acl.apply_file(v).map_err(ConfigError)? {
        tracing::warn!("{empty} is empty: an empty token is not a token, ignored");
    }
    if let Some(list) = v.get("recursors").and_then(Value::as_array) {
        cfg.dns.recursors = list
            .iter()
            .filter_map(Value::as_str)
            .map(recursor)
            .collect::<Result<_, _>>()?;
    }
    if let Some(n) = u64_at(v, &["dns_config", "udp_answer_limit"]) {
        cfg.dns.udp_answer_limit = usize::try_from(n).unwrap_or(3);
    }
    if let Some(n) = u64_at(v, &["dns_config", "a_record_limit"]) {
        cfg.dns.a_record_limit = usize::try_from(n).unwrap_or(0);
    }
    if let Some(b) = bool_at(v, &["dns_config", "only_passing"]) {
        cfg.dns.only_passing = b;
    }
    if let Some(b) = bool_at(v, &["dns_config", "enable_truncate"]) {
        cfg.dns.enable_truncate = b;
    }
    crate::limits::apply(&mut cfg.limits, v).map_err(ConfigError)?;
    if let Some(b) = bool_at(v, &["enable_script_checks"]) {
        cfg.enable_script_checks = b;
    }
    if let Some(b) = bool_at(v, &["enable_local_script_checks"]) {
        cfg.enable_local_script_checks = b;
    }
    for key in ["service", "services", "check", "checks"] {
        match v.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    cfg.definitions.push(serde_json::json!({ key: item }));
                }
            }
            Some(item) => cfg.definitions.push(serde_json::json!({ key: item })),
        }
    }
    Ok(())
}
