//! The data a Go template sees: consul-template's own structs
//! (`dependency.HealthService`, `dependency.KeyPair`, ...) with their field
//! names, field order and Go types, so that `{{ .Port }}`, `{{ .Tags }}`
//! (`[a b]`) and `{{ printf "%+v" . }}` print what consul-template prints.
//!
//! A dependency's data is converted once per change (the brain caches it),
//! from the consul-template-shaped JSON that [`crate::deps::Dep::transform`]
//! makes for both engines.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{Key, List, Map, Struct, Type, Value as Go, Zero, STRING_LIST, STRING_MAP};
use serde_json::Value as Json;

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
static SERVICE_ADDRESSES: Type = Type::named("map[string]api.ServiceAddress", Zero::Interface);

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

/// The Go value of `dep`'s data (the JSON [`Dep::transform`] made).
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
    }
}
