//! Sample entries of each filterable endpoint, used to validate the
//! selectors of `?filter=` before a query runs. A map with user keys shows up
//! as an object holding the key `"*"`, which accepts any selector below it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::types::{
    AgentServiceOut, Check, CheckOut, CheckSpec, HealthEntry, HealthEntryOut, Node, NodeServiceOut,
    Service, ServiceAddress, ServiceNodeOut, Status, Weights,
};

/// One sample per entry type.
#[derive(Debug)]
pub(crate) struct Shapes {
    pub(crate) health_entry: Value,
    pub(crate) check: Value,
    pub(crate) service_node: Value,
    pub(crate) node: Value,
    pub(crate) node_service: Value,
    pub(crate) agent_service: Value,
}

fn any_map() -> BTreeMap<String, String> {
    BTreeMap::from([("*".to_string(), String::new())])
}

impl Shapes {
    pub(crate) fn new() -> Shapes {
        let node = Node {
            id: String::new(),
            node: String::new(),
            address: String::new(),
            datacenter: String::new(),
            tagged_addresses: any_map(),
            meta: any_map(),
            create_index: 0,
            modify_index: 0,
        };
        let service = Service {
            node: String::new(),
            kind: "x".into(),
            id: String::new(),
            name: String::new(),
            tags: vec![String::new()],
            address: String::new(),
            tagged_addresses: BTreeMap::from([(
                "*".to_string(),
                ServiceAddress {
                    address: String::new(),
                    port: 0,
                },
            )]),
            meta: any_map(),
            port: 0,
            socket_path: "x".into(),
            weights: Weights::default(),
            enable_tag_override: false,
            mesh: Default::default(),
            create_index: 0,
            modify_index: 0,
        };
        let check = Check {
            node: String::new(),
            check_id: String::new(),
            name: String::new(),
            status: Status::Passing,
            notes: String::new(),
            output: String::new(),
            service_id: String::new(),
            service_name: String::new(),
            service_tags: vec![String::new()],
            kind: String::new(),
            spec: CheckSpec::default(),
            create_index: 0,
            modify_index: 0,
        };
        let entry = HealthEntry {
            node: Arc::new(node.clone()),
            service: Arc::new(service.clone()),
            checks: vec![Arc::new(check.clone())],
        };
        let value = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
        let mut node_value = value(serde_json::to_value(&node));
        if let Value::Object(m) = &mut node_value {
            m.insert("Datacenter".into(), Value::String(String::new()));
        }
        Shapes {
            health_entry: value(serde_json::to_value(HealthEntryOut::from(&entry))),
            check: value(serde_json::to_value(CheckOut::from(&check))),
            service_node: value(serde_json::to_value(ServiceNodeOut::new(&node, &service))),
            node: node_value,
            node_service: value(serde_json::to_value(NodeServiceOut::from(&service))),
            agent_service: value(serde_json::to_value(AgentServiceOut::new(
                &service, "", None,
            ))),
        }
    }
}
