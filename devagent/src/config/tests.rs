//! Layering of defaults, config files, inline HCL and flag values.

use std::io::Write;

use super::*;

#[test]
fn flag_values() {
    let cfg = AgentConfig::builder()
        .http_port(0)
        .dns_port(0)
        .node("n1")
        .datacenter("east")
        .client(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .build()
        .unwrap();
    assert_eq!(cfg.http_addr.port(), 0);
    assert_eq!(cfg.dns_addr.unwrap().port(), 0);
    assert_eq!(cfg.node_name, "n1");
    assert_eq!(cfg.datacenter, "east");
    let off = AgentConfig::builder().dns_port(-1).build().unwrap();
    assert!(off.dns_addr.is_none());
    let acl = AgentConfig::builder().acl_token("s3cret").build().unwrap();
    assert!(acl.acl.enabled);
    assert_eq!(acl.acl.default_policy, DefaultPolicy::Deny);
    assert!(!format!("{:?}", AgentConfig::builder().acl_token("s3cret")).contains("s3cret"));
    assert!(
        !AgentConfig::builder()
            .acl_token("")
            .build()
            .unwrap()
            .acl
            .enabled
    );
}

#[test]
fn config_files_layer_under_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("a.json")).unwrap();
    write!(f, r#"{{"ports": {{"http": 9500, "dns": 9600}}, "node_name": "from-file", "datacenter": "dc9",
                 "acl": {{"enabled": true, "tokens": {{"initial_management": "s3cret"}}}}, "unknown": 1}}"#).unwrap();
    let mut h = std::fs::File::create(dir.path().join("b.hcl")).unwrap();
    writeln!(h, "node_name = \"from-hcl\"").unwrap();
    let cfg = AgentConfig::builder()
        .config_dir(dir.path())
        .datacenter("dc2")
        .build()
        .unwrap();
    assert_eq!(cfg.http_addr.port(), 9500);
    assert_eq!(cfg.dns_addr.unwrap().port(), 9600);
    assert_eq!(cfg.node_name, "from-hcl");
    assert_eq!(cfg.datacenter, "dc2");
    assert!(cfg.acl.enabled);
    assert_eq!(
        cfg.acl
            .tokens
            .initial_management
            .as_ref()
            .map(Secret::expose),
        Some("s3cret")
    );
    assert!(!format!("{cfg:?}").contains("s3cret"));
}

#[test]
fn inline_hcl_applies_after_files() {
    let cfg = AgentConfig::builder()
        .hcl("limits { http_max_conns_per_client = 0 }")
        .hcl("node_name = \"inline\"")
        .build()
        .unwrap();
    assert_eq!(cfg.limits.http_max_conns_per_client, 0);
    assert_eq!(cfg.node_name, "inline");
    let err = AgentConfig::builder().hcl("limits {").build().unwrap_err();
    assert!(err.0.contains("-hcl #1"), "{err}");
    let err = AgentConfig::builder()
        .hcl("limits { kv_max_value_size = \"big\" }")
        .build()
        .unwrap_err();
    assert!(err.0.contains("limits.kv_max_value_size"), "{err}");
}

#[test]
fn bad_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    std::fs::write(&p, "{\"ports\": ").unwrap();
    let err = AgentConfig::builder().config_file(&p).build().unwrap_err();
    assert!(
        err.0.contains("bad.json") && err.0.contains("line"),
        "{err}"
    );
    let err = AgentConfig::builder()
        .datacenter("d c")
        .build()
        .unwrap_err();
    assert!(err.0.contains("datacenter"), "{err}");
    let err = AgentConfig::builder()
        .node_id("not-a-uuid")
        .build()
        .unwrap_err();
    assert!(err.0.contains("UUID"), "{err}");
}

#[test]
fn script_checks_from_flags_and_files() {
    let cfg = AgentConfig::builder()
        .enable_script_checks(true)
        .build()
        .unwrap();
    assert!(cfg.enable_script_checks && !cfg.enable_local_script_checks);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    std::fs::write(
        &p,
        r#"{"enable_local_script_checks": true,
            "services": [{"name": "a"}, {"name": "b"}], "check": {"name": "c", "ttl": "5s"}}"#,
    )
    .unwrap();
    let cfg = AgentConfig::builder().config_file(&p).build().unwrap();
    assert!(cfg.enable_local_script_checks && !cfg.enable_script_checks);
    assert_eq!(cfg.definitions.len(), 3);
}
