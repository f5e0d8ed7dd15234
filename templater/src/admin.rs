//! Admin partitions and cluster peering: the dependencies behind
//! consul-template's `partitions`, `peerings "[?partition=..]"`,
//! `exportedServices ["partition"]` and `importedServices "partition"`.
//!
//! | function | endpoint | how it waits |
//! |---|---|---|
//! | `partitions` | `/v1/partitions` (Enterprise) | not a blocking endpoint: re-read every 15 s, as consul-template |
//! | `peerings` | `/v1/peerings` | blocking query |
//! | `exportedServices` | `/v1/exported-services` (Consul 1.17+) | blocking query |
//! | `importedServices` | `/v1/imported-services` | blocking query |
//!
//! A Consul that does not serve the endpoint answers 404 `Invalid URL path`
//! (Consul CE for `/v1/partitions`; older versions for the others). That is
//! not an outage to retry: the answer is kept as a failure that the
//! template function turns into an error naming the function and why, so a
//! render fails at once instead of waiting forever. The endpoint is asked
//! again every minute, in case Consul is upgraded.
//!
//! The data has consul-template's shapes (`dependency.Partition`,
//! `dependency.Peering`, `dependency.ExportedService`,
//! `dependency.ImportedService`), sorted as it sorts them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dcy::watch::FetchFn;
use serde_json::{json, Value};

/// How often `partitions` re-reads its endpoint (consul-template's
/// `DefaultNonBlockingQuerySleepTime`).
pub const PARTITIONS_POLL: Duration = Duration::from_secs(15);

/// How long to wait before asking again an endpoint this Consul does not serve.
const UNSUPPORTED_RETRY: Duration = Duration::from_secs(60);

/// The field that marks an answer as "this Consul does not serve it".
const UNSUPPORTED: &str = "templater: unsupported";

/// Which of the four lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `partitions`.
    Partitions,
    /// `peerings`.
    Peerings,
    /// `exportedServices`.
    ExportedServices,
    /// `importedServices`.
    ImportedServices,
}

impl Kind {
    /// The template function's name.
    pub fn function(self) -> &'static str {
        match self {
            Kind::Partitions => "partitions",
            Kind::Peerings => "peerings",
            Kind::ExportedServices => "exportedServices",
            Kind::ImportedServices => "importedServices",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Partitions => "/v1/partitions",
            Kind::Peerings => "/v1/peerings",
            Kind::ExportedServices => "/v1/exported-services",
            Kind::ImportedServices => "/v1/imported-services",
        }
    }

    /// Why a Consul would not serve the endpoint.
    fn why(self) -> &'static str {
        match self {
            Kind::Partitions => {
                "admin partitions are a Consul Enterprise feature: point templater at \
                 Consul Enterprise or remove `partitions` from the template"
            }
            Kind::Peerings => "cluster peering needs Consul 1.13 or newer",
            Kind::ExportedServices => "the exported-services endpoint needs Consul 1.17 or newer",
            Kind::ImportedServices => {
                "this Consul version has no imported-services endpoint: upgrade Consul"
            }
        }
    }

    /// consul-template's spelling of the dependency.
    pub fn key(self, partition: &str) -> String {
        match self {
            Kind::Partitions => "list.partitions".into(),
            Kind::Peerings if partition.is_empty() => "list.peerings".into(),
            Kind::Peerings => format!("list.peerings?partition={partition}"),
            // consul-template calls every partition's exported services
            // `list.exportedServices`, so two partitions would share one
            // watch; the partition is part of the identity here.
            Kind::ExportedServices if partition.is_empty() => "list.exportedServices".into(),
            Kind::ExportedServices => format!("list.exportedServices({partition})"),
            Kind::ImportedServices => format!("list.importedServices({partition})"),
        }
    }
}

/// The failure kept for a Consul that does not serve the endpoint, if `data` is one.
pub fn unsupported(data: &Value) -> Option<&str> {
    data.get(UNSUPPORTED).and_then(Value::as_str)
}

/// The fetch of `kind` for `partition` (empty: the token's or `default`).
pub fn fetch(kind: Kind, partition: &str, client: &dcy::Client, stale: bool) -> FetchFn<Value> {
    let client = client.clone();
    let params: Vec<(String, String)> = if partition.is_empty() {
        Vec::new()
    } else {
        vec![("partition".to_string(), partition.to_string())]
    };
    let failed = Arc::new(AtomicBool::new(false));
    Arc::new(move |index| {
        let (client, params, failed) = (client.clone(), params.clone(), Arc::clone(&failed));
        Box::pin(async move {
            if index > 0 && failed.load(Ordering::Relaxed) {
                tokio::time::sleep(UNSUPPORTED_RETRY).await;
            } else if kind == Kind::Partitions && index > 0 {
                // Not a blocking endpoint: consul-template re-reads it every 15 s.
                tokio::time::sleep(PARTITIONS_POLL).await;
            }
            let mut q = if kind == Kind::Partitions {
                dcy::QueryOptions::default()
            } else {
                dcy::QueryOptions::blocking(index, client.config().watch_wait)
            };
            if stale {
                q.consistency = dcy::Consistency::Stale;
            }
            match client.get_json(kind.path(), &params, &q).await {
                Ok((v, meta)) => {
                    failed.store(false, Ordering::Relaxed);
                    let next = if kind == Kind::Partitions {
                        index + 1
                    } else {
                        meta.last_index
                    };
                    Ok((v, next))
                }
                Err(e) if e.is_not_found() => {
                    failed.store(true, Ordering::Relaxed);
                    let msg = format!(
                        "{}: this Consul does not serve {} ({e}): {}",
                        kind.function(),
                        kind.path(),
                        kind.why()
                    );
                    Ok((json!({ UNSUPPORTED: msg }), index.max(1)))
                }
                Err(e) => Err(e),
            }
        })
    })
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn strings(v: &Value) -> Value {
    Value::Array(arr(v).iter().filter(|s| s.is_string()).cloned().collect())
}

fn string_map(v: &Value) -> Value {
    match v.as_object() {
        Some(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| v.is_string())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => json!({}),
    }
}

fn peering(p: &Value) -> Value {
    let ss = &p["StreamStatus"];
    json!({
        "ID": text(&p["ID"]), "Name": text(&p["Name"]), "Partition": text(&p["Partition"]),
        "Meta": string_map(&p["Meta"]), "PeeringState": text(&p["State"]),
        "PeerID": text(&p["PeerID"]), "PeerServerName": text(&p["PeerServerName"]),
        "PeerServerAddresses": strings(&p["PeerServerAddresses"]),
        "StreamStatus": {
            "ImportedServices": strings(&ss["ImportedServices"]),
            "ExportedServices": strings(&ss["ExportedServices"]),
            "LastHeartbeat": ss["LastHeartbeat"].as_str(),
            "LastReceive": ss["LastReceive"].as_str(),
            "LastSend": ss["LastSend"].as_str(),
        },
        "Remote": {
            "Partition": text(&p["Remote"]["Partition"]),
            "Datacenter": text(&p["Remote"]["Datacenter"]),
        },
    })
}

/// consul-template's data for `kind` from Consul's answer `raw`.
pub fn transform(kind: Kind, raw: &Value) -> Value {
    if unsupported(raw).is_some() {
        return raw.clone();
    }
    let mut out: Vec<Value> = match kind {
        Kind::Partitions => arr(raw)
            .iter()
            .filter(|p| p.is_object())
            .map(|p| json!({"Name": text(&p["Name"]), "Description": text(&p["Description"])}))
            .collect(),
        Kind::Peerings => arr(raw).iter().map(peering).collect(),
        Kind::ExportedServices => arr(raw)
            .iter()
            .map(|s| {
                json!({
                    "Service": text(&s["Service"]), "Partition": text(&s["Partition"]),
                    "Namespace": text(&s["Namespace"]),
                    "Consumers": {
                        "Peers": strings(&s["Consumers"]["Peers"]),
                        "Partitions": strings(&s["Consumers"]["Partitions"]),
                    },
                })
            })
            .collect(),
        Kind::ImportedServices => {
            // Consul CE answers a list; Enterprise wraps it in
            // `{"Partition": .., "ImportedServices": [..]}`.
            let list = if raw.is_object() {
                &raw["ImportedServices"]
            } else {
                raw
            };
            arr(list)
                .iter()
                .map(|s| {
                    json!({
                        "Service": text(&s["Service"]), "Namespace": text(&s["Namespace"]),
                        "SourcePartition": text(&s["SourcePartition"]),
                    })
                })
                .collect()
        }
    };
    // Stable sorts, as consul-template's.
    match kind {
        Kind::Partitions => out.sort_by(|a, b| text(&a["Name"]).cmp(text(&b["Name"]))),
        Kind::Peerings => out.sort_by(|a, b| {
            let k = |p: &Value| {
                (
                    text(&p["PeeringState"]).to_string(),
                    text(&p["Partition"]).to_string(),
                    text(&p["Name"]).to_string(),
                )
            };
            k(a).cmp(&k(b))
        }),
        Kind::ExportedServices | Kind::ImportedServices => {
            out.sort_by(|a, b| text(&a["Service"]).cmp(text(&b["Service"])));
        }
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_orders_of_consul_answers() {
        let peers = json!([
            {"Name": "b", "State": "ACTIVE", "PeerServerAddresses": ["10.0.0.1:8503"],
             "StreamStatus": {"LastHeartbeat": "2024-01-02T03:04:05.5Z"}, "Remote": {"Datacenter": "dc2"}},
            {"Name": "a", "State": "PENDING"},
            {"Name": "c", "State": "ACTIVE", "Meta": {"env": "prod"}},
        ]);
        let out = transform(Kind::Peerings, &peers);
        let names: Vec<&str> = arr(&out).iter().map(|p| text(&p["Name"])).collect();
        assert_eq!(names, ["b", "c", "a"], "by state, partition, name");
        assert_eq!(out[0]["PeeringState"], "ACTIVE");
        assert_eq!(out[0]["Remote"]["Datacenter"], "dc2");
        assert_eq!(
            out[0]["StreamStatus"]["LastHeartbeat"],
            "2024-01-02T03:04:05.5Z"
        );
        assert!(out[1]["StreamStatus"]["LastSend"].is_null());
        assert_eq!(out[2]["Meta"], json!({}));

        let ce = json!([{"Service": "web", "SourcePeer": "east"}, {"Service": "api", "SourcePeer": "west"}]);
        let ent = json!({"Partition": "p", "ImportedServices": [{"Service": "web", "SourcePartition": "q"}]});
        let ce = transform(Kind::ImportedServices, &ce);
        assert_eq!(ce[0]["Service"], "api");
        let ent = transform(Kind::ImportedServices, &ent);
        assert_eq!(ent[0]["SourcePartition"], "q");

        let ex = transform(
            Kind::ExportedServices,
            &json!([{"Service": "web", "Consumers": {"Peers": ["east"]}}, {"Service": "db", "Consumers": {}}]),
        );
        assert_eq!(ex[0]["Service"], "db");
        assert_eq!(ex[0]["Consumers"], json!({"Peers": [], "Partitions": []}));
        assert_eq!(transform(Kind::Partitions, &Value::Null), json!([]));

        let failed = json!({ UNSUPPORTED: "partitions: no" });
        assert_eq!(
            unsupported(&transform(Kind::Partitions, &failed)),
            Some("partitions: no")
        );
        assert_eq!(unsupported(&json!([])), None);
    }

    #[test]
    fn keys_in_consul_templates_spelling() {
        assert_eq!(Kind::Partitions.key(""), "list.partitions");
        assert_eq!(Kind::Peerings.key(""), "list.peerings");
        assert_eq!(Kind::Peerings.key("p"), "list.peerings?partition=p");
        assert_eq!(Kind::ExportedServices.key(""), "list.exportedServices");
        assert_eq!(Kind::ExportedServices.key("p"), "list.exportedServices(p)");
        assert_eq!(Kind::ImportedServices.key("p"), "list.importedServices(p)");
    }

    /// Data a single dev agent cannot have (peers, exports), through the
    /// Go functions: consul-template's structs, field order and printing.
    #[test]
    fn go_templates_see_consul_templates_structs() {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        use crate::funcs::Brain;
        use crate::templates::Templates;

        let brain = Arc::new(Mutex::new(Brain::default()));
        let mut set = Templates::new(Arc::clone(&brain), Arc::new(HashMap::new()));
        let slot = set.slot(0, &[], None);
        let text = "{{ range partitions }}{{ . }} {{ end }}\n\
            {{ range peerings }}{{ .Name }} {{ .PeeringState }} {{ .PeerServerAddresses }} \
            {{ .StreamStatus.LastHeartbeat }} {{ .StreamStatus }} {{ .Remote.Datacenter }}\n{{ end }}\
            {{ exportedServices }} {{ with index exportedServices 1 }}{{ .Consumers.Peers }}{{ end }}\n\
            {{ importedServices \"default\" }}";
        set.compile_go(&slot, "t", text, &gotemplate::Options::default())
            .unwrap();
        let put = |kind: Kind, partition: &str, raw: Value| {
            brain
                .lock()
                .unwrap()
                .insert(kind.key(partition), transform(kind, &raw));
        };
        put(
            Kind::Partitions,
            "",
            json!([{"Name": "web", "Description": "front"}, {"Name": "default", "Description": "x"}]),
        );
        put(
            Kind::Peerings,
            "",
            json!([{"Name": "east", "State": "ACTIVE", "PeerServerAddresses": ["10.1.0.1:8503"],
                    "StreamStatus": {"LastHeartbeat": "2024-01-02T03:04:05.250Z"},
                    "Remote": {"Datacenter": "dc-east"}}]),
        );
        put(
            Kind::ExportedServices,
            "",
            json!([{"Service": "web", "Consumers": {"Peers": ["east", "west"]}},
                   {"Service": "api", "Consumers": {"Partitions": ["p1"]}}]),
        );
        put(
            Kind::ImportedServices,
            "default",
            json!([{"Service": "db", "SourcePeer": "east"}]),
        );
        let (out, scope) = set.render(&slot);
        assert!(scope.missing.is_empty(), "{:?}", scope.missing);
        assert_eq!(
            out.unwrap(),
            "{default x} {web front} \n\
             east ACTIVE [10.1.0.1:8503] 2024-01-02 03:04:05.25 +0000 UTC \
             {[] [] 2024-01-02 03:04:05.25 +0000 UTC <nil> <nil>} dc-east\n\
             [{api   {[] [p1]}} {web   {[east west] []}}] [east west]\n\
             [{db  }]"
        );
    }
}
