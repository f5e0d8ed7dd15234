//! The agent forms of the registration bodies: statuses and weights as
//! sent, Go-compatible leniency (one-string headers, nulls, nanoseconds),
//! and serialization unchanged for the typed client forms.

use std::time::Duration;

use consul_wire::gojson::from_slice;
use consul_wire::{
    CatalogRegistrationOf, CheckRegistration, CheckRegistrationOf, HealthCheckDefinition,
    RawWeights, ServiceRegistration, ServiceRegistrationOf, Status, Weights,
};

type AgentBody = ServiceRegistrationOf<String, RawWeights>;

#[test]
fn statuses_and_weights_arrive_as_sent() {
    let body: AgentBody = from_slice(
        br#"{"Name":"web","Weights":{"Passing":-1},
             "Check":{"TTL":"5s","Status":"ok"},"Checks":[{"TTL":"5s"}]}"#,
    )
    .unwrap();
    let w = body.weights.unwrap();
    assert_eq!((w.passing, w.warning), (Some(-1), None));
    assert_eq!(body.check.unwrap().status.as_deref(), Some("ok"));
    assert_eq!(body.checks[0].status, None);
}

#[test]
fn check_fields_an_agent_reads() {
    let c: CheckRegistrationOf<String> = from_slice(
        br#"{"id":"c1","name":"c","tcp":"h:1","tcp_use_tls":true,"os_service":"svc",
             "header":{"X-One":"a","X-Many":["b","c"]},"shell":null,"grpc_use_tls":null,
             "interval":1000000000,"timeout":"","output_max_size":5000000000}"#,
    )
    .unwrap();
    assert_eq!((c.id.as_str(), c.os_service.as_str()), ("c1", "svc"));
    assert!(c.tcp_use_tls && !c.grpc_use_tls && c.shell.is_empty());
    assert_eq!(c.header["X-One"], vec!["a".to_string()]);
    assert_eq!(c.header["X-Many"].len(), 2);
    assert_eq!(c.interval, Some(Duration::from_secs(1)));
    assert_eq!(c.timeout, None);
    assert_eq!(c.output_max_size, 5_000_000_000);
}

#[test]
fn bad_durations_say_what_to_send() {
    for (body, want) in [
        (
            r#"{"TTL":-1}"#,
            "invalid duration -1: must be a non-negative number of nanoseconds",
        ),
        (
            r#"{"TTL":1.5}"#,
            "invalid duration 1.5: must be a non-negative number of nanoseconds",
        ),
        (
            r#"{"TTL":true}"#,
            "invalid duration true: use a string such as \"10s\"",
        ),
        (
            r#"{"TTL":[1]}"#,
            "invalid duration [1]: use a string such as \"10s\"",
        ),
    ] {
        let err = from_slice::<CheckRegistration>(body.as_bytes()).unwrap_err();
        assert_eq!(err.path(), "TTL", "{body}");
        assert!(err.message().starts_with(want), "{body}: {err}");
    }
    let err = from_slice::<CheckRegistration>(br#"{"TTL":"ten"}"#).unwrap_err();
    assert!(err.to_string().contains("invalid duration"), "{err}");
}

#[test]
fn a_catalog_registration_carries_its_check_definition() {
    let reg: CatalogRegistrationOf<String, RawWeights> = from_slice(
        br#"{"Node":"n1","Address":"10.0.0.1",
             "Service":{"Service":"web","Weights":null,"CreateIndex":3},
             "Checks":[{"CheckID":"c","Status":"bogus","Interval":null,
                        "Definition":{"HTTP":"http://x/","IntervalDuration":2000000000,
                                      "Header":{"A":"b"}}}]}"#,
    )
    .unwrap();
    let svc = reg.service.unwrap();
    assert_eq!(svc.weights, RawWeights::default());
    let c = &reg.checks[0];
    assert_eq!(c.status, "bogus");
    let d = c.definition.as_ref().unwrap();
    assert_eq!(d.interval_duration, Some(Duration::from_secs(2)));
    assert_eq!(d.header["A"], vec!["b".to_string()]);
}

#[test]
fn a_definition_prints_only_what_is_set() {
    let d = HealthCheckDefinition {
        http: "http://x/".into(),
        interval: Some(Duration::from_secs(10)),
        ..HealthCheckDefinition::default()
    };
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"HTTP":"http://x/","Interval":"10s"}"#
    );
    assert_eq!(
        serde_json::to_string(&HealthCheckDefinition::default()).unwrap(),
        "{}"
    );
}

#[test]
fn typed_client_bodies_serialize_as_before() {
    let reg = ServiceRegistration {
        name: "web".into(),
        port: 80,
        weights: Some(Weights {
            passing: 3,
            warning: 1,
        }),
        check: Some(CheckRegistration {
            ttl: Some(Duration::from_secs(10)),
            status: Some(Status::Passing),
            ..CheckRegistration::default()
        }),
        ..ServiceRegistration::default()
    };
    assert_eq!(
        serde_json::to_string(&reg).unwrap(),
        r#"{"Name":"web","Tags":[],"Port":80,"Meta":{},"Weights":{"Passing":3,"Warning":1},"Check":{"Status":"passing","TTL":"10s"},"Checks":[]}"#
    );
    let raw = RawWeights::from(Weights::default());
    assert_eq!(
        serde_json::to_string(&raw).unwrap(),
        r#"{"Passing":1,"Warning":1}"#
    );
}
