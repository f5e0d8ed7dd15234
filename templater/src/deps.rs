//! Dependencies: what a template function asks of Consul (or of a file),
//! the query that watches it, and the consul-template-shaped data a
//! template sees.
//!
//! Equal dependencies have equal keys (`health.service(web|passing)`,
//! `kv.block(app/config)`), and every dependency maps to one watch in the
//! shared [`dcy::watch::WatchHub`], so a query runs once however many
//! templates use it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine as _;
use dcy::watch::{FetchFn, WatchSpec};
use serde_json::{json, Map, Value};

/// The scope of a query: consul-template's `?ns=&partition=&peer=`,
/// `@dc` and `~near` parts of a query string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct At {
    /// `?key=value` parameters (`ns`, `partition`, `peer`, `sameness-group`).
    pub query: Vec<(String, String)>,
    /// `@dc`.
    pub dc: Option<String>,
    /// `~near` (a node name or `_agent`).
    pub near: Option<String>,
}

impl At {
    /// Just a datacenter (or nothing).
    pub fn dc(dc: Option<String>) -> At {
        At {
            dc,
            ..At::default()
        }
    }

    /// `?q@dc~near`, as consul-template spells a dependency.
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        if !self.query.is_empty() {
            s.push('?');
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&q.join("&"));
        }
        if let Some(dc) = &self.dc {
            s.push('@');
            s.push_str(dc);
        }
        if let Some(near) = &self.near {
            s.push('~');
            s.push_str(near);
        }
        s
    }

    /// The query with these parameters.
    pub fn apply(&self, mut spec: WatchSpec) -> WatchSpec {
        if let Some(dc) = &self.dc {
            spec = spec.datacenter(dc);
        }
        if let Some(near) = &self.near {
            spec = spec.param("near", near);
        }
        for (k, v) in &self.query {
            spec = spec.param(k, v);
        }
        spec
    }
}

/// One thing a template depends on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dep {
    /// `service`: instances of a service, filtered by health (`passing` by default).
    Service {
        /// Service name.
        name: String,
        /// Required tag.
        tag: Option<String>,
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
        /// Health statuses kept (`any` keeps all).
        filter: Vec<String>,
        /// `connect`: Connect-capable instances (`/v1/health/connect`).
        connect: bool,
    },
    /// `services`: every service name with its tags.
    Services {
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `nodes`: every node.
    Nodes {
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `node`: one node and its services (`None`: the agent's own node).
    Node {
        /// Node name.
        name: Option<String>,
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `key`: a KV value; no data until the key exists.
    Key {
        /// Key.
        path: String,
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `key_or_default`, `key_exists`: a KV value or null.
    KeyGet {
        /// Key.
        path: String,
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `ls`: the pairs directly under a prefix.
    Ls {
        /// Prefix.
        prefix: String,
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `tree`: every pair under a prefix.
    Tree {
        /// Prefix.
        prefix: String,
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `keys`: the key names under a prefix.
    Keys {
        /// Prefix.
        prefix: String,
        /// Datacenter, `?query` and `~near` of the query string.
        at: At,
    },
    /// `datacenters`.
    Datacenters {
        /// Drop datacenters that do not answer a consistent catalog query
        /// (consul-template's `datacenters true`).
        ignore_inaccessible: bool,
    },
    /// `checks`: the checks of a service, or in a state.
    Checks {
        /// Service name.
        service: Option<String>,
        /// `any`, `passing`, `warning` or `critical`.
        state: Option<String>,
    },
    /// `file`: a local file's contents.
    File {
        /// Path.
        path: PathBuf,
    },
    /// `partitions`, `peerings`, `exportedServices`, `importedServices`.
    Admin {
        /// Which list.
        kind: crate::admin::Kind,
        /// The admin partition (empty: the token's, or `default`).
        partition: String,
    },
}

impl Dep {
    /// The identity, in consul-template's spelling.
    pub fn key(&self) -> String {
        match self {
            Dep::Service {
                name,
                tag,
                at,
                filter,
                connect,
            } => {
                let tag = tag.as_ref().map(|t| format!("{t}.")).unwrap_or_default();
                let kind = if *connect { "connect" } else { "service" };
                format!(
                    "health.{kind}({tag}{name}{}|{})",
                    at.suffix(),
                    filter.join(",")
                )
            }
            Dep::Services { at } => format!("catalog.services({})", at.suffix()),
            Dep::Nodes { at } => format!("catalog.nodes({})", at.suffix()),
            Dep::Node { name, at } => {
                format!(
                    "catalog.node({}{})",
                    name.as_deref().unwrap_or(""),
                    at.suffix()
                )
            }
            Dep::Key { path, at } => format!("kv.block({path}{})", at.suffix()),
            Dep::KeyGet { path, at } => format!("kv.get({path}{})", at.suffix()),
            Dep::Ls { prefix, at } => format!("kv.ls({prefix}{})", at.suffix()),
            Dep::Tree { prefix, at } => format!("kv.tree({prefix}{})", at.suffix()),
            Dep::Keys { prefix, at } => format!("kv.keys({prefix}{})", at.suffix()),
            Dep::Datacenters {
                ignore_inaccessible: false,
            } => "catalog.datacenters".into(),
            Dep::Datacenters {
                ignore_inaccessible: true,
            } => "catalog.datacenters(ignore-inaccessible)".into(),
            Dep::Checks { service, state } => match (service, state) {
                (Some(s), _) => format!("health.checks({s})"),
                (None, s) => format!("health.state({})", s.as_deref().unwrap_or("any")),
            },
            Dep::File { path } => format!("file({})", path.display()),
            Dep::Admin { kind, partition } => kind.key(partition),
        }
    }

    /// The blocking query that watches it, for dependencies that have one.
    pub fn spec(&self, stale: bool) -> Option<WatchSpec> {
        let with_dc = |s: WatchSpec, at: &At| at.apply(s);
        let spec = match self {
            Dep::Service {
                name,
                tag,
                at,
                filter,
                connect,
            } => {
                let mut s = if *connect {
                    WatchSpec::new(format!("/v1/health/connect/{name}"))
                } else {
                    WatchSpec::health_service(name)
                };
                if filter.len() == 1 && filter[0] == "passing" {
                    s = s.passing(true);
                }
                if let Some(t) = tag {
                    s = s.tag(t);
                }
                with_dc(s, at)
            }
            Dep::Services { at } => with_dc(WatchSpec::catalog_services(), at),
            Dep::Nodes { at } => with_dc(WatchSpec::catalog_nodes(), at),
            Dep::Node { name: Some(n), at } => with_dc(WatchSpec::catalog_node(n), at),
            Dep::Key { path, at } | Dep::KeyGet { path, at } => {
                with_dc(WatchSpec::kv_key(path), at)
            }
            Dep::Ls { prefix, at } | Dep::Tree { prefix, at } => {
                with_dc(WatchSpec::kv_prefix(prefix), at)
            }
            Dep::Keys { prefix, at } => with_dc(WatchSpec::kv_keys(prefix, ""), at),
            Dep::Checks {
                service: Some(s), ..
            } => WatchSpec::health_checks(s),
            Dep::Checks {
                service: None,
                state,
            } => WatchSpec::health_state(state.as_deref().unwrap_or("any")),
            Dep::Node { name: None, .. }
            | Dep::Datacenters { .. }
            | Dep::File { .. }
            | Dep::Admin { .. } => return None,
        };
        Some(if stale { spec.stale() } else { spec })
    }

    /// Turns the raw answer into what templates see; `None` means "no data
    /// yet" (a `key` that does not exist).
    pub fn transform(&self, raw: &Value) -> Option<Value> {
        Some(match self {
            Dep::Service { filter, .. } => service_list(raw, filter),
            Dep::Services { .. } => {
                let mut out: Vec<Value> = raw
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(name, tags)| json!({"Name": name, "Tags": sorted_strings(tags)}))
                            .collect()
                    })
                    .unwrap_or_default();
                out.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
                Value::Array(out)
            }
            Dep::Nodes { .. } => {
                let mut out: Vec<Value> = arr(raw).iter().map(node_json).collect();
                out.sort_by(|a, b| a["Node"].as_str().cmp(&b["Node"].as_str()));
                Value::Array(out)
            }
            Dep::Node { .. } => {
                if raw.is_null() {
                    Value::Null
                } else {
                    let mut services: Vec<Value> = raw["Services"]
                        .as_object()
                        .map(|m| m.values().map(node_service).collect())
                        .unwrap_or_default();
                    services.sort_by(|a, b| {
                        (a["Service"].as_str(), a["ID"].as_str())
                            .cmp(&(b["Service"].as_str(), b["ID"].as_str()))
                    });
                    json!({"Node": node_json(&raw["Node"]), "Services": services})
                }
            }
            Dep::Key { .. } => Value::String(kv_value(arr(raw).first()?)),
            Dep::KeyGet { .. } => arr(raw)
                .first()
                .map_or(Value::Null, |e| Value::String(kv_value(e))),
            Dep::Ls { prefix, .. } => Value::Array(kv_pairs(raw, prefix, true)),
            Dep::Tree { prefix, .. } => Value::Array(kv_pairs(raw, prefix, false)),
            Dep::Keys { .. } => raw.clone(),
            Dep::Datacenters { .. } => {
                let mut dcs = sorted_strings(raw);
                dcs.dedup();
                Value::Array(dcs.into_iter().map(Value::String).collect())
            }
            Dep::Checks { .. } => Value::Array(arr(raw).iter().map(check_json).collect()),
            Dep::File { .. } => raw.clone(),
            Dep::Admin { kind, .. } => crate::admin::transform(*kind, raw),
        })
    }

    /// A custom fetch for dependencies without a plain blocking query.
    pub fn fetch(&self, client: &dcy::Client, stale: bool) -> Option<FetchFn<Value>> {
        match self {
            Dep::Datacenters {
                ignore_inaccessible,
            } => {
                let client = client.clone();
                let probe = *ignore_inaccessible;
                Some(Arc::new(move |index| {
                    let client = client.clone();
                    Box::pin(async move {
                        // Not a blocking endpoint: re-poll every 15s, as consul-template.
                        if index > 0 {
                            tokio::time::sleep(Duration::from_secs(15)).await;
                        }
                        let mut dcs = client.catalog_datacenters().await?;
                        if probe {
                            // Keep the datacenters that answer a consistent read.
                            let mut reachable = Vec::with_capacity(dcs.len());
                            for dc in dcs {
                                let q = dcy::QueryOptions {
                                    datacenter: Some(dc.clone()),
                                    consistency: dcy::Consistency::Consistent,
                                    ..dcy::QueryOptions::default()
                                };
                                if client.get_value("/v1/catalog/services", &q).await.is_ok() {
                                    reachable.push(dc);
                                }
                            }
                            dcs = reachable;
                        }
                        Ok((json!(dcs), index + 1))
                    })
                }))
            }
            Dep::Node { name: None, at } => {
                let client = client.clone();
                let dc = at.dc.clone();
                Some(Arc::new(move |index| {
                    let client = client.clone();
                    let dc = dc.clone();
                    Box::pin(async move {
                        let me = client.agent_self().await?;
                        let mut q = dcy::QueryOptions::blocking(index, client.config().watch_wait);
                        q.datacenter = dc;
                        if stale {
                            q.consistency = dcy::Consistency::Stale;
                        }
                        let path = format!("/v1/catalog/node/{}", me.node_name);
                        let (v, meta) = client.get_value(&path, &q).await?;
                        Ok((v, meta.last_index))
                    })
                }))
            }
            Dep::Admin { kind, partition } => {
                Some(crate::admin::fetch(*kind, partition, client, stale))
            }
            Dep::File { path } => {
                let path = path.clone();
                Some(Arc::new(move |index| {
                    let path = path.clone();
                    Box::pin(async move { poll_file(&path, index).await })
                }))
            }
            _ => None,
        }
    }
}

/// Reads a file, and when `index` is its current hash, waits (polling every
/// second, for at most a minute) for it to change.
async fn poll_file(path: &std::path::Path, index: u64) -> dcy::Result<(Value, u64)> {
    use std::hash::{Hash, Hasher};
    let mut polls = 0;
    loop {
        let text = tokio::fs::read_to_string(path).await.map_err(|e| {
            dcy::Error::new(
                dcy::ErrorKind::NotFound,
                format!("file({}): {e}", path.display()),
            )
        })?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let hash = h.finish().max(1);
        polls += 1;
        if hash != index || polls >= 60 {
            return Ok((Value::String(text), hash));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn sorted_strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = arr(v)
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

fn obj_or_empty(v: &Value) -> Value {
    if v.is_object() {
        v.clone()
    } else {
        Value::Object(Map::new())
    }
}

fn node_json(n: &Value) -> Value {
    json!({
        "ID": n["ID"], "Node": n["Node"], "Address": n["Address"], "Datacenter": n["Datacenter"],
        "TaggedAddresses": obj_or_empty(&n["TaggedAddresses"]), "Meta": obj_or_empty(&n["Meta"]),
    })
}

fn node_service(s: &Value) -> Value {
    json!({
        "ID": s["ID"], "Service": s["Service"], "Tags": sorted_strings(&s["Tags"]),
        "Meta": obj_or_empty(&s["Meta"]), "Port": s["Port"], "Address": s["Address"],
        "EnableTagOverride": s["EnableTagOverride"],
    })
}

fn check_json(c: &Value) -> Value {
    json!({
        "Node": c["Node"], "CheckID": c["CheckID"], "Name": c["Name"], "Status": c["Status"],
        "Notes": c["Notes"], "Output": c["Output"], "ServiceID": c["ServiceID"],
        "ServiceName": c["ServiceName"], "ServiceTags": sorted_strings(&c["ServiceTags"]),
        "Type": c["Type"],
    })
}

/// maintenance > critical > warning > passing, as consul-template aggregates:
/// the wire model's rule ([`dcy::aggregated_status`]) over the raw checks
/// (a status it does not know counts as passing, as before).
fn aggregate(checks: &[Value]) -> &'static str {
    dcy::aggregated_status(checks.iter().map(|c| {
        (
            c["CheckID"].as_str().unwrap_or_default(),
            c["Status"]
                .as_str()
                .and_then(dcy::Status::parse)
                .unwrap_or(dcy::Status::Passing),
        )
    }))
    .as_str()
}

fn service_list(raw: &Value, filter: &[String]) -> Value {
    let any = filter.iter().any(|f| f == "any");
    let mut out: Vec<Value> = arr(raw)
        .iter()
        .filter_map(|e| {
            let (node, svc) = (&e["Node"], &e["Service"]);
            let checks = arr(&e["Checks"]);
            let status = aggregate(checks);
            if !any && !filter.iter().any(|f| f == status) {
                return None;
            }
            let address = match svc["Address"].as_str() {
                Some(a) if !a.is_empty() => a.to_string(),
                _ => node["Address"].as_str().unwrap_or_default().to_string(),
            };
            Some(json!({
                "Node": node["Node"], "NodeID": node["ID"], "NodeAddress": node["Address"],
                "NodeDatacenter": node["Datacenter"],
                "NodeTaggedAddresses": obj_or_empty(&node["TaggedAddresses"]),
                "NodeMeta": obj_or_empty(&node["Meta"]),
                "ServiceMeta": obj_or_empty(&svc["Meta"]),
                "ServiceTaggedAddresses": obj_or_empty(&svc["TaggedAddresses"]),
                "Address": address, "ID": svc["ID"], "Name": svc["Service"],
                "Tags": sorted_strings(&svc["Tags"]),
                "Checks": checks.iter().map(check_json).collect::<Vec<_>>(),
                "Status": status, "Port": svc["Port"],
                "Weights": if svc["Weights"].is_object() { svc["Weights"].clone() } else { json!({"Passing": 1, "Warning": 1}) },
            }))
        })
        .collect();
    out.sort_by(|a, b| {
        (a["Node"].as_str(), a["ID"].as_str()).cmp(&(b["Node"].as_str(), b["ID"].as_str()))
    });
    Value::Array(out)
}

fn kv_value(e: &Value) -> String {
    let b64 = e["Value"].as_str().unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn kv_pairs(raw: &Value, prefix: &str, top_level_only: bool) -> Vec<Value> {
    let prefix = prefix.trim_start_matches('/');
    arr(raw)
        .iter()
        .filter_map(|e| {
            let path = e["Key"].as_str()?;
            let rel = path
                .strip_prefix(prefix)
                .unwrap_or(path)
                .trim_start_matches('/');
            let keep = if top_level_only {
                !rel.is_empty() && !rel.contains('/')
            } else {
                !rel.is_empty() && !rel.ends_with('/')
            };
            keep.then(|| {
                json!({
                    "Key": rel, "Path": path, "Value": kv_value(e), "Flags": e["Flags"],
                    "CreateIndex": e["CreateIndex"], "ModifyIndex": e["ModifyIndex"],
                    "LockIndex": e["LockIndex"], "Session": e["Session"].as_str().unwrap_or(""),
                })
            })
        })
        .collect()
}

/// A parsed `[tag.]name[?query][@dc][~near][|filter]` (consul-template's
/// `service` and `connect` argument).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceQuery {
    /// Service name.
    pub name: String,
    /// Required tag.
    pub tag: Option<String>,
    /// `?query`, `@dc`, `~near`.
    pub at: At,
    /// `|filter` statuses (not yet normalized).
    pub filter: Vec<String>,
}

fn query_params(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !matches!(k, "ns" | "partition" | "peer" | "sameness-group") {
            return Err(format!(
                "unsupported query parameter {k:?}: use ns, partition, peer or sameness-group"
            ));
        }
        out.push((k.to_string(), v.to_string()));
    }
    let has = |k: &str| out.iter().any(|(n, _)| n == k);
    if has("peer") && has("sameness-group") {
        return Err("peer and sameness-group cannot be used together".into());
    }
    Ok(out)
}

/// consul-template's grammar of a `service` argument, compiled once.
static SERVICE_QUERY: LazyLock<Result<regex::Regex, regex::Error>> = LazyLock::new(|| {
    regex::Regex::new(
        r"\A(?:(?P<tag>[\w=:.\-]+)\.)?(?P<name>[\w\-]+)(?:\?(?P<query>[\w\-=&]+))?(?:@(?P<dc>[\w.\-]+))?(?:~(?P<near>[\w.\-]+))?(?:\|(?P<filter>[\w,]+))?\z",
    )
});

/// The grammar of the other functions' arguments, compiled once.
static SCOPED_QUERY: LazyLock<Result<regex::Regex, regex::Error>> = LazyLock::new(|| {
    regex::Regex::new(
        r"\A(?P<what>[^@?~]*)(?:\?(?P<query>[\w\-=&]+))?(?:@(?P<dc>[\w.\-]+))?(?:~(?P<near>[\w.\-]+))?\z",
    )
});

/// Parses consul-template's `[tag.]name[?query][@dc][~near][|filter]`.
pub fn parse_service_query(q: &str) -> Result<ServiceQuery, String> {
    let c = SERVICE_QUERY
        .as_ref()
        .map_err(|e| e.to_string())?
        .captures(q)
        .ok_or_else(|| {
            format!("invalid format: {q:?}: expected [tag.]name[?ns=..][@dc][~near][|filter]")
        })?;
    let get = |n: &str| c.name(n).map(|m| m.as_str().to_string());
    Ok(ServiceQuery {
        name: get("name").unwrap_or_default(),
        tag: get("tag"),
        at: At {
            query: query_params(&get("query").unwrap_or_default())?,
            dc: get("dc"),
            near: get("near"),
        },
        filter: get("filter")
            .map(|f| {
                f.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Parses `what[?query][@dc][~near]` as consul-template's KV, catalog and
/// node functions take it (`near` only where `allow_near`); `what` is
/// everything before `?` or `@` (a key may hold any other character).
pub fn parse_scoped(q: &str, allow_near: bool) -> Result<(String, At), String> {
    let c = SCOPED_QUERY
        .as_ref()
        .map_err(|e| e.to_string())?
        .captures(q)
        .ok_or_else(|| format!("invalid format: {q:?}: expected NAME[?ns=..][@dc]"))?;
    let get = |n: &str| c.name(n).map(|m| m.as_str().to_string());
    let near = get("near");
    if near.is_some() && !allow_near {
        return Err(format!(
            "invalid format: {q:?}: `~near` is not allowed here"
        ));
    }
    Ok((
        get("what").unwrap_or_default(),
        At {
            query: query_params(&get("query").unwrap_or_default())?,
            dc: get("dc"),
            near,
        },
    ))
}

/// The default and normalized health filter.
pub fn normalize_filter(mut f: Vec<String>) -> Result<Vec<String>, String> {
    if f.is_empty() {
        f.push("passing".into());
    }
    for s in &f {
        if !matches!(
            s.as_str(),
            "any" | "passing" | "warning" | "critical" | "maintenance"
        ) {
            return Err(format!(
                "unknown health filter {s:?}: use any, passing, warning, critical or maintenance"
            ));
        }
    }
    f.sort();
    f.dedup();
    Ok(f)
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
    json!(map)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_query_syntax() {
        let q =
            parse_service_query("v1.web?ns=team&partition=p@dc2~_agent|passing,warning").unwrap();
        assert_eq!(q.name, "web");
        assert_eq!(q.tag.as_deref(), Some("v1"));
        assert_eq!(q.at.dc.as_deref(), Some("dc2"));
        assert_eq!(q.at.near.as_deref(), Some("_agent"));
        assert_eq!(
            q.at.query,
            [
                ("ns".into(), "team".into()),
                ("partition".into(), "p".into())
            ]
        );
        assert_eq!(q.filter, ["passing", "warning"]);
        let q = parse_service_query("a.b.web").unwrap();
        assert_eq!((q.tag.as_deref(), q.name.as_str()), (Some("a.b"), "web"));
        assert!(parse_service_query("web?color=red")
            .unwrap_err()
            .contains("color"));
        assert!(parse_service_query("web?peer=a&sameness-group=b").is_err());
        assert!(parse_service_query("we b")
            .unwrap_err()
            .contains("invalid format"));
        let (path, at) = parse_scoped("app/config@dc2", false).unwrap();
        assert_eq!(
            (path.as_str(), at.dc.as_deref()),
            ("app/config", Some("dc2"))
        );
        assert!(parse_scoped("n~x", false).is_err());
        let d = Dep::Service {
            name: "web".into(),
            tag: None,
            at: At::default(),
            filter: normalize_filter(vec![]).unwrap(),
            connect: false,
        };
        assert_eq!(d.key(), "health.service(web|passing)");
        let d = Dep::Service {
            name: "web".into(),
            tag: Some("v1".into()),
            at: q_at(),
            filter: vec!["any".into()],
            connect: true,
        };
        assert_eq!(d.key(), "health.connect(v1.web?ns=a@dc2~n|any)");
        assert!(normalize_filter(vec!["healthy".into()]).is_err());
    }

    fn q_at() -> At {
        At {
            query: vec![("ns".into(), "a".into())],
            dc: Some("dc2".into()),
            near: Some("n".into()),
        }
    }

    #[test]
    fn services_get_consul_template_fields_and_health_filtering() {
        let raw = json!([
            {"Node": {"Node": "n2", "Address": "10.0.0.2"}, "Service": {"ID": "b", "Service": "web", "Port": 81, "Tags": ["z", "a"]},
             "Checks": [{"CheckID": "c", "Status": "warning"}]},
            {"Node": {"Node": "n1", "Address": "10.0.0.1"}, "Service": {"ID": "a", "Service": "web", "Port": 80, "Address": "192.168.0.9"},
             "Checks": [{"CheckID": "c", "Status": "passing"}]},
        ]);
        let all = service_list(&raw, &["any".into()]);
        assert_eq!(all[0]["ID"], "a", "sorted by node");
        assert_eq!(all[0]["Address"], "192.168.0.9");
        assert_eq!(
            all[1]["Address"], "10.0.0.2",
            "falls back to the node address"
        );
        assert_eq!(all[1]["Tags"], json!(["a", "z"]));
        assert_eq!(all[1]["Status"], "warning");
        assert_eq!(
            service_list(&raw, &["passing".into()])
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            service_list(&raw, &["passing".into(), "warning".into()])
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn kv_shapes() {
        let raw = json!([
            {"Key": "app/a", "Value": "MQ=="}, {"Key": "app/dir/", "Value": null},
            {"Key": "app/dir/b", "Value": "Mg=="},
        ]);
        let ls = Dep::Ls {
            prefix: "app/".into(),
            at: At::default(),
        }
        .transform(&raw)
        .unwrap();
        assert_eq!(ls.as_array().unwrap().len(), 1);
        assert_eq!(ls[0]["Value"], "1");
        let tree = Dep::Tree {
            prefix: "app".into(),
            at: At::default(),
        }
        .transform(&raw)
        .unwrap();
        assert_eq!(
            tree.as_array()
                .unwrap()
                .iter()
                .map(|p| p["Key"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["a", "dir/b"]
        );
        assert_eq!(
            explode(&tree).unwrap(),
            json!({"a": "1", "dir": {"b": "2"}})
        );
        assert!(Dep::Key {
            path: "x".into(),
            at: At::default()
        }
        .transform(&json!([]))
        .is_none());
        assert_eq!(
            Dep::KeyGet {
                path: "x".into(),
                at: At::default()
            }
            .transform(&json!([])),
            Some(Value::Null)
        );
    }
}
