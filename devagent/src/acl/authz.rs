//! The compiled form of a token's policies and the decisions it makes.
//!
//! [`Compiled`] merges the rules of every policy a token holds (Consul's
//! `MergePolicies`: for the same name, deny beats write beats list beats
//! read) into one table per resource: exact names in a hash map, prefixes in
//! a hash map probed from the longest prefix length present down. A decision
//! is one exact lookup and at most one probe per distinct prefix length, with
//! no parsing and no allocation. [`Authz`] adds the default policy and the
//! identity used in permission-denied messages.

use std::collections::HashMap;
use std::sync::Arc;

use super::rules::{Access, Global, Kind, Rules};
use crate::error::ApiError;

/// What rules say about one request, before the default policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// A rule grants it.
    Allow,
    /// A rule refuses it.
    Deny,
    /// No rule applies: the default policy decides.
    Default,
}

/// The access a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Read.
    Read,
    /// List keys under a prefix.
    List,
    /// Write.
    Write,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::List => "list",
            Level::Write => "write",
        }
    }
}

/// Consul's `enforce`: what a rule of `access` says about `needed`.
fn enforce(access: Access, needed: Level) -> Decision {
    let ok = match access {
        Access::Write => true,
        Access::List => matches!(needed, Level::Read | Level::List),
        Access::Read => needed == Level::Read,
        Access::Deny => false,
    };
    if ok {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

/// Exact and prefix rules of one resource kind.
#[derive(Debug, Default)]
struct Table {
    exact: HashMap<Box<str>, Access>,
    prefix: HashMap<Box<str>, Access>,
    /// Distinct prefix lengths, longest first (the empty prefix is `root`).
    lengths: Vec<usize>,
    /// The `""` prefix rule: it matches every name, so it is never hashed.
    root: Option<Access>,
}

impl Table {
    /// The rule for `name`: the exact rule, else the longest prefix rule.
    fn lookup(&self, name: &str) -> Option<Access> {
        if !self.exact.is_empty() {
            if let Some(a) = self.exact.get(name) {
                return Some(*a);
            }
        }
        self.longest_prefix(name)
    }

    /// The longest prefix rule that `name` starts with.
    fn longest_prefix(&self, name: &str) -> Option<Access> {
        for &len in &self.lengths {
            if len <= name.len() && name.is_char_boundary(len) {
                if let Some(a) = self.prefix.get(&name[..len]) {
                    return Some(*a);
                }
            }
        }
        self.root
    }

    fn decide(&self, name: &str, needed: Level) -> Decision {
        self.lookup(name)
            .map_or(Decision::Default, |a| enforce(a, needed))
    }
}

/// The merged, compiled rules of a set of policies.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    tables: [Table; 7],
    /// Every key rule (exact or prefix) sorted by name, for `key_write_prefix`.
    keys: Vec<(Box<str>, Access, bool)>,
    globals: [Option<Access>; 5],
}

fn global_slot(g: Global) -> usize {
    match g {
        Global::Acl => 0,
        Global::Keyring => 1,
        Global::Mesh => 2,
        Global::Operator => 3,
        Global::Peering => 4,
    }
}

fn kind_slot(k: Kind) -> usize {
    match k {
        Kind::Agent => 0,
        Kind::Event => 1,
        Kind::Key => 2,
        Kind::Node => 3,
        Kind::Query => 4,
        Kind::Service => 5,
        Kind::Session => 6,
    }
}

fn merge(slot: &mut Option<Access>, a: Access) {
    if slot.is_none_or(|cur| a.precedence() > cur.precedence()) {
        *slot = Some(a);
    }
}

impl Compiled {
    /// Merges and compiles the rules of several policies.
    pub(crate) fn new<'a>(all: impl IntoIterator<Item = &'a Rules>) -> Compiled {
        let mut merged: [HashMap<(String, bool), Access>; 7] = Default::default();
        let mut globals: [Option<Access>; 5] = [None; 5];
        for rules in all {
            for r in &rules.named {
                let slot = merged[kind_slot(r.kind)]
                    .entry((r.name.clone(), r.prefix))
                    .or_insert(r.access);
                if r.access.precedence() > slot.precedence() {
                    *slot = r.access;
                }
            }
            for (g, a) in &rules.globals {
                merge(&mut globals[global_slot(*g)], *a);
            }
        }
        let mut c = Compiled {
            globals,
            ..Compiled::default()
        };
        for (kind, rules) in Kind::ALL.into_iter().zip(merged) {
            let table = &mut c.tables[kind_slot(kind)];
            for ((name, prefix), access) in rules {
                if kind == Kind::Key {
                    c.keys.push((name.clone().into(), access, prefix));
                }
                if prefix && name.is_empty() {
                    table.root = Some(access);
                } else if prefix {
                    table.lengths.push(name.len());
                    table.prefix.insert(name.into(), access);
                } else {
                    table.exact.insert(name.into(), access);
                }
            }
            table.lengths.sort_unstable_by(|a, b| b.cmp(a));
            table.lengths.dedup();
        }
        c.keys.sort_by(|a, b| a.0.cmp(&b.0));
        c
    }

    fn named(&self, kind: Kind, name: &str, needed: Level) -> Decision {
        self.tables[kind_slot(kind)].decide(name, needed)
    }

    fn global(&self, g: Global, needed: Level) -> Decision {
        let own = self.globals[global_slot(g)];
        // mesh and peering fall back to operator when they have no rule.
        let access = match g {
            Global::Mesh | Global::Peering => own.or(self.globals[global_slot(Global::Operator)]),
            _ => own,
        };
        access.map_or(Decision::Default, |a| enforce(a, needed))
    }

    /// Consul's `KeyWritePrefix`: write on the prefix, and no rule at or
    /// below it that withholds write.
    fn key_write_prefix(&self, prefix: &str) -> Decision {
        let base = match self.tables[kind_slot(Kind::Key)].longest_prefix(prefix) {
            None => Decision::Default,
            Some(Access::Write) => Decision::Allow,
            Some(_) => return Decision::Deny,
        };
        let start = self.keys.partition_point(|(k, _, _)| &**k < prefix);
        let under = self.keys[start..]
            .iter()
            .take_while(|(k, _, _)| k.starts_with(prefix));
        for (_, a, _) in under {
            if *a != Access::Write {
                return Decision::Deny;
            }
        }
        base
    }
}

/// A resource in permission checks and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// A named resource.
    Named(Kind),
    /// A one-level resource.
    Global(Global),
}

impl Resource {
    fn as_str(self) -> &'static str {
        match self {
            Resource::Named(k) => k.as_str(),
            Resource::Global(g) => g.as_str(),
        }
    }
}

/// Read checks over a list whose entries repeat names (every instance of a
/// service, most on the same node): a name is looked up once per run.
#[derive(Debug, Default)]
pub(crate) struct ReadMemo {
    node: Option<(String, bool)>,
    service: Option<(String, bool)>,
}

fn remembered(
    slot: &mut Option<(String, bool)>,
    name: &str,
    decide: impl FnOnce() -> bool,
) -> bool {
    match slot {
        Some((n, ok)) if n == name => *ok,
        _ => {
            let ok = decide();
            match slot {
                Some((n, v)) => {
                    n.clear();
                    n.push_str(name);
                    *v = ok;
                }
                None => *slot = Some((name.to_string(), ok)),
            }
            ok
        }
    }
}

/// The accessor of the anonymous token.
pub(crate) const ANONYMOUS_ID: &str = "00000000-0000-0000-0000-000000000002";

/// What a request may do: the token's compiled rules and the default policy.
#[derive(Debug)]
pub(crate) struct Authz {
    /// AccessorID for messages (empty when ACLs are off).
    accessor: Arc<str>,
    rules: Option<Arc<Compiled>>,
    /// `acl.default_policy = "allow"` (or ACLs off).
    default_allow: bool,
    /// ACLs are off: everything is allowed and nothing is checked.
    disabled: bool,
}

impl Authz {
    /// ACLs off: everything allowed, including ACL management.
    pub(crate) fn disabled() -> Authz {
        Authz {
            accessor: Arc::from(""),
            rules: None,
            default_allow: true,
            disabled: true,
        }
    }

    /// A token's authority.
    pub(crate) fn new(accessor: Arc<str>, rules: Arc<Compiled>, default_allow: bool) -> Authz {
        Authz {
            accessor,
            rules: Some(rules),
            default_allow,
            disabled: false,
        }
    }

    /// ACLs are off (nothing is filtered, ACL endpoints answer 401).
    pub(crate) fn is_disabled(&self) -> bool {
        self.disabled
    }

    fn finish(&self, d: Decision, manage: bool) -> bool {
        match d {
            Decision::Allow => true,
            Decision::Deny => false,
            // The default authorizer never grants ACL management.
            Decision::Default => self.default_allow && (self.disabled || !manage),
        }
    }

    /// May the token do `level` on the resource `name`?
    pub(crate) fn allows(&self, resource: Resource, level: Level, name: &str) -> bool {
        let Some(rules) = &self.rules else {
            return self.finish(Decision::Default, false);
        };
        match resource {
            Resource::Named(kind) => self.finish(rules.named(kind, name, level), false),
            Resource::Global(g) => self.finish(rules.global(g, level), g == Global::Acl),
        }
    }

    /// Read on a service.
    pub(crate) fn service_read(&self, name: &str) -> bool {
        self.allows(Resource::Named(Kind::Service), Level::Read, name)
    }

    /// Read on a node.
    pub(crate) fn node_read(&self, name: &str) -> bool {
        self.allows(Resource::Named(Kind::Node), Level::Read, name)
    }

    /// Read on a node and on a service (Consul's `CheckServiceNode.CanRead`):
    /// what a health or catalog entry needs to be listed.
    pub(crate) fn entry_readable(&self, memo: &mut ReadMemo, node: &str, service: &str) -> bool {
        if self.disabled {
            return true;
        }
        remembered(&mut memo.node, node, || self.node_read(node))
            && (service.is_empty()
                || remembered(&mut memo.service, service, || self.service_read(service)))
    }

    /// Whether every item may be read (node and service read), each name
    /// decided once in a run and nothing allocated: the common case of a
    /// list, which then needs no filtering at all.
    pub(crate) fn all_readable<'a, T: 'a>(
        &self,
        items: impl IntoIterator<Item = &'a T>,
        names: impl Fn(&'a T) -> (&'a str, &'a str),
    ) -> bool {
        if self.disabled {
            return true;
        }
        let mut node: Option<(&str, bool)> = None;
        let mut service: Option<(&str, bool)> = None;
        for item in items {
            let (n, s) = names(item);
            let node_ok = match node {
                Some((m, ok)) if m == n => ok,
                _ => {
                    let ok = self.node_read(n);
                    node = Some((n, ok));
                    ok
                }
            };
            let service_ok = s.is_empty()
                || match service {
                    Some((m, ok)) if m == s => ok,
                    _ => {
                        let ok = self.service_read(s);
                        service = Some((s, ok));
                        ok
                    }
                };
            if !(node_ok && service_ok) {
                return false;
            }
        }
        true
    }

    /// Read on a key.
    pub(crate) fn key_read(&self, key: &str) -> bool {
        self.allows(Resource::Named(Kind::Key), Level::Read, key)
    }

    /// Deleting everything under `prefix` (`DELETE ?recurse`).
    pub(crate) fn key_write_prefix(&self, prefix: &str) -> bool {
        match &self.rules {
            None => self.default_allow,
            Some(r) => self.finish(r.key_write_prefix(prefix), false),
        }
    }

    /// `Ok` when allowed, else Consul's 403 for the resource.
    pub(crate) fn require(
        &self,
        resource: Resource,
        level: Level,
        name: &str,
    ) -> Result<(), ApiError> {
        if self.allows(resource, level, name) {
            Ok(())
        } else {
            Err(self.denied(resource, level, name))
        }
    }

    /// `require` on a named resource.
    pub(crate) fn need(&self, kind: Kind, level: Level, name: &str) -> Result<(), ApiError> {
        self.require(Resource::Named(kind), level, name)
    }

    /// Consul's permission-denied error for this token.
    pub(crate) fn denied(&self, resource: Resource, level: Level, name: &str) -> ApiError {
        let who = if &*self.accessor == ANONYMOUS_ID {
            "anonymous token".to_string()
        } else {
            format!("token with AccessorID '{}'", self.accessor)
        };
        let mut msg = format!(
            "Permission denied: {who} lacks permission '{}:{}'",
            resource.as_str(),
            level.as_str()
        );
        if matches!(resource, Resource::Named(_)) && !name.is_empty() {
            msg.push_str(&format!(" on \"{name}\""));
        }
        if &*self.accessor == ANONYMOUS_ID {
            msg.push_str(
                ". The anonymous token is used implicitly when a request does not specify a token.",
            );
        }
        ApiError::forbidden(msg)
    }
}
