//! Validation of what clients register: check definitions (Consul's
//! `CheckType.Validate`), service metadata, weights and addresses.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::StoreConfig;
use crate::decode::CheckIn;
use crate::error::ApiError;
use crate::types::{CheckSpec, Meta, MoreProbes, ServiceAddress, Status, Weights};
use consul_wire::RawWeights;

/// Largest check output kept, as Consul's `check_output_max_size`.
pub(super) const OUTPUT_MAX: usize = 4096;

pub(super) fn truncate_output(output: &str) -> String {
    if output.len() <= OUTPUT_MAX {
        return output.to_string();
    }
    let mut end = OUTPUT_MAX;
    while !output.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} ... (captured {OUTPUT_MAX} of {} bytes)",
        &output[..end],
        output.len()
    )
}

pub(super) fn validate_meta(meta: &Meta) -> Result<(), String> {
    if meta.len() > 64 {
        return Err(format!(
            "Node metadata cannot contain more than 64 key/value pairs (got {})",
            meta.len()
        ));
    }
    for (k, v) in meta {
        if k.is_empty() {
            return Err("Key cannot be blank".into());
        }
        if k.len() > 128 {
            return Err(format!("Key is too long (limit: 128 characters): {k}"));
        }
        if !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("Key contains invalid characters: {k}"));
        }
        if k.starts_with("consul-") {
            return Err(format!(
                "Key prefix 'consul-' is reserved for internal use: {k}"
            ));
        }
        if v.len() > 512 {
            return Err(format!("Value is too long (limit: 512 characters): {k}"));
        }
    }
    Ok(())
}

pub(super) fn weights(w: Option<&RawWeights>) -> Result<Weights, String> {
    let Some(w) = w else {
        return Ok(Weights::default());
    };
    let passing = w.passing.unwrap_or(1);
    let passing = if passing == 0 && w.warning.is_none() {
        1
    } else {
        passing
    };
    let warning = w.warning.unwrap_or(1);
    if !(1..=65535).contains(&passing) {
        return Err(format!(
            "Passing must be between 1 and 65535, got {passing}"
        ));
    }
    if !(0..=65535).contains(&warning) {
        return Err(format!(
            "Warning must be between 0 and 65535, got {warning}"
        ));
    }
    Ok(Weights {
        passing: passing as u32,
        warning: warning as u32,
    })
}

pub(super) fn is_unspecified(addr: &str) -> bool {
    addr.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified())
}

/// What the store reads from a check registration (the shared wire type)
/// beyond its fields: the status as sent, emptiness, and the validated spec.
pub(super) trait CheckInput {
    /// The initial status as sent (`""` when none).
    fn status_str(&self) -> &str;
    /// Whether a check in a service definition says nothing (it is skipped).
    fn is_empty(&self) -> bool;
    /// Validates the check type and turns it into a spec (Consul's
    /// `CheckType.Validate`), for a registration over the HTTP API or
    /// (`local`) from the agent's configuration files, which
    /// `enable_local_script_checks` lets run scripts.
    fn to_spec_from(&self, cfg: &StoreConfig, local: bool) -> Result<CheckSpec, String>;
}

impl CheckInput for CheckIn {
    fn status_str(&self) -> &str {
        self.status.as_deref().unwrap_or("")
    }

    fn is_empty(&self) -> bool {
        self.http.is_empty()
            && self.tcp.is_empty()
            && self.udp.is_empty()
            && self.grpc.is_empty()
            && self.h2ping.is_empty()
            && self.os_service.is_empty()
            && self.alias_service.is_empty()
            && self.alias_node.is_empty()
            && self.docker_container_id.is_empty()
            && self.script_args.is_empty()
            && self.ttl.is_none()
            && self.interval.is_none()
            && self.name.is_empty()
            && self.check_id.is_empty()
            && self.id.is_empty()
    }

    fn to_spec_from(&self, cfg: &StoreConfig, local: bool) -> Result<CheckSpec, String> {
        if self.interval.is_some() && self.ttl.is_some() {
            return Err("Interval and TTL cannot both be specified".into());
        }
        let script = !self.script_args.is_empty() || !self.docker_container_id.is_empty();
        if script && local && !(cfg.enable_local_script_checks || cfg.enable_script_checks) {
            return Err("Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true".into());
        }
        if script && !local && !cfg.enable_script_checks {
            return Err(if cfg.enable_local_script_checks {
                "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true".into()
            } else {
                "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true".into()
            });
        }
        if !self.docker_container_id.is_empty() {
            if self.script_args.is_empty() {
                return Err(
                    "Docker checks need ScriptArgs (Args): the command to run in the container"
                        .into(),
                );
            }
            crate::checks::docker_socket()?;
        }
        if !self.os_service.is_empty() {
            return Err(format!(
                "OSService check {:?}: OSService checks are only supported on Windows",
                self.os_service
            ));
        }
        if self.tcp_use_tls {
            return Err(
                "TCPUseTLS checks are not run by devagent; use an HTTP check on https://".into(),
            );
        }
        if !self.alias_node.is_empty() || !self.alias_service.is_empty() {
            if self.ttl.is_some_and(|t| !t.is_zero()) {
                return Err("TTL must be not be set for Alias checks".into());
            }
            if self.interval.is_some_and(|t| !t.is_zero()) {
                return Err("Interval must not be set for Alias checks".into());
            }
        }
        if !self.grpc.is_empty() {
            crate::checks::parse_grpc_target(&self.grpc)?;
        }
        if !self.udp.is_empty() || !self.h2ping.is_empty() {
            let addr = if self.udp.is_empty() {
                &self.h2ping
            } else {
                &self.udp
            };
            if !addr.contains(':') {
                return Err(format!("address {addr:?}: use host:port"));
            }
        }
        let active = !self.http.is_empty()
            || !self.tcp.is_empty()
            || script
            || !self.udp.is_empty()
            || !self.grpc.is_empty()
            || !self.h2ping.is_empty();
        let alias = !self.alias_node.is_empty() || !self.alias_service.is_empty();
        if active && self.interval.is_none_or(|i| i.is_zero()) {
            return Err(
                "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
                    .into(),
            );
        }
        if !active && !alias && self.ttl.is_none_or(|t| t.is_zero()) {
            return Err("TTL must be > 0 for TTL checks".into());
        }
        if !self.http.is_empty() {
            let url = reqwest::Url::parse(&self.http)
                .map_err(|e| format!("invalid HTTP check URL {:?}: {e}", self.http))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!(
                    "invalid HTTP check URL {:?}: use http:// or https://",
                    self.http
                ));
            }
        }
        let interval = self.interval.map(|i| i.max(cfg.min_check_interval));
        let deregister = self
            .deregister_critical_service_after
            .map(|d| d.max(cfg.min_deregister_after));
        Ok(CheckSpec {
            http: (!self.http.is_empty()).then(|| self.http.clone()),
            method: self.method.clone(),
            header: self.header.clone(),
            body: self.body.clone(),
            tls_skip_verify: self.tls_skip_verify,
            tls_server_name: self.tls_server_name.clone(),
            disable_redirects: self.disable_redirects,
            tcp: (!self.tcp.is_empty()).then(|| self.tcp.clone()),
            ttl: self.ttl,
            interval,
            timeout: self.timeout,
            deregister_critical_after: deregister,
            success_before_passing: self.success_before_passing,
            failures_before_warning: if self.failures_before_warning == 0 {
                self.failures_before_critical
            } else {
                self.failures_before_warning
            },
            failures_before_critical: self.failures_before_critical,
            output_max_size: if self.output_max_size == 0 {
                OUTPUT_MAX
            } else {
                usize::try_from(self.output_max_size).unwrap_or(usize::MAX)
            },
            more: MoreProbes {
                script_args: self.script_args.clone(),
                docker_container_id: self.docker_container_id.clone(),
                shell: self.shell.clone(),
                udp: self.udp.clone(),
                grpc: self.grpc.clone(),
                grpc_use_tls: self.grpc_use_tls,
                h2ping: self.h2ping.clone(),
                h2ping_use_tls: self.h2ping_use_tls.unwrap_or(true),
                alias_node: self.alias_node.clone(),
                alias_service: self.alias_service.clone(),
            },
        })
    }
}

pub(super) fn parse_status(s: &str) -> Result<Option<Status>, ()> {
    if s.is_empty() {
        return Ok(None);
    }
    Status::parse(s).map(Some).ok_or(())
}

pub(super) fn unknown_check(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
    ))
}

/// Fills `lan_ipv4`/`wan_ipv4` (or `_ipv6`) when the address is an IP, as the agent does.
pub(super) fn tagged_addresses(
    address: &str,
    port: u16,
    mut given: BTreeMap<String, ServiceAddress>,
) -> BTreeMap<String, ServiceAddress> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        let suffix = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
        for side in ["lan", "wan"] {
            given
                .entry(format!("{side}_{suffix}"))
                .or_insert_with(|| ServiceAddress {
                    address: address.to_string(),
                    port,
                });
        }
    }
    given
}
