//! Network coordinates: what `/v1/coordinate/update` sends, by node and
//! segment, as `/v1/coordinate/nodes` and `/v1/coordinate/node/:node` show it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Extra;
use crate::state::Store;

/// Nodes whose coordinates are kept.
pub(crate) const MAX_COORDS: usize = 10_000;

/// Coordinates by (node, segment).
#[derive(Debug, Default)]
pub(crate) struct Coords {
    pub(crate) map: BTreeMap<(String, String), Value>,
    pub(crate) index: u64,
}

/// The coordinate a node starts with (Vivaldi's origin).
pub(crate) fn origin() -> Value {
    json!({"Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5})
}

/// Checks a `Coord`: an 8-dimension `Vec` and finite numbers.
pub(crate) fn valid(coord: &Value) -> Result<(), String> {
    let vec = coord
        .get("Vec")
        .and_then(Value::as_array)
        .ok_or("Coord.Vec is required")?;
    if vec.len() != 8 {
        return Err(format!(
            "Coord.Vec has {} dimensions; Consul's coordinates have 8",
            vec.len()
        ));
    }
    for v in vec {
        if !v.as_f64().is_some_and(f64::is_finite) {
            return Err("Coord.Vec holds numbers only".into());
        }
    }
    for k in ["Error", "Adjustment", "Height"] {
        if let Some(v) = coord.get(k) {
            if !v.as_f64().is_some_and(f64::is_finite) {
                return Err(format!("Coord.{k} must be a number"));
            }
        }
    }
    Ok(())
}

impl Extra {
    /// Stores a node's coordinate.
    pub(crate) fn coord_update(
        &self,
        store: &Store,
        node: &str,
        segment: &str,
        coord: Value,
    ) -> Result<(), String> {
        valid(&coord)?;
        let mut t = self.lock();
        let key = (node.to_string(), segment.to_string());
        if !t.coords.map.contains_key(&key) && t.coords.map.len() >= MAX_COORDS {
            return Err(format!("{MAX_COORDS} coordinates are kept already"));
        }
        t.coords.map.insert(key, coord);
        t.coords.index = Extra::next_index(store);
        drop(t);
        self.notify();
        Ok(())
    }

    /// The coordinates of the catalog's nodes: those sent, and the agent's
    /// own (the origin until one is sent). `only`: one node.
    pub(crate) fn coord_nodes(
        &self,
        store: &Store,
        only: Option<&str>,
        own: &str,
    ) -> (u64, Vec<Value>) {
        let nodes: Vec<(String, u64)> = {
            let inner = store.lock();
            inner
                .nodes
                .values()
                .filter(|n| only.is_none_or(|o| o == n.node))
                .map(|n| (n.node.clone(), n.modify_index))
                .collect()
        };
        let t = self.lock();
        let mut out = Vec::new();
        for (node, node_index) in nodes {
            let mut any = false;
            for ((n, seg), c) in t.coords.map.range((node.clone(), String::new())..) {
                if *n != node {
                    break;
                }
                any = true;
                out.push(
                    json!({"Node": n, "Segment": seg, "Partition": "", "Coord": c,
                                "CreateIndex": t.coords.index, "ModifyIndex": t.coords.index}),
                );
            }
            if !any && node == own {
                out.push(
                    json!({"Node": node, "Segment": "", "Partition": "", "Coord": origin(),
                                "CreateIndex": node_index, "ModifyIndex": node_index}),
                );
            }
        }
        let index = t.coords.index.max(store.lock().tables.nodes);
        (index, out)
    }
}
