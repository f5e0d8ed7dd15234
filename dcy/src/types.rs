//! The JSON records Consul sends, from the shared wire model
//! ([`consul_wire`]), decoded leniently: missing fields take their defaults,
//! `null` lists and maps read as empty and unknown fields are ignored, so the
//! same types work across Consul versions and against devagent.
//!
//! These are re-exports: a field added to `consul_wire` is added here, in
//! devagent and in templater at once.

pub use consul_wire::{
    aggregated_status, AgentService, CatalogNode, CatalogService, HealthCheck, KvPair, Meta, Node,
    ServiceEntry, SessionEntry, Status, TaggedAddress, Weights,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_nulls_and_missing_fields() {
        let e: ServiceEntry = serde_json::from_str(
            r#"{"Node":{"Node":"n","Address":"10.0.0.1","Meta":null},"Service":{"ID":"w","Service":"web","Tags":null,"Port":80},"Checks":null}"#,
        )
        .unwrap();
        assert_eq!(e.address(), "10.0.0.1");
        assert_eq!(e.service.weights, Weights::default());
        assert_eq!(e.aggregated_status(), Status::Passing);
        let kv: Vec<KvPair> = serde_json::from_str(
            r#"[{"Key":"a","Value":"aGk=","Flags":3},{"Key":"b","Value":null}]"#,
        )
        .unwrap();
        assert_eq!(&kv[0].value[..], b"hi");
        assert!(kv[1].value.is_empty());
        assert!(serde_json::from_str::<KvPair>(r#"{"Key":"a","Value":"%%%"}"#).is_err());
    }
}
