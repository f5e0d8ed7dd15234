//! Decoding tests: key canonicalization, strictness, nulls, and fuzzing.

use std::time::Duration;

use super::*;

#[test]
fn accepts_lowercase_and_snake_case_keys() {
    let body = br#"{"name":"web","id":"web1","port":80,"enable_tag_override":true,
        "meta":{"Some_Key":"v"},
        "check":{"http":"http://127.0.0.1/","interval":"10s","deregister_critical_service_after":"90m","args":["x"]}}"#;
    let def: ServiceDefinition = decode(body).unwrap();
    assert_eq!(def.name, "web");
    assert_eq!(def.id, "web1");
    assert!(def.enable_tag_override);
    assert_eq!(def.meta.get("Some_Key").map(String::as_str), Some("v"));
    let check = def.check.unwrap();
    assert_eq!(check.http, "http://127.0.0.1/");
    assert_eq!(check.interval, Some(Duration::from_secs(10)));
    assert_eq!(
        check.deregister_critical_service_after,
        Some(Duration::from_secs(5400))
    );
    assert_eq!(check.script_args, vec!["x".to_string()]);
}

#[test]
fn ignores_unknown_fields_as_consul() {
    let def: ServiceDefinition =
        decode(br#"{"Name":"web","Portt":1,"Port":2,"Check":{"TTL":"1s","Nope":[{}]}}"#).unwrap();
    assert_eq!((def.name.as_str(), def.port), ("web", 2));
    assert!(def.check.is_some());
}

#[test]
fn rejects_wrong_types_and_bad_durations() {
    assert!(decode::<ServiceDefinition>(br#"{"Name":"web","Port":"eighty"}"#).is_err());
    let err = decode::<ServiceDefinition>(br#"{"Name":"web","Check":{"TTL":"ten"}}"#).unwrap_err();
    assert!(err.contains("invalid duration"), "{err}");
}

#[test]
fn nulls_decode_as_empty() {
    let def: ServiceDefinition =
        decode(br#"{"Name":"web","Tags":null,"Meta":null,"Checks":null,"Check":null}"#).unwrap();
    assert!(def.tags.is_empty() && def.meta.is_empty() && def.check.is_none());
}

#[test]
fn hostile_nesting_is_refused() {
    let deep = format!(
        r#"{{"Name":"web","Proxy":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let err = decode::<ServiceDefinition>(deep.as_bytes()).unwrap_err();
    assert!(err.contains("nesting deeper than 32"), "{err}");
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = decode::<ServiceDefinition>(&bytes);
        let _ = decode::<CatalogRegister>(&bytes);
        let _ = decode::<SessionCreate>(&bytes);
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(s in r#"\{("[A-Za-z_]{1,12}":("[a-z0-9]{0,5}"|[0-9]{1,5}|null|true|\[\]|\{\}),?){0,6}\}"#) {
        let _ = decode::<ServiceDefinition>(s.as_bytes());
        let _ = decode::<CatalogRegister>(s.as_bytes());
    }
}
