//! Prepared queries (`/v1/query`, `<name>.query.consul`), as Consul's
//! `PreparedQuery` endpoint: stored definitions, name and template lookup
//! (`name_prefix_match` with the longest prefix, `regexp` with captures),
//! and execution over the catalog (health, `OnlyPassing`, `IgnoreCheckIDs`,
//! tags with `!`, node and service meta; one datacenter, so a `Failover`
//! finds no other).

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::Extra;
use crate::state::Store;
use crate::types::{HealthEntry, Status};

/// Largest number of prepared queries kept.
pub(crate) const MAX_QUERIES: usize = 10_000;
/// Longest template regexp accepted (its compiled size is bounded too).
const MAX_REGEXP: usize = 1024;

/// One stored query: its JSON (Consul's spelling) and its compiled regexp.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) def: Arc<Value>,
    regexp: Option<Regex>,
}

impl Query {
    pub(crate) fn new(def: Value, regexp: Option<Regex>) -> Query {
        Query {
            def: Arc::new(def),
            regexp,
        }
    }
}

/// The stored queries by ID.
#[derive(Debug, Default)]
pub(crate) struct Queries {
    pub(crate) map: BTreeMap<String, Query>,
    pub(crate) index: u64,
}

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Renames the known keys of an object (any case, snake_case) to `names`,
/// dropping the others (unknown fields are ignored).
fn keep(v: Option<&Value>, names: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Object(m)) = v {
        for (k, v) in m {
            let f = fold(k);
            if let Some(n) = names.iter().find(|n| fold(n) == f) {
                out.insert((*n).to_string(), v.clone());
            }
        }
    }
    out
}

fn str_of<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A request body in Consul's spelling with Consul's defaults, validated.
pub(crate) fn canon(body: &Value) -> Result<(Map<String, Value>, Option<Regex>), String> {
    if !body.is_object() {
        return Err("a prepared query is a JSON object".into());
    }
    let mut q = keep(
        Some(body),
        &["Name", "Session", "Token", "Service", "DNS", "Template"],
    );
    let mut svc = keep(
        q.get("Service"),
        &[
            "Service",
            "Failover",
            "OnlyPassing",
            "IgnoreCheckIDs",
            "Near",
            "Tags",
            "NodeMeta",
            "ServiceMeta",
            "Connect",
            "Peer",
            "SamenessGroup",
        ],
    );
    if str_of(&svc, "Service").is_empty() {
        return Err("Must provide a Service name to query".into());
    }
    let mut failover = keep(svc.get("Failover"), &["NearestN", "Datacenters", "Targets"]);
    let nearest = failover
        .get("NearestN")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if nearest < 0 {
        return Err(format!("Bad NearestN '{nearest}', must be >= 0"));
    }
    failover.insert("NearestN".into(), json!(nearest));
    failover.insert(
        "Datacenters".into(),
        json!(strings(failover.get("Datacenters"))),
    );
    failover.entry("Targets").or_insert(Value::Null);
    svc.insert("Failover".into(), Value::Object(failover));
    svc.insert(
        "OnlyPassing".into(),
        json!(svc
            .get("OnlyPassing")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    svc.insert(
        "IgnoreCheckIDs".into(),
        json!(strings(svc.get("IgnoreCheckIDs"))),
    );
    svc.insert("Tags".into(), json!(strings(svc.get("Tags"))));
    for k in ["Near", "Peer", "SamenessGroup"] {
        svc.entry(k).or_insert(json!(""));
    }
    for k in ["NodeMeta", "ServiceMeta"] {
        let m = svc.get(k).filter(|v| v.is_object()).cloned();
        svc.insert(k.into(), m.unwrap_or(Value::Null));
    }
    svc.insert(
        "Connect".into(),
        json!({"Enabled": svc.get("Connect").and_then(|c| c.get("Enabled")).and_then(Value::as_bool).unwrap_or(false)}),
    );
    q.insert("Service".into(), Value::Object(svc));
    let dns = keep(q.get("DNS"), &["TTL"]);
    let ttl = str_of(&dns, "TTL").to_string();
    if !ttl.is_empty() {
        gocompat::duration::parse(&ttl).map_err(|e| format!("Bad DNS TTL '{ttl}': {e}"))?;
    }
    q.insert("DNS".into(), json!({"TTL": ttl}));
    let tpl = keep(q.get("Template"), &["Type", "Regexp", "RemoveEmptyTags"]);
    let kind = str_of(&tpl, "Type").to_string();
    let mut regexp = None;
    match kind.as_str() {
        "" => {}
        "name_prefix_match" => {
            let re = str_of(&tpl, "Regexp");
            if !re.is_empty() {
                if re.len() > MAX_REGEXP {
                    return Err(format!("Bad Regexp: longer than {MAX_REGEXP} bytes"));
                }
                regexp = Some(
                    regex::RegexBuilder::new(re)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| format!("Bad Regexp: {e}"))?,
                );
            }
        }
        other => return Err(format!("Bad Template.Type '{other}'")),
    }
    if !kind.is_empty() {
        q.insert(
            "Template".into(),
            json!({
                "Type": kind,
                "Regexp": str_of(&tpl, "Regexp"),
                "RemoveEmptyTags": tpl.get("RemoveEmptyTags").and_then(Value::as_bool).unwrap_or(false),
            }),
        );
    } else {
        q.insert(
            "Template".into(),
            json!({"Type": "", "Regexp": "", "RemoveEmptyTags": false}),
        );
    }
    let name = str_of(&q, "Name").to_string();
    if uuid::Uuid::parse_str(&name).is_ok() {
        return Err("Query name cannot be a UUID".into());
    }
    for k in ["Name", "Session", "Token"] {
        q.entry(k).or_insert(json!(""));
    }
    Ok((q, regexp))
}

/// `${...}` interpolation of a template for a name.
fn render(v: &Value, vars: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
                let expr = after[..end].trim();
                out.push_str(
                    &vars(expr).ok_or_else(|| format!("unknown variable {expr:?} in {s:?}"))?,
                );
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render(x, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), render(x, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// What an execution found.
#[derive(Debug)]
pub(crate) struct Executed {
    pub(crate) query: Value,
    pub(crate) service: String,
    pub(crate) entries: Vec<HealthEntry>,
}

fn tag_ok(tags: &[String], want: &[String]) -> bool {
    want.iter().all(|w| match w.strip_prefix('!') {
        Some(not) => !tags.iter().any(|t| t.eq_ignore_ascii_case(not)),
        None => tags.iter().any(|t| t.eq_ignore_ascii_case(w)),
    })
}

fn meta_ok(meta: &crate::types::Meta, want: Option<&Value>) -> bool {
    match want.and_then(Value::as_object) {
        None => true,
        Some(w) => w.iter().all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| meta.get(k).is_some_and(|m| m == v))
        }),
    }
}

impl Extra {
    /// The ID of the query that uses `name`, if any (other than `except`).
    fn name_taken(&self, name: &str, except: &str) -> Option<String> {
        if name.is_empty() {
            return None;
        }
        self.lock()
            .queries
            .map
            .iter()
            .find(|(id, q)| {
                *id != except && q.def.get("Name").and_then(Value::as_str) == Some(name)
            })
            .map(|(id, _)| id.clone())
    }

    /// Creates (`id` None) or replaces a query; returns its ID.
    pub(crate) fn query_put(
        &self,
        store: &Store,
        id: Option<&str>,
        mut q: Map<String, Value>,
        regexp: Option<Regex>,
    ) -> Result<String, crate::error::ApiError> {
        use crate::error::ApiError;
        let name = str_of(&q, "Name").to_string();
        let session = str_of(&q, "Session").to_string();
        if !session.is_empty() && !store.lock().sessions.contains_key(&session) {
            return Err(ApiError::bad_request(format!(
                "invalid session {session:?}"
            )));
        }
        let id = id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        if let Some(other) = self.name_taken(&name, &id) {
            return Err(ApiError::bad_request(format!(
                "Name {name:?} is already in use by query {other}"
            )));
        }
        let mut t = self.lock();
        let old = t.queries.map.get(&id).cloned();
        if old.is_none() && t.queries.map.len() >= MAX_QUERIES {
            return Err(ApiError::internal(format!(
                "{MAX_QUERIES} prepared queries are stored already: delete some first"
            )));
        }
        let index = Extra::next_index(store);
        let create = old
            .as_ref()
            .and_then(|o| o.def.get("CreateIndex"))
            .and_then(Value::as_u64)
            .unwrap_or(index);
        q.insert("ID".into(), json!(id));
        q.insert("CreateIndex".into(), json!(create));
        q.insert("ModifyIndex".into(), json!(index));
        t.queries.map.insert(
            id.clone(),
            Query {
                def: Arc::new(Value::Object(q)),
                regexp,
            },
        );
        t.queries.index = index;
        drop(t);
        self.notify();
        Ok(id)
    }

    /// Whether the query existed.
    pub(crate) fn query_delete(&self, store: &Store, id: &str) -> bool {
        let mut t = self.lock();
        if t.queries.map.remove(id).is_none() {
            return false;
        }
        t.queries.index = Extra::next_index(store);
        drop(t);
        self.notify();
        true
    }

    pub(crate) fn query_list(&self) -> (u64, Vec<Arc<Value>>) {
        let t = self.lock();
        let list = t.queries.map.values().map(|q| Arc::clone(&q.def)).collect();
        (t.queries.index, list)
    }

    pub(crate) fn query_get(&self, id: &str) -> (u64, Option<Arc<Value>>) {
        let t = self.lock();
        (
            t.queries.index,
            t.queries.map.get(id).map(|q| Arc::clone(&q.def)),
        )
    }

    /// The query `id_or_name` names, rendered for that name when it is a
    /// template: by ID, by exact name, then the template with the longest
    /// matching prefix.
    pub(crate) fn query_resolve(&self, id_or_name: &str) -> Result<Option<Value>, String> {
        let t = self.lock();
        if let Some(q) = t.queries.map.get(id_or_name) {
            return Ok(Some((*q.def).clone()));
        }
        let is_template = |q: &Query| {
            q.def
                .get("Template")
                .and_then(|t| t.get("Type"))
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
        };
        let name_of = |q: &Query| {
            q.def
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if let Some(q) = t
            .queries
            .map
            .values()
            .find(|q| !is_template(q) && name_of(q) == id_or_name)
        {
            return Ok(Some((*q.def).clone()));
        }
        let best = t
            .queries
            .map
            .values()
            .filter(|q| is_template(q) && id_or_name.starts_with(&name_of(q)))
            .max_by_key(|q| name_of(q).len());
        let Some(q) = best else {
            return Ok(None);
        };
        let prefix = name_of(q);
        let captures: Vec<String> = q
            .regexp
            .as_ref()
            .and_then(|re| re.captures(id_or_name))
            .map(|c| {
                c.iter()
                    .map(|m| m.map(|m| m.as_str().to_string()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let full = id_or_name.to_string();
        let suffix = id_or_name[prefix.len()..].to_string();
        let vars = move |expr: &str| -> Option<String> {
            match expr {
                "name.full" => Some(full.clone()),
                "name.prefix" => Some(prefix.clone()),
                "name.suffix" => Some(suffix.clone()),
                "agent.segment" => Some(String::new()),
                e => {
                    let n: usize = e
                        .strip_prefix("match(")?
                        .strip_suffix(')')?
                        .trim()
                        .parse()
                        .ok()?;
                    Some(captures.get(n).cloned().unwrap_or_default())
                }
            }
        };
        let mut rendered = (*q.def).clone();
        if let Some(svc) = rendered.get("Service").cloned() {
            let mut svc = render(&svc, &vars)?;
            let remove_empty = q
                .def
                .get("Template")
                .and_then(|t| t.get("RemoveEmptyTags"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if remove_empty {
                if let Some(Value::Array(tags)) = svc.get_mut("Tags") {
                    tags.retain(|t| t.as_str().is_some_and(|s| !s.is_empty()));
                }
            }
            rendered["Service"] = svc;
        }
        Ok(Some(rendered))
    }

    /// Runs a resolved query over the catalog.
    pub(crate) fn query_execute(&self, store: &Store, query: Value) -> Executed {
        let svc = query.get("Service").cloned().unwrap_or_default();
        let service = svc
            .get("Service")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let only_passing = svc
            .get("OnlyPassing")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let ignore = strings(svc.get("IgnoreCheckIDs"));
        let tags = strings(svc.get("Tags"));
        let connect = svc
            .get("Connect")
            .and_then(|c| c.get("Enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (_, entries) = {
            let inner = store.lock();
            if connect {
                inner.health_connect(&service, &[])
            } else {
                inner.health_service(&service, &[])
            }
        };
        let mut entries: Vec<HealthEntry> = entries
            .into_iter()
            .filter(|e| tag_ok(&e.service.tags, &tags))
            .filter(|e| meta_ok(&e.node.meta, svc.get("NodeMeta")))
            .filter(|e| meta_ok(&e.service.meta, svc.get("ServiceMeta")))
            .filter(|e| {
                e.checks
                    .iter()
                    .filter(|c| !ignore.contains(&c.check_id))
                    .all(|c| match c.status {
                        Status::Passing => true,
                        Status::Warning => !only_passing,
                        Status::Critical => false,
                    })
            })
            .collect();
        fastrand::shuffle(&mut entries);
        Executed {
            query,
            service,
            entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canon_fills_defaults_and_checks() {
        let (q, _) =
            canon(&json!({"name": "db", "service": {"service": "redis", "only_passing": true}}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q["Name"], "db");
        assert_eq!(q["Service"]["Service"], "redis");
        assert_eq!(q["Service"]["OnlyPassing"], true);
        assert_eq!(q["Service"]["Failover"]["NearestN"], 0);
        assert_eq!(q["DNS"]["TTL"], "");
        assert!(canon(&json!({"Name": "x"}))
            .unwrap_err()
            .contains("Must provide a Service name"));
        assert!(
            canon(&json!({"Service": {"Service": "x", "Failover": {"NearestN": -1}}}))
                .unwrap_err()
                .contains("Bad NearestN")
        );
        assert!(canon(&json!({"Service": {"Service": "x"}, "Template": {"Type": "name_prefix_match", "Regexp": "("}}))
            .unwrap_err()
            .contains("Bad Regexp"));
    }

    #[test]
    fn tags_with_negation() {
        let tags = vec!["primary".to_string(), "v1".to_string()];
        assert!(tag_ok(&tags, &["primary".into(), "!v2".into()]));
        assert!(!tag_ok(&tags, &["!v1".into()]));
    }
}
