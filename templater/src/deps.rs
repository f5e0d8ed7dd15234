//! Dependencies: what a template function asks of Consul (or of a file),
//! the query that watches it, and the type its reply decodes into.
//!
//! Equal dependencies have equal keys (`health.service(web|passing)`,
//! `kv.block(app/config)`), and every dependency maps to one watch in the
//! shared [`dcy::watch::WatchHub`], so a query runs once however many
//! templates use it. Replies decode into the wire model (consul-wire's
//! types, through dcy: a reply that does not fit is the watch's decode
//! error); [`shape`] turns them into the consul-template-shaped data a
//! template sees; [`query`] parses the functions' query strings.

mod query;
mod shape;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dcy::watch::{FetchFn, WatchSpec};
use dcy::{CatalogNode, HealthCheck, KvPair, Node, ServiceEntry};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use query::{normalize_filter, parse_scoped, parse_service_query};
pub use shape::{by_tag, explode};

/// What becomes of a dependency's reply decoded into the wire model as `T`,
/// which `shape` turns into the data templates see (`None`: no data yet, a
/// `key` that does not exist): the runner follows it with a watch
/// ([`Dep::reply`]).
pub trait Reply {
    /// The result of handling one dependency.
    type Out;
    /// Handles a dependency whose reply is a `T`.
    fn shape<T, F>(self, shape: F) -> Self::Out
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static,
        F: Fn(&T) -> Option<Value> + Send + Sync + 'static;
}

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

    /// Hands `r` the wire type of this dependency's reply and the function
    /// that shapes it for templates.
    pub fn reply<R: Reply>(&self, r: R) -> R::Out {
        match self {
            Dep::Service { filter, .. } => {
                let filter = filter.clone();
                r.shape(move |e: &Vec<ServiceEntry>| Some(shape::service_list(e, &filter)))
            }
            Dep::Services { .. } => r.shape(|s: &shape::ServiceTags| Some(shape::services(s))),
            Dep::Nodes { .. } => r.shape(|n: &Vec<Node>| Some(shape::nodes(n))),
            Dep::Node { .. } => {
                r.shape(|n: &Option<CatalogNode>| Some(shape::catalog_node(n.as_ref())))
            }
            Dep::Key { .. } => r.shape(|p: &Vec<KvPair>| p.first().map(shape::kv_value)),
            Dep::KeyGet { .. } => {
                r.shape(|p: &Vec<KvPair>| Some(p.first().map_or(Value::Null, shape::kv_value)))
            }
            Dep::Ls { prefix, .. } => {
                let prefix = prefix.clone();
                r.shape(move |p: &Vec<KvPair>| Some(shape::kv_pairs(p, &prefix, true)))
            }
            Dep::Tree { prefix, .. } => {
                let prefix = prefix.clone();
                r.shape(move |p: &Vec<KvPair>| Some(shape::kv_pairs(p, &prefix, false)))
            }
            Dep::Keys { .. } => r.shape(|k: &Vec<String>| Some(shape::keys(k))),
            Dep::Datacenters { .. } => r.shape(|d: &Vec<String>| Some(shape::datacenters(d))),
            Dep::Checks { .. } => r.shape(|c: &Vec<HealthCheck>| Some(shape::checks(c))),
            Dep::File { .. } => r.shape(|t: &String| Some(Value::String(t.clone()))),
            Dep::Admin { kind, .. } => {
                let kind = *kind;
                r.shape(move |v: &Value| Some(crate::admin::transform(kind, v)))
            }
        }
    }

    /// One reply body to the data templates see, as the runner's watch
    /// decodes and shapes it (the bench and the tests).
    ///
    /// # Errors
    /// The body is not this dependency's reply; the message says where.
    #[cfg(any(test, feature = "bench"))]
    pub fn decode(&self, body: &[u8]) -> Result<Option<Value>, String> {
        struct Body<'a>(&'a [u8]);
        impl Reply for Body<'_> {
            type Out = Result<Option<Value>, String>;
            fn shape<T, F>(self, shape: F) -> Self::Out
            where
                T: DeserializeOwned + PartialEq + Send + Sync + 'static,
                F: Fn(&T) -> Option<Value> + Send + Sync + 'static,
            {
                let reply: T = serde_json::from_slice(self.0).map_err(|e| e.to_string())?;
                Ok(shape(&reply))
            }
        }
        self.reply(Body(body))
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

#[cfg(test)]
mod tests;
