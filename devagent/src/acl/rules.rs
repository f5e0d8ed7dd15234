//! Consul's ACL rule language, in HCL or JSON: parsed once, when a policy is
//! written, into [`Rules`].
//!
//! ```hcl
//! service_prefix "" { policy = "read" }
//! service "web"     { policy = "write" }
//! key_prefix "app/" { policy = "list" }
//! operator = "read"
//! ```
//!
//! Resources with names (`agent`, `event`, `key`, `node`, `query`, `service`,
//! `session`) take an exact rule and a `_prefix` rule; `acl`, `keyring`,
//! `mesh`, `operator` and `peering` take one level. Levels are `read`,
//! `write` and `deny`; `list` is valid for `key` and `key_prefix` only.

use std::fmt;

use serde_json::{Map, Value};

/// Deepest nesting of `{`, `[` and `(` a rule text may have. Real rules
/// nest three deep; the limit keeps the recursive parsers off the stack's end.
const MAX_NESTING: usize = 32;

/// An access level a rule grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    /// Nothing, and nothing below it.
    Deny,
    /// Read.
    Read,
    /// Read, and list keys below a prefix (`key` rules only).
    List,
    /// Read, list and write.
    Write,
}

impl Access {
    fn parse(s: &str) -> Option<Access> {
        match s {
            "deny" => Some(Access::Deny),
            "read" => Some(Access::Read),
            "list" => Some(Access::List),
            "write" => Some(Access::Write),
            _ => None,
        }
    }

    /// Which of two rules for the same name wins when policies are merged:
    /// deny, then write, then list, then read (Consul's `takesPrecedenceOver`).
    pub(crate) fn precedence(self) -> u8 {
        match self {
            Access::Deny => 4,
            Access::Write => 3,
            Access::List => 2,
            Access::Read => 1,
        }
    }
}

/// A resource that rules name one by one (or by prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `agent`: agent endpoints of a node.
    Agent,
    /// `event`: user events.
    Event,
    /// `key`: KV keys.
    Key,
    /// `node`: catalog nodes.
    Node,
    /// `query`: prepared queries.
    Query,
    /// `service`: catalog services.
    Service,
    /// `session`: sessions of a node.
    Session,
}

impl Kind {
    /// Every kind, in table order.
    pub(crate) const ALL: [Kind; 7] = [
        Kind::Agent,
        Kind::Event,
        Kind::Key,
        Kind::Node,
        Kind::Query,
        Kind::Service,
        Kind::Session,
    ];

    /// The rule keyword (and resource name in messages).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Agent => "agent",
            Kind::Event => "event",
            Kind::Key => "key",
            Kind::Node => "node",
            Kind::Query => "query",
            Kind::Service => "service",
            Kind::Session => "session",
        }
    }

    fn from_keyword(word: &str) -> Option<(Kind, bool)> {
        let (base, prefix) = match word.strip_suffix("_prefix") {
            Some(b) => (b, true),
            None => (word, false),
        };
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == base)
            .map(|k| (k, prefix))
    }
}

/// A resource that takes one level (`operator = "read"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Global {
    /// `acl`: the ACL system itself.
    Acl,
    /// `keyring`: the gossip keyring.
    Keyring,
    /// `mesh`: service mesh configuration (falls back to `operator`).
    Mesh,
    /// `operator`: cluster operations.
    Operator,
    /// `peering`: cluster peering (falls back to `operator`).
    Peering,
}

impl Global {
    const ALL: [Global; 5] = [
        Global::Acl,
        Global::Keyring,
        Global::Mesh,
        Global::Operator,
        Global::Peering,
    ];

    /// The rule keyword.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Global::Acl => "acl",
            Global::Keyring => "keyring",
            Global::Mesh => "mesh",
            Global::Operator => "operator",
            Global::Peering => "peering",
        }
    }
}

/// One named rule: `service "web" { policy = "write" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The resource.
    pub(crate) kind: Kind,
    /// The name, or the prefix of names.
    pub(crate) name: String,
    /// A `_prefix` rule.
    pub(crate) prefix: bool,
    /// The level granted.
    pub(crate) access: Access,
    /// `intentions = ...` of service rules (kept, not enforced: devagent has no intentions).
    pub(crate) intentions: Option<Access>,
}

/// The parsed rules of one policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Named and prefix rules, in the order written.
    pub(crate) named: Vec<Rule>,
    /// `acl`, `keyring`, `mesh`, `operator`, `peering`.
    pub(crate) globals: Vec<(Global, Access)>,
}

/// Why rules do not parse; the text names the rule and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RulesError(pub(crate) String);

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failed to parse ACL rules: {}", self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, RulesError> {
    Err(RulesError(msg.into()))
}

/// The deepest nesting of brackets outside strings.
fn nesting(text: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

impl Rules {
    /// Parses rules written in HCL or JSON (JSON when the text starts with `{`).
    pub(crate) fn parse(text: &str) -> Result<Rules, RulesError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Rules::default());
        }
        if nesting(trimmed) > MAX_NESTING {
            return err(format!(
                "brackets nest more than {MAX_NESTING} deep; rules are at most three levels deep, as in service \"web\" {{ policy = \"read\" }}"
            ));
        }
        let value: Value = if trimmed.starts_with('{') {
            serde_json::from_str(trimmed).map_err(|e| RulesError(format!("invalid JSON: {e}")))?
        } else {
            hcl::from_str(trimmed).map_err(|e| RulesError(format!("invalid HCL: {e}")))?
        };
        let Value::Object(top) = value else {
            return err("the rules must be an object of rule blocks");
        };
        let mut rules = Rules::default();
        for (word, v) in top {
            if let Some(g) = Global::ALL.into_iter().find(|g| g.as_str() == word) {
                let level = v.as_str().ok_or_else(|| {
                    RulesError(format!("{word} must be a string such as {word} = \"read\""))
                })?;
                rules.globals.push((g, level_of(&word, level, false)?));
                continue;
            }
            let Some((kind, prefix)) = Kind::from_keyword(&word) else {
                return err(format!(
                    "unknown rule {word:?}: use acl, agent, agent_prefix, event, event_prefix, key, key_prefix, keyring, mesh, node, node_prefix, operator, peering, query, query_prefix, service, service_prefix, session or session_prefix"
                ));
            };
            for (name, body) in blocks(&word, v)? {
                rules.named.push(rule(kind, prefix, &word, name, &body)?);
            }
        }
        Ok(rules)
    }
}

fn level_of(what: &str, level: &str, list_ok: bool) -> Result<Access, RulesError> {
    match Access::parse(level) {
        Some(Access::List) if !list_ok => err(format!(
            "Invalid {what} policy {level:?}: \"list\" is valid for key and key_prefix only; use \"read\", \"write\" or \"deny\""
        )),
        Some(a) => Ok(a),
        None => err(format!(
            "Invalid {what} policy {level:?}: use \"read\", \"write\" or \"deny\"{}",
            if list_ok { " (or \"list\")" } else { "" }
        )),
    }
}

/// The `(name, body)` pairs of `word "name" { ... }` blocks: an object of
/// names, a list of such objects, or a name mapped to a list of bodies.
/// A rule block: its label and its body.
type Block = (String, Map<String, Value>);

fn blocks(word: &str, v: Value) -> Result<Vec<Block>, RulesError> {
    let mut out = Vec::new();
    let objects = match v {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                _ => err(format!(
                    "{word} must be written as {word} \"name\" {{ policy = \"read\" }}"
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return err(format!(
                "{word} must be written as {word} \"name\" {{ policy = \"read\" }}"
            ))
        }
    };
    for m in objects {
        for (name, body) in m {
            match body {
                Value::Object(b) => out.push((name, b)),
                Value::Array(bodies) => {
                    for b in bodies {
                        match b {
                            Value::Object(b) => out.push((name.clone(), b)),
                            _ => return err(format!("{word} {name:?}: the body must be a block such as {{ policy = \"read\" }}")),
                        }
                    }
                }
                _ => {
                    return err(format!(
                        "{word} {name:?}: the body must be a block such as {{ policy = \"read\" }}"
                    ))
                }
            }
        }
    }
    Ok(out)
}

fn rule(
    kind: Kind,
    prefix: bool,
    word: &str,
    name: String,
    body: &Map<String, Value>,
) -> Result<Rule, RulesError> {
    let mut policy = None;
    let mut intentions = None;
    for (field, v) in body {
        let text = v.as_str().ok_or_else(|| {
            RulesError(format!(
                "{word} {name:?}: {field} must be a string such as \"read\""
            ))
        })?;
        match field.as_str() {
            "policy" => policy = Some(text),
            "intentions" if kind == Kind::Service => intentions = Some(text),
            other => {
                return err(format!(
                    "{word} {name:?}: unknown field {other:?}; a rule holds policy{}",
                    if kind == Kind::Service {
                        " and intentions"
                    } else {
                        ""
                    }
                ))
            }
        }
    }
    let Some(policy) = policy else {
        return err(format!(
            "{word} {name:?} has no policy: write {word} {name:?} {{ policy = \"read\" }}"
        ));
    };
    let what = format!("{word} {name:?}");
    let access = level_of(&what, policy, kind == Kind::Key)?;
    let intentions = intentions
        .map(|i| level_of(&format!("{what} intentions"), i, false))
        .transpose()?;
    Ok(Rule {
        kind,
        name,
        prefix,
        access,
        intentions,
    })
}

/// The rules of a service identity (Consul's synthetic policy).
pub(crate) fn service_identity(name: &str) -> Rules {
    let write = |n: String| Rule {
        kind: Kind::Service,
        name: n,
        prefix: false,
        access: Access::Write,
        intentions: None,
    };
    Rules {
        named: vec![
            write(name.to_string()),
            write(format!("{name}-sidecar-proxy")),
            read_all(Kind::Service),
            read_all(Kind::Node),
        ],
        globals: Vec::new(),
    }
}

/// The rules of a node identity (Consul's synthetic policy).
pub(crate) fn node_identity(name: &str) -> Rules {
    Rules {
        named: vec![
            Rule {
                kind: Kind::Node,
                name: name.to_string(),
                prefix: false,
                access: Access::Write,
                intentions: None,
            },
            read_all(Kind::Service),
        ],
        globals: Vec::new(),
    }
}

fn read_all(kind: Kind) -> Rule {
    Rule {
        kind,
        name: String::new(),
        prefix: true,
        access: Access::Read,
        intentions: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_and_json_give_the_same_rules() {
        let hcl = r#"
            service_prefix "" { policy = "read" }
            service "web" {
              policy = "write"
              intentions = "read"
            }
            key_prefix "app/" { policy = "list" }
            operator = "read"
        "#;
        let json = r#"{"service_prefix": {"": {"policy": "read"}},
            "service": {"web": {"policy": "write", "intentions": "read"}},
            "key_prefix": {"app/": {"policy": "list"}}, "operator": "read"}"#;
        let (mut a, mut b) = (
            Rules::parse(hcl).expect("hcl"),
            Rules::parse(json).expect("json"),
        );
        for r in [&mut a, &mut b] {
            r.named
                .sort_by(|x, y| (x.kind, &x.name).cmp(&(y.kind, &y.name)));
        }
        assert_eq!(a, b);
        assert_eq!(a.named.len(), 3);
        assert_eq!(a.globals, vec![(Global::Operator, Access::Read)]);
    }

    #[test]
    fn repeated_blocks_are_all_kept() {
        let r = Rules::parse(
            "service \"web\" { policy = \"read\" }\nservice \"web\" { policy = \"deny\" }",
        )
        .expect("parses");
        assert_eq!(r.named.len(), 2);
    }

    #[test]
    fn bad_rules_say_what_to_write() {
        for (text, needle) in [
            (
                "service \"web\" { policy = \"list\" }",
                "valid for key and key_prefix only",
            ),
            (
                "service \"web\" { policy = \"all\" }",
                "use \"read\", \"write\" or \"deny\"",
            ),
            ("service \"web\" {}", "has no policy"),
            (
                "services \"web\" { policy = \"read\" }",
                "unknown rule \"services\"",
            ),
            (
                "node \"a\" { policy = \"read\" intentions = \"read\" }",
                "invalid HCL",
            ),
            (
                "node \"a\" {\n policy = \"read\"\n intentions = \"read\"\n}",
                "unknown field \"intentions\"",
            ),
            ("operator = \"list\"", "valid for key and key_prefix only"),
            ("{\"acl\": 1}", "acl must be a string"),
            ("service {", "invalid HCL"),
        ] {
            let e = Rules::parse(text).expect_err(text);
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("x = {}1{}", "(".repeat(5000), ")".repeat(5000));
        let e = Rules::parse(&deep).expect_err("too deep");
        assert!(e.0.contains("nest more than 32"), "{e}");
        let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Rules::parse(&format!("{{\"a\":{deep_json}}}")).is_err());
    }

    #[test]
    fn empty_rules_grant_nothing() {
        assert_eq!(Rules::parse("  \n").expect("empty"), Rules::default());
    }
}
