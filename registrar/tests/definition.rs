//! Parsing and validating Consul service-definition files: JSON and HCL,
//! `service` and `services`, Consul's key spellings, and problems with
//! file and line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use dcy::Status;
use registrar::definition::{parse, Definitions, Severity};

fn json(text: &str) -> Definitions {
    parse(Path::new("/etc/registrar/web.json"), text)
}

fn hcl(text: &str) -> Definitions {
    parse(Path::new("/etc/registrar/web.hcl"), text)
}

/// The errors as `line: message`.
fn errors(d: &Definitions) -> Vec<(usize, String)> {
    d.problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.line, p.message.clone()))
        .collect()
}

#[test]
fn a_json_service_with_consul_spellings() {
    let d = json(
        r#"{
  "service": {
    "Name": "web",
    "ID": "web-1",
    "tags": ["v1", "primary"],
    "Address": "10.0.0.5",
    "port": 8080,
    "meta": {"version": "1.2", "build": 42},
    "enable_tag_override": true,
    "Weights": {"Passing": 10, "warning": 1},
    "check": {
      "CheckID": "web-http",
      "http": "http://10.0.0.5:8080/health",
      "method": "HEAD",
      "header": {"X-Probe": ["1"], "Host": "web"},
      "interval": "10s",
      "timeout": 2000000000,
      "DeregisterCriticalServiceAfter": "90m",
      "TLSSkipVerify": true,
      "status": "warning",
      "notes": "front door"
    },
    "checks": [
      {"name": "alive", "ttl": "30s"},
      {"id": "tcp", "tcp": "10.0.0.5:8080", "interval": "5s"}
    ]
  }
}"#,
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.services.len(), 1);
    assert_eq!(d.services[0].line, 2);
    let r = &d.services[0].registration;
    assert_eq!((r.name.as_str(), r.id.as_str()), ("web", "web-1"));
    assert_eq!(r.tags, ["v1", "primary"]);
    assert_eq!((r.address.as_str(), r.port), ("10.0.0.5", 8080));
    assert_eq!(r.meta["build"], "42");
    assert!(r.enable_tag_override);
    assert_eq!(r.weights.unwrap().passing, 10);
    assert_eq!(r.checks.len(), 3, "check comes before checks");
    let c = &r.checks[0];
    assert_eq!(c.check_id, "web-http");
    assert_eq!(c.method, "HEAD");
    assert_eq!(c.header["Host"], ["web"]);
    assert_eq!(c.timeout, Some(Duration::from_secs(2)));
    assert_eq!(
        c.deregister_critical_service_after,
        Some(Duration::from_secs(5400))
    );
    assert!(c.tls_skip_verify);
    assert_eq!(c.status, Some(Status::Warning));
    assert_eq!(r.checks[1].ttl, Some(Duration::from_secs(30)));
    assert_eq!(r.checks[2].check_id, "tcp");
}

#[test]
fn services_lists_in_json_and_repeated_blocks_in_hcl() {
    let d = json(r#"{"services": [{"name": "a"}, {"name": "b", "id": "b-2", "port": "9000"}]}"#);
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let ids: Vec<_> = d
        .services
        .iter()
        .map(|s| s.registration.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b-2"], "the ID defaults to the name");
    assert_eq!(d.services[1].registration.port, 9000);

    let d = hcl(
        "services {\n  name = \"a\"\n  port = 1\n}\n\nservices {\n  name = \"b\"\n  checks = [\n    { ttl = \"5s\" },\n    { http = \"http://127.0.0.1:2/\", interval = \"1s\" },\n  ]\n  meta {\n    team = \"core\"\n  }\n}\n",
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.services.len(), 2);
    assert_eq!(d.services[1].line, 6);
    let b = &d.services[1].registration;
    assert_eq!(b.checks.len(), 2);
    assert_eq!(b.meta["team"], "core");

    let d = hcl("service {\n  name = \"web\"\n  check {\n    tcp = \"127.0.0.1:80\"\n    interval = \"10s\"\n  }\n}\n");
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.services[0].registration.checks[0].tcp, "127.0.0.1:80");
}

#[test]
fn syntax_errors_carry_the_line() {
    let d = json("{\n  \"service\": {\n    \"name\": \"web\",\n    \"port\": 80,\n  }\n}\n");
    let e = errors(&d);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 5, "{e:?}");
    assert!(e[0].1.starts_with("invalid JSON"), "{e:?}");
    assert!(d.services.is_empty());

    let d = hcl("service {\n  name = \"web\"\n  port = \n}\n");
    let e = errors(&d);
    assert_eq!(e[0].0, 3, "{e:?}");
    assert!(e[0].1.starts_with("invalid HCL"), "{e:?}");

    let d = json("{\"service\": {\"name\": \"web\"");
    assert!(errors(&d)[0].1.contains("end of file"), "{:?}", d.problems);

    // A problem's text names the file and the line.
    let shown = d.problems[0].to_string();
    assert!(shown.starts_with("/etc/registrar/web.json:1: "), "{shown}");
}

#[test]
fn semantic_errors_point_at_the_offending_block_or_key() {
    let d = json(
        r#"{
  "services": [
    {"name": "ok", "port": 1},
    {
      "port": 2
    },
    {
      "name": "bad",
      "port": 70000,
      "checks": [
        {"http": "http://x/", "interval": "0s"},
        {"tcp": "nowhere", "interval": "1s"},
        {"ttl": "5s", "interval": "5s"},
        {"args": ["/bin/true"]},
        {"name": "nothing"}
      ],
      "meta": {"consul-x": "1", "managed-by": "me"},
      "address": "0.0.0.0",
      "prot": 3
    }
  ]
}"#,
    );
    let e = errors(&d);
    let has = |line: usize, text: &str| e.iter().any(|(l, m)| *l == line && m.contains(text));
    assert!(has(4, "missing service name"), "{e:?}");
    assert!(has(9, "port must be a number from 0 to 65535"), "{e:?}");
    assert!(has(11, "interval must be > 0"), "{e:?}");
    assert!(has(12, "must be host:port"), "{e:?}");
    assert!(has(13, "`interval` and `ttl` are both set"), "{e:?}");
    assert!(has(14, "a script check needs an `interval`"), "{e:?}");
    assert!(has(15, "a check needs `http`, `tcp`, `args`"), "{e:?}");
    assert!(has(17, "prefix `consul-` is reserved"), "{e:?}");
    assert!(has(17, "`managed-by` is reserved"), "{e:?}");
    assert!(has(18, "is not a service address"), "{e:?}");
    assert!(has(19, "unknown service field `prot`"), "{e:?}");
    assert!(
        d.services.is_empty(),
        "a file with an error registers nothing"
    );
}

#[test]
fn hcl_semantic_errors_point_at_their_lines() {
    let d = hcl(
        "service {\n  name = \"web\"\n  check {\n    http = \"http://127.0.0.1/\"\n    interval = \"soon\"\n  }\n  weights {\n    passing = 0\n  }\n}\n",
    );
    let e = errors(&d);
    assert!(
        e.iter()
            .any(|(l, m)| *l == 5 && m.contains("invalid duration")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|(l, m)| *l == 7 && m.contains("weights")),
        "{e:?}"
    );
}

#[test]
fn duplicate_ids_in_one_file_are_an_error() {
    let d = json(r#"{"services": [{"name": "web"}, {"name": "web", "port": 2}]}"#);
    let e = errors(&d);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].1.contains("service ID `web` is defined twice"),
        "{e:?}"
    );
}

#[test]
fn warnings_keep_the_file_valid() {
    let d = json(
        r#"{"service": {"name": "my_web", "kind": "", "tags": ["a.b"], "check": {"ttl": "5s", "body": "x"}},
            "checks": [{"ttl": "1s"}]}"#,
    );
    assert!(!d.has_errors(), "{:?}", d.problems);
    assert_eq!(d.services.len(), 1);
    let warnings: Vec<_> = d.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        warnings.iter().any(|w| w.contains("not a valid DNS label")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`kind` is not supported")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`body` is not supported")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("node check")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("tag `a.b`")),
        "{warnings:?}"
    );
    assert!(d.problems[0].to_string().contains(": warning: "));

    let empty = json("{}");
    assert!(!empty.has_errors());
    assert!(empty.problems[0].message.contains("no service definitions"));
}

#[test]
fn wrong_shapes_are_named() {
    let d = json(r#"["not", "an", "object"]"#);
    assert!(errors(&d)[0].1.contains("not a list"), "{:?}", d.problems);
    let d = json(r#"{"servce": {"name": "x"}}"#);
    assert!(
        errors(&d)[0].1.contains("unknown key `servce`"),
        "{:?}",
        d.problems
    );
    let d = json(r#"{"service": "web"}"#);
    assert!(
        errors(&d)[0]
            .1
            .contains("expected an object or a list of objects"),
        "{:?}",
        d.problems
    );
    let d = json(r#"{"service": {"name": "web", "tags": "v1"}}"#);
    assert!(
        errors(&d)[0].1.contains("expected a list of strings"),
        "{:?}",
        d.problems
    );
    let d = json(r#"{"service": {"name": "web", "check": {"ttl": "5s", "status": "ok"}}}"#);
    assert!(
        errors(&d)[0].1.contains("status must be"),
        "{:?}",
        d.problems
    );
}

#[test]
fn file_formats_come_from_the_extension() {
    use registrar::definition::{format_of, Format};
    assert_eq!(format_of(Path::new("/d/web.json")), Some(Format::Json));
    assert_eq!(format_of(Path::new("/d/web.hcl")), Some(Format::Hcl));
    assert_eq!(format_of(Path::new("/d/web.json.bak")), None);
    assert_eq!(format_of(Path::new("/d/.#web.json")), None);
    assert_eq!(format_of(Path::new("/d/README.md")), None);
}
