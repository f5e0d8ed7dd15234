//! gojson: case, snake_case, aliases, unknown fields, depth and error paths.

use std::time::Duration;

use super::*;
use crate::{CatalogRegistration, ServiceRegistration};

#[test]
fn keys_match_case_insensitively_and_in_snake_case() {
    let reg: ServiceRegistration = from_slice(
        br#"{"name":"web","ID":"web1","PORT":80,"enable_tag_override":true,
            "tagged_addresses":{"lan":{"address":"10.0.0.1","port":81}},
            "meta":{"Some_Key":"v"},
            "check":{"http":"http://127.0.0.1/","interval":"10s",
                     "deregister_critical_service_after":"90m","args":["x"]}}"#,
    )
    .unwrap();
    assert_eq!(
        (reg.name.as_str(), reg.id.as_str(), reg.port),
        ("web", "web1", 80)
    );
    assert!(reg.enable_tag_override);
    assert_eq!(reg.tagged_addresses["lan"].address, "10.0.0.1");
    assert_eq!(reg.tagged_addresses["lan"].port, 81);
    // Map keys are data: left as sent.
    assert_eq!(reg.meta.get("Some_Key").map(String::as_str), Some("v"));
    let check = reg.check.unwrap();
    assert_eq!(check.http, "http://127.0.0.1/");
    assert_eq!(check.interval, Some(Duration::from_secs(10)));
    assert_eq!(
        check.deregister_critical_service_after,
        Some(Duration::from_secs(5400))
    );
    assert_eq!(check.script_args, vec!["x".to_string()]);
}

#[test]
fn unknown_fields_are_ignored_or_rejected_by_name() {
    let body = br#"{"Name":"web","Colour":"red","Check":{"TTL":"5s","Shade":1}}"#;
    let reg: ServiceRegistration = from_slice(body).unwrap();
    assert_eq!(reg.name, "web");
    let err = from_slice_with::<ServiceRegistration>(body, &Options::strict()).unwrap_err();
    assert!(err.to_string().contains("Colour"), "{err}");
    let err = from_slice_with::<ServiceRegistration>(
        br#"{"Name":"web","Check":{"TTL":"5s","Shade":1}}"#,
        &Options::strict(),
    )
    .unwrap_err();
    assert_eq!(err.path(), "Check");
    assert!(err.message().contains("Shade"), "{err}");
}

#[test]
fn errors_name_the_field() {
    let err = from_slice::<ServiceRegistration>(
        br#"{"Name":"web","Checks":[{"TTL":"5s"},{"TTL":"ten"}]}"#,
    )
    .unwrap_err();
    assert_eq!(err.path(), "Checks[1].TTL");
    assert!(err.to_string().contains("invalid duration"), "{err}");
    let err = from_slice::<ServiceRegistration>(br#"{"Name":"x","Port":"eighty"}"#).unwrap_err();
    assert_eq!(err.path(), "Port");
    let err = from_slice::<ServiceRegistration>(
        br#"{"Name":"x","TaggedAddresses":{"wan":{"Port":"x"}}}"#,
    )
    .unwrap_err();
    assert_eq!(err.path(), "TaggedAddresses.wan.Port");
    assert!(from_slice::<ServiceRegistration>(b"{not json").is_err());
    assert!(from_slice::<ServiceRegistration>(br#"{"Name":"x"} trailing"#).is_err());
}

#[test]
fn nesting_is_bounded_everywhere() {
    fn nested(depth: usize) -> String {
        format!(
            r#"{{"Name":"web","Proxy":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }
    // The top level is 1, `Proxy` adds the arrays.
    assert!(from_slice::<ServiceRegistration>(nested(31).as_bytes()).is_ok());
    let err = from_slice::<ServiceRegistration>(nested(32).as_bytes()).unwrap_err();
    assert!(err.to_string().contains("nesting deeper than 32"), "{err}");
    // In an unknown (ignored) field too, and far past serde_json's own limit.
    let deep = format!(
        r#"{{"Name":"web","Junk":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(from_slice::<ServiceRegistration>(deep.as_bytes()).is_err());
    let opts = Options {
        max_depth: 3,
        ..Options::default()
    };
    assert!(from_slice_with::<CatalogRegistration>(br#"{"Service":{"Meta":{}}}"#, &opts).is_ok());
    assert!(
        from_slice_with::<CatalogRegistration>(br#"{"Service":{"Tags":[[]]}}"#, &opts).is_err()
    );
    let v: serde_json::Value = serde_json::from_str("[[[1]]]").unwrap();
    assert!(depth_within(&v, 3) && !depth_within(&v, 2));
}

#[test]
fn nulls_read_as_empty_and_values_round_trip() {
    let reg: ServiceRegistration = from_slice(
        br#"{"Name":"web","Tags":null,"Meta":null,"Checks":null,"Check":null,"Weights":{"Passing":3}}"#,
    )
    .unwrap();
    assert!(reg.tags.is_empty() && reg.meta.is_empty() && reg.check.is_none());
    assert_eq!(reg.weights.map(|w| (w.passing, w.warning)), Some((3, 1)));
    let reg: ServiceRegistration =
        from_value(serde_json::to_value(&reg).unwrap(), &Options::strict()).unwrap();
    assert_eq!(reg.name, "web");
}

#[test]
fn field_matching_prefers_exact_then_case_then_folded() {
    const FIELDS: &[&str] = &["ID", "Id_x", "ServiceID"];
    assert_eq!(match_field("ID", FIELDS), Some("ID"));
    assert_eq!(match_field("id", FIELDS), Some("ID"));
    assert_eq!(match_field("service_id", FIELDS), Some("ServiceID"));
    assert_eq!(match_field("idx", FIELDS), Some("Id_x"));
    assert_eq!(match_field("", FIELDS), None);
    assert_eq!(match_field("_", FIELDS), None);
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = from_slice::<ServiceRegistration>(&bytes);
        let _ = from_slice_with::<CatalogRegistration>(&bytes, &Options::strict());
    }

    #[test]
    fn arbitrary_objects_never_panic(s in r#"\{("[A-Za-z_]{1,12}":("[a-z0-9]{0,5}"|[0-9]{1,5}|null|true|\[\]|\{\}),?){0,6}\}"#) {
        let _ = from_slice::<ServiceRegistration>(s.as_bytes());
        let _ = from_slice_with::<CatalogRegistration>(s.as_bytes(), &Options::strict());
    }
}
