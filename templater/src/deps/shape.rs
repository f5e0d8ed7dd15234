//! The data templates see, built from Consul's replies decoded into the
//! wire model ([`dcy::ServiceEntry`], [`dcy::HealthCheck`], [`dcy::Node`],
//! [`dcy::CatalogNode`], [`dcy::KvPair`]), in consul-template's field names
//! (`Node`, `NodeAddress`, `ServiceMeta`, `Status`, ...). Aggregated health
//! is the wire model's ([`dcy::ServiceEntry::aggregated_status`]).
//!
//! The result stays JSON: gotemplate and tera both read it.

use std::collections::BTreeMap;

use dcy::{AgentService, CatalogNode, HealthCheck, KvPair, Node, ServiceEntry};
use serde::Serialize;
use serde_json::{Map, Value};

/// `/v1/catalog/services`: service names and their tags (`null` tags read
/// as none).
pub(crate) type ServiceTags = BTreeMap<String, Option<Vec<String>>>;

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn sorted(tags: &[String]) -> Value {
    let mut tags: Vec<&String> = tags.iter().collect();
    tags.sort();
    Value::Array(tags.into_iter().map(|t| text(t)).collect())
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
}

/// A value of the wire model as JSON (its serde form: weights, tagged
/// addresses); `null` if it cannot be (it always can: plain data).
fn wire<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// An object with these fields, in one allocation of the map.
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<String, Value>>(),
    )
}

/// A node of `nodes` and `node`.
pub(crate) fn node(n: &Node) -> Value {
    object([
        ("ID", text(&n.id)),
        ("Node", text(&n.node)),
        ("Address", text(&n.address)),
        ("Datacenter", text(&n.datacenter)),
        ("TaggedAddresses", string_map(&n.tagged_addresses)),
        ("Meta", string_map(&n.meta)),
    ])
}

/// `nodes`: sorted by name.
pub(crate) fn nodes(list: &[Node]) -> Value {
    let mut list: Vec<&Node> = list.iter().collect();
    list.sort_by(|a, b| a.node.cmp(&b.node));
    Value::Array(list.into_iter().map(node).collect())
}

/// A service of `node`.
fn node_service(s: &AgentService) -> Value {
    object([
        ("ID", text(&s.id)),
        ("Service", text(&s.service)),
        ("Tags", sorted(&s.tags)),
        ("Meta", string_map(&s.meta)),
        ("Port", Value::from(s.port)),
        ("Address", text(&s.address)),
        ("EnableTagOverride", Value::Bool(s.enable_tag_override)),
    ])
}

/// `node`: the node and its services sorted by name then ID; `null` for a
/// node Consul does not know.
pub(crate) fn catalog_node(reply: Option<&CatalogNode>) -> Value {
    let Some(reply) = reply else {
        return Value::Null;
    };
    let mut services: Vec<&AgentService> = reply.services.values().collect();
    services.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
    let node_data = reply
        .node
        .as_ref()
        .map_or_else(|| node(&Node::default()), node);
    object([
        ("Node", node_data),
        (
            "Services",
            Value::Array(services.into_iter().map(node_service).collect()),
        ),
    ])
}

/// A check of `checks`, `state` and of a service's `Checks`.
pub(crate) fn check(c: &HealthCheck) -> Value {
    object([
        ("Node", text(&c.node)),
        ("CheckID", text(&c.check_id)),
        ("Name", text(&c.name)),
        ("Status", text(c.status.as_str())),
        ("Notes", text(&c.notes)),
        ("Output", text(&c.output)),
        ("ServiceID", text(&c.service_id)),
        ("ServiceName", text(&c.service_name)),
        ("ServiceTags", sorted(&c.service_tags)),
        ("Type", text(&c.kind)),
    ])
}

/// `checks` and `state`, in Consul's order.
pub(crate) fn checks(list: &[HealthCheck]) -> Value {
    Value::Array(list.iter().map(check).collect())
}

/// `services`: names with their sorted tags, by name.
pub(crate) fn services(reply: &ServiceTags) -> Value {
    Value::Array(
        reply
            .iter()
            .map(|(name, tags)| {
                object([
                    ("Name", text(name)),
                    ("Tags", sorted(tags.as_deref().unwrap_or_default())),
                ])
            })
            .collect(),
    )
}

/// `service` and `connect`: the instances whose aggregated health is in
/// `filter` (`any` keeps all), sorted by node then ID.
pub(crate) fn service_list(entries: &[ServiceEntry], filter: &[String]) -> Value {
    let any = filter.iter().any(|f| f == "any");
    let mut kept: Vec<(&ServiceEntry, &'static str)> = entries
        .iter()
        .map(|e| (e, e.aggregated_status().as_str()))
        .filter(|(_, status)| any || filter.iter().any(|f| f == status))
        .collect();
    kept.sort_by(|(a, _), (b, _)| {
        (&a.node.node, &a.service.id).cmp(&(&b.node.node, &b.service.id))
    });
    Value::Array(
        kept.into_iter()
            .map(|(e, status)| instance(e, status))
            .collect(),
    )
}

fn instance(e: &ServiceEntry, status: &str) -> Value {
    let (n, s) = (&e.node, &e.service);
    object([
        ("Node", text(&n.node)),
        ("NodeID", text(&n.id)),
        ("NodeAddress", text(&n.address)),
        ("NodeDatacenter", text(&n.datacenter)),
        ("NodeTaggedAddresses", string_map(&n.tagged_addresses)),
        ("NodeMeta", string_map(&n.meta)),
        ("ServiceMeta", string_map(&s.meta)),
        ("ServiceTaggedAddresses", wire(&s.tagged_addresses)),
        ("Address", text(e.address())),
        ("ID", text(&s.id)),
        ("Name", text(&s.service)),
        ("Tags", sorted(&s.tags)),
        ("Checks", checks(&e.checks)),
        ("Status", text(status)),
        ("Port", Value::from(s.port)),
        ("Weights", wire(&s.weights)),
    ])
}

/// A KV value as text (invalid UTF-8 replaced, as consul-template's Go
/// string conversion prints it).
pub(crate) fn kv_value(p: &KvPair) -> Value {
    Value::String(String::from_utf8_lossy(&p.value).into_owned())
}

/// `ls` (`top_level_only`) and `tree`: the pairs under `prefix`, keyed
/// relative to it, without directories.
pub(crate) fn kv_pairs(pairs: &[KvPair], prefix: &str, top_level_only: bool) -> Value {
    let prefix = prefix.trim_start_matches('/');
    Value::Array(
        pairs
            .iter()
            .filter_map(|p| {
                let rel = p
                    .key
                    .strip_prefix(prefix)
                    .unwrap_or(&p.key)
                    .trim_start_matches('/');
                let keep = if top_level_only {
                    !rel.is_empty() && !rel.contains('/')
                } else {
                    !rel.is_empty() && !rel.ends_with('/')
                };
                keep.then(|| {
                    object([
                        ("Key", text(rel)),
                        ("Path", text(&p.key)),
                        ("Value", kv_value(p)),
                        ("Flags", Value::from(p.flags)),
                        ("CreateIndex", Value::from(p.create_index)),
                        ("ModifyIndex", Value::from(p.modify_index)),
                        ("LockIndex", Value::from(p.lock_index)),
                        ("Session", text(p.session.as_deref().unwrap_or_default())),
                    ])
                })
            })
            .collect(),
    )
}

/// `datacenters`: sorted, each once.
pub(crate) fn datacenters(list: &[String]) -> Value {
    let mut list: Vec<&String> = list.iter().collect();
    list.sort();
    list.dedup();
    Value::Array(list.into_iter().map(|d| text(d)).collect())
}

/// `keys`: as Consul lists them.
pub(crate) fn keys(list: &[String]) -> Value {
    Value::Array(list.iter().map(|k| text(k)).collect())
}

/// Groups services by tag (consul-template's `byTag`).
pub fn by_tag(services: &Value) -> Value {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for s in arr(services) {
        for t in arr(&s["Tags"]) {
            if let Some(t) = t.as_str() {
                map.entry(t.to_string()).or_default().push(s.clone());
            }
        }
    }
    Value::Object(map.into_iter().map(|(k, v)| (k, Value::Array(v))).collect())
}

/// Turns KV pairs into a nested map by `/` (consul-template's `explode`).
pub fn explode(pairs: &Value) -> Result<Value, String> {
    let mut root = Map::new();
    for p in arr(pairs) {
        let key = p["Key"].as_str().unwrap_or_default();
        let parts: Vec<&str> = key.split('/').filter(|s| !s.is_empty()).collect();
        let Some((last, dirs)) = parts.split_last() else {
            continue;
        };
        let mut cur = &mut root;
        for d in dirs {
            let entry = cur
                .entry(d.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            cur = entry
                .as_object_mut()
                .ok_or_else(|| format!("explode: {key:?} is both a value and a directory"))?;
        }
        if cur.get(*last).is_some_and(Value::is_object) {
            return Err(format!("explode: {key:?} is both a value and a directory"));
        }
        cur.insert(last.to_string(), p["Value"].clone());
    }
    Ok(Value::Object(root))
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}
