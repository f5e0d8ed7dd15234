//! The data a Go template sees: consul-template's own structs
//! (`dependency.HealthService`, `dependency.KeyPair`, ...) with their field
//! names, field order and Go types, so that `{{ .Port }}`, `{{ .Tags }}`
//! (`[a b]`) and `{{ printf "%+v" . }}` print what consul-template prints.
//!
//! A dependency's data is converted once per change (the brain caches it),
//! from the consul-template-shaped JSON that the dependency's reply is shaped
//! into for both engines ([`crate::deps::Dep::reply`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{Key, List, Map, Struct, Type, Value as Go, Zero, STRING_LIST, STRING_MAP};
use serde_json::Value as Json;

use crate::admin::Kind as AdminKind;
use crate::deps::Dep;

fn tags_contains(recv: &Go, args: &[Go]) -> Result<Go, String> {
    let [needle] = args else {
        return Err(format!(
            "wrong number of args for Contains: want 1 got {}",
            args.len()
        ));
    };
    let needle = needle.as_str().ok_or_else(|| {
        format!(
            "wrong type for value; expected string; got {}",
            needle.type_name()
        )
    })?;
    Ok(Go::Bool(
        recv.as_list()
            .unwrap_or_default()
            .iter()
            .any(|t| t.as_str() == Some(needle)),
    ))
}

/// `dependency.ServiceTags` (a `[]string` with the deprecated `Contains` method).
pub static SERVICE_TAGS: Type = Type {
    name: "dependency.ServiceTags",
    fields: &[],
    elem: Zero::Str,
    methods: &[("Contains", tags_contains)],
};

/// `*dependency.HealthService`: what `service` and `connect` list.
pub static HEALTH_SERVICE: Type = Type {
    name: "*dependency.HealthService",
    fields: &[
        "Node",
        "NodeID",
        "NodeAddress",
        "NodeTaggedAddresses",
        "NodeMeta",
        "ServiceMeta",
        "Address",
        "ServiceTaggedAddresses",
        "ID",
        "Name",
        "Tags",
        "Checks",
        "Status",
        "Port",
        "Weights",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static HEALTH_SERVICES: Type = Type::named("[]*dependency.HealthService", Zero::Pointer);

/// `api.ServiceAddress`.
static SERVICE_ADDRESS: Type = Type {
    name: "api.ServiceAddress",
    fields: &["Address", "Port"],
    elem: Zero::Interface,
    methods: &[],
};
/// A missing key gives `api.ServiceAddress{"" 0}`, as in Go: `{{ with
/// .ServiceTaggedAddresses.wan }}` is true for an instance without one.
static SERVICE_ADDRESSES: Type = Type::named(
    "map[string]api.ServiceAddress",
    Zero::Struct(&SERVICE_ADDRESS, &[Zero::Str, Zero::Int]),
);

/// `api.AgentWeights`.
static AGENT_WEIGHTS: Type = Type {
    name: "api.AgentWeights",
    fields: &["Passing", "Warning"],
    elem: Zero::Interface,
    methods: &[],
};

/// `*api.HealthCheck`.
pub static HEALTH_CHECK: Type = Type {
    name: "*api.HealthCheck",
    fields: &[
        "Node",
        "CheckID",
        "Name",
        "Status",
        "Notes",
        "Output",
        "ServiceID",
        "ServiceName",
        "ServiceTags",
        "Type",
        "Namespace",
        "Partition",
        "ExposedPort",
        "PeerName",
        "CreateIndex",
        "ModifyIndex",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static HEALTH_CHECKS: Type = Type::named("api.HealthChecks", Zero::Pointer);

/// `*dependency.CatalogSnippet`: what `services` lists.
pub static CATALOG_SNIPPET: Type = Type {
    name: "*dependency.CatalogSnippet",
    fields: &["Name", "Tags"],
    elem: Zero::Interface,
    methods: &[],
};
static CATALOG_SNIPPETS: Type = Type::named("[]*dependency.CatalogSnippet", Zero::Pointer);

/// `*dependency.Node`: what `nodes` lists.
pub static NODE: Type = Type {
    name: "*dependency.Node",
    fields: &[
        "ID",
        "Node",
        "Address",
        "Datacenter",
        "TaggedAddresses",
        "Meta",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static NODES: Type = Type::named("[]*dependency.Node", Zero::Pointer);

/// `*dependency.CatalogNode`: what `node` gives.
pub static CATALOG_NODE: Type = Type {
    name: "*dependency.CatalogNode",
    fields: &["Node", "Services"],
    elem: Zero::Interface,
    methods: &[],
};

/// `*dependency.CatalogNodeService`.
static CATALOG_NODE_SERVICE: Type = Type {
    name: "*dependency.CatalogNodeService",
    fields: &[
        "ID",
        "Service",
        "Tags",
        "Meta",
        "Port",
        "Address",
        "EnableTagOverride",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static CATALOG_NODE_SERVICES: Type = Type::named("[]*dependency.CatalogNodeService", Zero::Pointer);

/// `*dependency.KeyPair`: what `ls` and `tree` list.
pub static KEY_PAIR: Type = Type {
    name: "*dependency.KeyPair",
    fields: &[
        "Path",
        "Key",
        "Value",
        "Exists",
        "CreateIndex",
        "ModifyIndex",
        "LockIndex",
        "Flags",
        "Session",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static KEY_PAIRS: Type = Type::named("[]*dependency.KeyPair", Zero::Pointer);

fn string(v: &Json) -> Go {
    Go::from(v.as_str().unwrap_or_default())
}

fn int(v: &Json) -> Go {
    Go::Int(v.as_i64().unwrap_or_default())
}

fn uint(v: &Json) -> Go {
    Go::Uint(v.as_u64().unwrap_or_default())
}

fn boolean(v: &Json) -> Go {
    Go::Bool(v.as_bool().unwrap_or_default())
}

/// A `map[string]string` (null and non-strings read as empty).
fn string_map(v: &Json) -> Go {
    let entries = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (Key::from(k.as_str()), string(v)))
                .collect()
        })
        .unwrap_or_default();
    Go::Map(Arc::new(Map::typed(entries, &STRING_MAP)))
}

fn strings_of(v: &Json, ty: &'static Type) -> Go {
    let items = v
        .as_array()
        .map(|a| a.iter().map(string).collect())
        .unwrap_or_default();
    Go::List(Arc::new(List::typed(items, ty)))
}

fn record(ty: &'static Type, fields: Vec<Go>) -> Go {
    Go::Struct(Arc::new(Struct::new(ty, fields)))
}

fn list(items: Vec<Go>, ty: &'static Type) -> Go {
    Go::List(Arc::new(List::typed(items, ty)))
}

fn each(v: &Json, f: impl Fn(&Json) -> Go) -> Vec<Go> {
    v.as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

fn health_check(c: &Json) -> Go {
    record(
        &HEALTH_CHECK,
        vec![
            string(&c["Node"]),
            string(&c["CheckID"]),
            string(&c["Name"]),
            string(&c["Status"]),
            string(&c["Notes"]),
            string(&c["Output"]),
            string(&c["ServiceID"]),
            string(&c["ServiceName"]),
            strings_of(&c["ServiceTags"], &STRING_LIST),
            string(&c["Type"]),
            string(&c["Namespace"]),
            string(&c["Partition"]),
            int(&c["ExposedPort"]),
            string(&c["PeerName"]),
            uint(&c["CreateIndex"]),
            uint(&c["ModifyIndex"]),
        ],
    )
}

fn health_service(s: &Json) -> Go {
    let tagged: BTreeMap<Key, Go> = s["ServiceTaggedAddresses"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, a)| {
                    (
                        Key::from(k.as_str()),
                        record(
                            &SERVICE_ADDRESS,
                            vec![string(&a["Address"]), int(&a["Port"])],
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let weights = &s["Weights"];
    record(
        &HEALTH_SERVICE,
        vec![
            string(&s["Node"]),
            string(&s["NodeID"]),
            string(&s["NodeAddress"]),
            string_map(&s["NodeTaggedAddresses"]),
            string_map(&s["NodeMeta"]),
            string_map(&s["ServiceMeta"]),
            string(&s["Address"]),
            Go::Map(Arc::new(Map::typed(tagged, &SERVICE_ADDRESSES))),
            string(&s["ID"]),
            string(&s["Name"]),
            strings_of(&s["Tags"], &SERVICE_TAGS),
            list(each(&s["Checks"], health_check), &HEALTH_CHECKS),
            string(&s["Status"]),
            int(&s["Port"]),
            record(
                &AGENT_WEIGHTS,
                vec![int(&weights["Passing"]), int(&weights["Warning"])],
            ),
        ],
    )
}

fn node(n: &Json) -> Go {
    record(
        &NODE,
        vec![
            string(&n["ID"]),
            string(&n["Node"]),
            string(&n["Address"]),
            string(&n["Datacenter"]),
            string_map(&n["TaggedAddresses"]),
            string_map(&n["Meta"]),
        ],
    )
}

fn node_service(s: &Json) -> Go {
    record(
        &CATALOG_NODE_SERVICE,
        vec![
            string(&s["ID"]),
            string(&s["Service"]),
            strings_of(&s["Tags"], &SERVICE_TAGS),
            string_map(&s["Meta"]),
            int(&s["Port"]),
            string(&s["Address"]),
            boolean(&s["EnableTagOverride"]),
        ],
    )
}

fn key_pair(p: &Json) -> Go {
    record(
        &KEY_PAIR,
        vec![
            string(&p["Path"]),
            string(&p["Key"]),
            string(&p["Value"]),
            Go::Bool(true),
            uint(&p["CreateIndex"]),
            uint(&p["ModifyIndex"]),
            uint(&p["LockIndex"]),
            uint(&p["Flags"]),
            string(&p["Session"]),
        ],
    )
}

/// `*dependency.Partition`: what `partitions` lists.
pub static PARTITION: Type = Type {
    name: "*dependency.Partition",
    fields: &["Name", "Description"],
    elem: Zero::Interface,
    methods: &[],
};
static PARTITIONS: Type = Type::named("[]*dependency.Partition", Zero::Pointer);

/// `*dependency.Peering`: what `peerings` lists.
pub static PEERING: Type = Type {
    name: "*dependency.Peering",
    fields: &[
        "ID",
        "Name",
        "Partition",
        "Meta",
        "PeeringState",
        "PeerID",
        "PeerServerName",
        "PeerServerAddresses",
        "StreamStatus",
        "Remote",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static PEERINGS: Type = Type::named("[]*dependency.Peering", Zero::Pointer);

/// `dependency.PeeringStreamStatus`.
static PEERING_STREAM_STATUS: Type = Type {
    name: "dependency.PeeringStreamStatus",
    fields: &[
        "ImportedServices",
        "ExportedServices",
        "LastHeartbeat",
        "LastReceive",
        "LastSend",
    ],
    elem: Zero::Interface,
    methods: &[],
};

/// `dependency.PeeringRemoteInfo`.
static PEERING_REMOTE_INFO: Type = Type {
    name: "dependency.PeeringRemoteInfo",
    fields: &["Partition", "Datacenter"],
    elem: Zero::Interface,
    methods: &[],
};

/// `dependency.ExportedService`: what `exportedServices` lists (values, not pointers).
pub static EXPORTED_SERVICE: Type = Type {
    name: "dependency.ExportedService",
    fields: &["Service", "Partition", "Namespace", "Consumers"],
    elem: Zero::Interface,
    methods: &[],
};
static EXPORTED_SERVICES: Type = Type::named("[]dependency.ExportedService", Zero::Interface);

/// `dependency.ResolvedConsumers`.
static RESOLVED_CONSUMERS: Type = Type {
    name: "dependency.ResolvedConsumers",
    fields: &["Peers", "Partitions"],
    elem: Zero::Interface,
    methods: &[],
};

/// `dependency.ImportedService`: what `importedServices` lists (values, not pointers).
pub static IMPORTED_SERVICE: Type = Type {
    name: "dependency.ImportedService",
    fields: &["Service", "Namespace", "SourcePartition"],
    elem: Zero::Interface,
    methods: &[],
};
static IMPORTED_SERVICES: Type = Type::named("[]dependency.ImportedService", Zero::Interface);

/// A `*time.Time` read from Consul's RFC 3339 text: fmt prints it as Go's
/// `Time.String` does (`2024-01-02 03:04:05.5 +0000 UTC`).
#[derive(Debug)]
struct GoTime(String);

impl gotemplate::Object for GoTime {
    fn type_name(&self) -> &str {
        "*time.Time"
    }

    fn call(&self, name: &str, _args: &[Go]) -> Option<Result<Go, String>> {
        (name == "String").then(|| Ok(Go::from(self.0.as_str())))
    }

    fn print(&self) -> String {
        self.0.clone()
    }
}

/// Go's `Time.String` of an RFC 3339 time (`None` if it is not one).
fn go_time_string(rfc3339: &str) -> Option<String> {
    let (date, rest) = rfc3339.split_once('T')?;
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    if date.len() != 10 || hms.len() != 8 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{}", &frac[..frac.len().min(9)])
    };
    let zone = match zone {
        "Z" | "z" => "+0000 UTC".to_string(),
        z if z.len() == 6 && z.as_bytes()[3] == b':' => {
            let off = format!("{}{}", &z[..3], &z[4..]);
            // Go names a parsed offset after the local zone when it has
            // that offset; a server's zone is UTC.
            if off == "+0000" || off == "-0000" {
                "+0000 UTC".to_string()
            } else {
                format!("{off} {off}")
            }
        }
        _ => return None,
    };
    Some(format!("{date} {hms}{frac} {zone}"))
}

fn time_ptr(v: &Json) -> Go {
    match v.as_str().and_then(go_time_string) {
        Some(t) => Go::Object(Arc::new(GoTime(t))),
        None => Go::Nil,
    }
}

fn peering(p: &Json) -> Go {
    let ss = &p["StreamStatus"];
    record(
        &PEERING,
        vec![
            string(&p["ID"]),
            string(&p["Name"]),
            string(&p["Partition"]),
            string_map(&p["Meta"]),
            string(&p["PeeringState"]),
            string(&p["PeerID"]),
            string(&p["PeerServerName"]),
            strings_of(&p["PeerServerAddresses"], &STRING_LIST),
            record(
                &PEERING_STREAM_STATUS,
                vec![
                    strings_of(&ss["ImportedServices"], &STRING_LIST),
                    strings_of(&ss["ExportedServices"], &STRING_LIST),
                    time_ptr(&ss["LastHeartbeat"]),
                    time_ptr(&ss["LastReceive"]),
                    time_ptr(&ss["LastSend"]),
                ],
            ),
            record(
                &PEERING_REMOTE_INFO,
                vec![
                    string(&p["Remote"]["Partition"]),
                    string(&p["Remote"]["Datacenter"]),
                ],
            ),
        ],
    )
}

fn admin_list(kind: AdminKind, data: &Json) -> Go {
    match kind {
        AdminKind::Partitions => list(
            each(data, |p| {
                record(
                    &PARTITION,
                    vec![string(&p["Name"]), string(&p["Description"])],
                )
            }),
            &PARTITIONS,
        ),
        AdminKind::Peerings => list(each(data, peering), &PEERINGS),
        AdminKind::ExportedServices => list(
            each(data, |s| {
                let c = &s["Consumers"];
                record(
                    &EXPORTED_SERVICE,
                    vec![
                        string(&s["Service"]),
                        string(&s["Partition"]),
                        string(&s["Namespace"]),
                        record(
                            &RESOLVED_CONSUMERS,
                            vec![
                                strings_of(&c["Peers"], &STRING_LIST),
                                strings_of(&c["Partitions"], &STRING_LIST),
                            ],
                        ),
                    ],
                )
            }),
            &EXPORTED_SERVICES,
        ),
        AdminKind::ImportedServices => list(
            each(data, |s| {
                record(
                    &IMPORTED_SERVICE,
                    vec![
                        string(&s["Service"]),
                        string(&s["Namespace"]),
                        string(&s["SourcePartition"]),
                    ],
                )
            }),
            &IMPORTED_SERVICES,
        ),
    }
}

/// The Go value of `dep`'s data (the JSON its reply was shaped into).
pub fn convert(dep: &Dep, data: &Json) -> Go {
    match dep {
        Dep::Service { .. } => list(each(data, health_service), &HEALTH_SERVICES),
        Dep::Services { .. } => list(
            each(data, |s| {
                record(
                    &CATALOG_SNIPPET,
                    vec![string(&s["Name"]), strings_of(&s["Tags"], &SERVICE_TAGS)],
                )
            }),
            &CATALOG_SNIPPETS,
        ),
        Dep::Nodes { .. } => list(each(data, node), &NODES),
        Dep::Node { .. } if data.is_null() => Go::Nil,
        Dep::Node { .. } => record(
            &CATALOG_NODE,
            vec![
                node(&data["Node"]),
                list(
                    each(&data["Services"], node_service),
                    &CATALOG_NODE_SERVICES,
                ),
            ],
        ),
        Dep::Key { .. } | Dep::File { .. } => string(data),
        Dep::KeyGet { .. } if data.is_null() => Go::Nil,
        Dep::KeyGet { .. } => string(data),
        Dep::Ls { .. } | Dep::Tree { .. } => list(each(data, key_pair), &KEY_PAIRS),
        Dep::Keys { .. } | Dep::Datacenters { .. } => strings_of(data, &STRING_LIST),
        Dep::Checks { .. } => list(each(data, health_check), &HEALTH_CHECKS),
        Dep::Admin { kind, .. } => admin_list(*kind, data),
    }
}

/// An empty list of the type `dep` gives: what a function returns while
/// its data has not arrived (consul-template's placeholders).
pub fn placeholder(dep: &Dep) -> Go {
    match dep {
        Dep::Service { .. } => list(Vec::new(), &HEALTH_SERVICES),
        Dep::Services { .. } => list(Vec::new(), &CATALOG_SNIPPETS),
        Dep::Nodes { .. } => list(Vec::new(), &NODES),
        Dep::Node { .. } | Dep::KeyGet { .. } => Go::Nil,
        Dep::Key { .. } | Dep::File { .. } => Go::from(""),
        Dep::Ls { .. } | Dep::Tree { .. } => list(Vec::new(), &KEY_PAIRS),
        Dep::Keys { .. } | Dep::Datacenters { .. } => list(Vec::new(), &STRING_LIST),
        Dep::Checks { .. } => list(Vec::new(), &HEALTH_CHECKS),
        Dep::Admin { kind, .. } => admin_list(*kind, &Json::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_prints_a_time() {
        assert_eq!(
            go_time_string("2024-01-02T03:04:05.500Z").as_deref(),
            Some("2024-01-02 03:04:05.5 +0000 UTC")
        );
        assert_eq!(
            go_time_string("2024-01-02T03:04:05+02:00").as_deref(),
            Some("2024-01-02 03:04:05 +0200 +0200")
        );
        assert_eq!(go_time_string("yesterday"), None);
        assert!(time_ptr(&Json::Null).is_nil());
    }
}
