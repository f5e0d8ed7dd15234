//! The `acl { ... }` block of the agent configuration, with Consul's names,
//! legacy names and defaults, and [`Secret`], the type every token is kept in
//! so that it never reaches a log, an error or `Debug` output.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// A token's secret: compared and sent, never printed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for comparing and sending.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Secret {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What happens when no rule decides (`acl.default_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultPolicy {
    /// Allow everything but ACL management (Consul's default).
    #[default]
    Allow,
    /// Deny.
    Deny,
}

/// Tokens the agent holds (`acl.tokens`).
#[derive(Clone, Debug, Default)]
pub struct AclTokens {
    /// A management token created at start (legacy `master`, `acl_master_token`).
    pub initial_management: Option<Secret>,
    /// The token of the agent's own operations (`acl_agent_token`).
    pub agent: Option<Secret>,
    /// Agent endpoints when the servers cannot be reached (legacy `agent_master`).
    pub agent_recovery: Option<Secret>,
    /// Requests without a token use this one (`acl_token`).
    pub default: Option<Secret>,
    /// DNS answers with this token's rights (else `default`, else anonymous).
    pub dns: Option<Secret>,
    /// Replication (accepted; devagent is one datacenter).
    pub replication: Option<Secret>,
    /// Services from config files (accepted; devagent registers none from files).
    pub config_file_service_registration: Option<Secret>,
}

/// The ACL system's settings.
#[derive(Clone, Debug)]
pub struct AclConfig {
    /// ACLs on.
    pub enabled: bool,
    /// When no rule decides.
    pub default_policy: DefaultPolicy,
    /// `down_policy`: parsed and reported; one agent is never cut off from its servers.
    pub down_policy: String,
    /// `enable_key_list_policy`: `?recurse` and `?keys` need `list` on the prefix.
    pub enable_key_list_policy: bool,
    /// Shortest `ExpirationTTL` a token may have (Consul: 1m).
    pub token_min_expiration_ttl: Duration,
    /// Longest `ExpirationTTL` a token may have (Consul: 24h).
    pub token_max_expiration_ttl: Duration,
    /// Tokens the agent holds.
    pub tokens: AclTokens,
}

impl Default for AclConfig {
    fn default() -> Self {
        AclConfig {
            enabled: false,
            default_policy: DefaultPolicy::Allow,
            down_policy: "extend-cache".into(),
            enable_key_list_policy: false,
            token_min_expiration_ttl: Duration::from_secs(60),
            token_max_expiration_ttl: Duration::from_secs(24 * 3600),
            tokens: AclTokens::default(),
        }
    }
}

/// The value at `path` in a config document.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

fn string(v: &Value, path: &[&str]) -> Result<Option<String>, String> {
    match at(v, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{} must be a string", path.join("."))),
    }
}

fn boolean(v: &Value, path: &[&str]) -> Result<Option<bool>, String> {
    match at(v, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => crate::http::parse_bool(s)
            .map(Some)
            .ok_or_else(|| format!("{} must be true or false, not {s:?}", path.join("."))),
        Some(_) => Err(format!("{} must be true or false", path.join("."))),
    }
}

/// A token setting: an empty string is no token.
fn token(
    v: &Value,
    paths: &[&[&str]],
    slot: &mut Option<Secret>,
    empty: &mut Vec<String>,
) -> Result<(), String> {
    for path in paths {
        if let Some(s) = string(v, path)? {
            if s.is_empty() {
                empty.push(path.join("."));
                *slot = None;
            } else {
                *slot = Some(Secret(s));
            }
        }
    }
    Ok(())
}

impl AclConfig {
    /// Applies the `acl` block (and the legacy top-level `acl_*` keys) of one
    /// config file. Returns the names of token settings that were empty.
    pub(crate) fn apply_file(&mut self, v: &Value) -> Result<Vec<String>, String> {
        let mut empty = Vec::new();
        if let Some(dc) = string(v, &["acl_datacenter"])? {
            // Legacy: naming the ACL datacenter turned ACLs on.
            self.enabled |= !dc.is_empty();
        }
        if let Some(b) = boolean(v, &["acl", "enabled"])? {
            self.enabled = b;
        }
        for path in [&["acl_default_policy"][..], &["acl", "default_policy"]] {
            if let Some(p) = string(v, path)? {
                self.default_policy = match p.as_str() {
                    "allow" => DefaultPolicy::Allow,
                    "deny" => DefaultPolicy::Deny,
                    other => {
                        return Err(format!(
                            "{} {other:?}: use \"allow\" or \"deny\"",
                            path.join(".")
                        ))
                    }
                };
            }
        }
        for path in [&["acl_down_policy"][..], &["acl", "down_policy"]] {
            if let Some(p) = string(v, path)? {
                match p.as_str() {
                    "allow" | "deny" | "extend-cache" | "async-cache" => self.down_policy = p,
                    other => {
                        return Err(format!(
                            "{} {other:?}: use \"allow\", \"deny\", \"extend-cache\" or \"async-cache\"",
                            path.join(".")
                        ))
                    }
                }
            }
        }
        if let Some(b) = boolean(v, &["acl", "enable_key_list_policy"])? {
            self.enable_key_list_policy = b;
        }
        for (path, slot) in [
            (
                ["acl", "token_min_expiration_ttl"],
                &mut self.token_min_expiration_ttl,
            ),
            (
                ["acl", "token_max_expiration_ttl"],
                &mut self.token_max_expiration_ttl,
            ),
        ] {
            if let Some(s) = string(v, &path)? {
                *slot = gocompat::duration::parse(&s)
                    .map_err(|e| format!("{} {s:?}: {e}", path.join(".")))?;
            }
        }
        let t = &mut self.tokens;
        token(
            v,
            &[
                &["acl_master_token"],
                &["acl", "tokens", "master"],
                &["acl", "tokens", "initial_management"],
            ],
            &mut t.initial_management,
            &mut empty,
        )?;
        token(
            v,
            &[&["acl_agent_token"], &["acl", "tokens", "agent"]],
            &mut t.agent,
            &mut empty,
        )?;
        token(
            v,
            &[
                &["acl_agent_master_token"],
                &["acl", "tokens", "agent_master"],
                &["acl", "tokens", "agent_recovery"],
            ],
            &mut t.agent_recovery,
            &mut empty,
        )?;
        token(
            v,
            &[&["acl_token"], &["acl", "tokens", "default"]],
            &mut t.default,
            &mut empty,
        )?;
        token(v, &[&["acl", "tokens", "dns"]], &mut t.dns, &mut empty)?;
        token(
            v,
            &[
                &["acl_replication_token"],
                &["acl", "tokens", "replication"],
            ],
            &mut t.replication,
            &mut empty,
        )?;
        token(
            v,
            &[&["acl", "tokens", "config_file_service_registration"]],
            &mut t.config_file_service_registration,
            &mut empty,
        )?;
        if self.token_min_expiration_ttl > self.token_max_expiration_ttl {
            return Err(format!(
                "acl.token_min_expiration_ttl ({:?}) is longer than acl.token_max_expiration_ttl ({:?})",
                self.token_min_expiration_ttl, self.token_max_expiration_ttl
            ));
        }
        Ok(empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_legacy_names() {
        let mut c = AclConfig::default();
        let v: Value = serde_json::json!({
            "acl": {"enabled": true, "default_policy": "deny", "down_policy": "allow",
                    "tokens": {"master": "m1", "agent_master": "r1", "dns": "d1", "default": ""}},
            "acl_token": "t1"
        });
        let empty = c.apply_file(&v).expect("valid");
        assert!(c.enabled);
        assert_eq!(c.default_policy, DefaultPolicy::Deny);
        assert_eq!(c.down_policy, "allow");
        assert_eq!(c.tokens.initial_management, Some(Secret::new("m1")));
        assert_eq!(c.tokens.agent_recovery, Some(Secret::new("r1")));
        assert_eq!(c.tokens.dns, Some(Secret::new("d1")));
        // The newer name wins over the legacy one, and "" is no token.
        assert_eq!(c.tokens.default, None);
        assert_eq!(empty, vec!["acl.tokens.default"]);
        let shown = format!("{c:?}");
        for s in ["m1", "r1", "d1", "t1"] {
            assert!(!shown.contains(s), "{shown}");
        }
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (v, needle) in [
            (
                serde_json::json!({"acl": {"default_policy": "block"}}),
                "acl.default_policy \"block\"",
            ),
            (
                serde_json::json!({"acl": {"down_policy": "x"}}),
                "acl.down_policy",
            ),
            (
                serde_json::json!({"acl": {"enabled": "maybe"}}),
                "acl.enabled must be true or false",
            ),
            (
                serde_json::json!({"acl": {"tokens": {"dns": 5}}}),
                "acl.tokens.dns must be a string",
            ),
            (
                serde_json::json!({"acl": {"token_min_expiration_ttl": "2d"}}),
                "acl.token_min_expiration_ttl",
            ),
        ] {
            let e = AclConfig::default().apply_file(&v).expect_err("invalid");
            assert!(e.contains(needle), "{e}");
        }
    }
}
