//! A `/v1/health/service/web` answer as Consul 1.21 writes it (the shape
//! described in the reference's §3.1 and §3.2: every field, zero values
//! included, and fields this crate does not model) decodes, aggregates and
//! round-trips.

use consul_wire::{gojson, ServiceEntry, Status};

const SAMPLE: &str = r#"[
    {
        "Node": {
            "ID": "40e4a748-2192-161a-0510-9bf59fe950b5",
            "Node": "node-1",
            "Address": "10.1.10.12",
            "Datacenter": "dc1",
            "TaggedAddresses": {"lan": "10.1.10.12", "lan_ipv4": "10.1.10.12", "wan": "10.1.10.12", "wan_ipv4": "10.1.10.12"},
            "Meta": {"consul-network-segment": "", "consul-version": "1.21.0"},
            "CreateIndex": 13,
            "ModifyIndex": 15
        },
        "Service": {
            "ID": "web-1",
            "Service": "web",
            "Tags": ["v1", "primary"],
            "Address": "",
            "TaggedAddresses": {"lan_ipv4": {"Address": "10.1.10.12", "Port": 8080}},
            "Meta": {"version": "1.0"},
            "Port": 8080,
            "Weights": {"Passing": 10, "Warning": 1},
            "EnableTagOverride": false,
            "Proxy": {"Mode": "", "MeshGateway": {}, "Expose": {}},
            "Connect": {},
            "PeerName": "",
            "CreateIndex": 21,
            "ModifyIndex": 21
        },
        "Checks": [
            {
                "Node": "node-1", "CheckID": "serfHealth", "Name": "Serf Health Status",
                "Status": "passing", "Notes": "", "Output": "Agent alive and reachable",
                "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Type": "",
                "Interval": "", "Timeout": "", "ExposedPort": 0,
                "Definition": {}, "CreateIndex": 13, "ModifyIndex": 13
            },
            {
                "Node": "node-1", "CheckID": "service:web-1", "Name": "Service 'web' check",
                "Status": "warning", "Notes": "", "Output": "HTTP GET http://10.1.10.12:8080/health: 429 Too Many Requests",
                "ServiceID": "web-1", "ServiceName": "web", "ServiceTags": ["v1", "primary"], "Type": "http",
                "Interval": "10s", "Timeout": "1s", "ExposedPort": 0,
                "Definition": {"HTTP": "http://10.1.10.12:8080/health", "Interval": "10s", "Timeout": "1s"},
                "CreateIndex": 21, "ModifyIndex": 40
            }
        ]
    }
]"#;

#[test]
fn a_consul_health_answer_decodes() {
    let entries: Vec<ServiceEntry> = serde_json::from_str(SAMPLE).unwrap();
    let e = &entries[0];
    assert_eq!(e.node.node, "node-1");
    assert_eq!(e.node.meta["consul-version"], "1.21.0");
    assert_eq!(e.address(), "10.1.10.12");
    assert_eq!(e.service.weights.passing, 10);
    assert_eq!(e.service.tagged_addresses["lan_ipv4"].port, 8080);
    assert!(e.service.proxy.is_some());
    assert_eq!(e.checks[1].interval, "10s");
    assert_eq!(e.aggregated_status(), Status::Warning);
    // gojson reads the same document the same way.
    let via_gojson: Vec<ServiceEntry> = gojson::from_slice(SAMPLE.as_bytes()).unwrap();
    assert_eq!(via_gojson, entries);
    // And what the types write reads back unchanged.
    let again: Vec<ServiceEntry> =
        serde_json::from_str(&serde_json::to_string(&entries).unwrap()).unwrap();
    assert_eq!(again, entries);
}

#[test]
fn maintenance_wins_over_every_status() {
    let mut entries: Vec<ServiceEntry> = serde_json::from_str(SAMPLE).unwrap();
    let mut maint = entries[0].checks[0].clone();
    maint.check_id = "_service_maintenance:web-1".into();
    maint.status = Status::Critical;
    entries[0].checks.push(maint);
    assert_eq!(entries[0].aggregated_status(), Status::Maintenance);
}
