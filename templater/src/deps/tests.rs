//! Decoding and shaping replies: consul-template's fields, filters and errors.

use super::*;

fn decode(dep: &Dep, raw: &Value) -> Option<Value> {
    dep.decode(raw.to_string().as_bytes()).unwrap()
}

fn web(filter: &[&str]) -> Dep {
    Dep::Service {
        name: "web".into(),
        tag: None,
        at: At::default(),
        filter: filter.iter().map(|f| f.to_string()).collect(),
        connect: false,
    }
}

#[test]
fn services_get_consul_template_fields_and_health_filtering() {
    let raw = json!([
        {"Node": {"Node": "n2", "Address": "10.0.0.2"}, "Service": {"ID": "b", "Service": "web", "Port": 81, "Tags": ["z", "a"]},
         "Checks": [{"CheckID": "c", "Status": "warning"}]},
        {"Node": {"Node": "n1", "Address": "10.0.0.1", "ID": "u1", "Datacenter": "dc1",
                  "TaggedAddresses": {"lan": "10.0.0.1"}, "Meta": {"rack": "r1"}},
         "Service": {"ID": "a", "Service": "web", "Port": 80, "Address": "192.168.0.9",
                     "Meta": {"v": "2"}, "Weights": {"Passing": 3, "Warning": 0},
                     "TaggedAddresses": {"lan_ipv4": {"Address": "192.168.0.9", "Port": 80}}},
         "Checks": [{"Node": "n1", "CheckID": "c", "Name": "n", "Status": "passing", "ServiceTags": ["y", "x"]}]},
    ]);
    let all = decode(&web(&["any"]), &raw).unwrap();
    assert_eq!(all[0]["ID"], "a", "sorted by node");
    assert_eq!(all[0]["Address"], "192.168.0.9");
    assert_eq!(
        all[1]["Address"], "10.0.0.2",
        "falls back to the node address"
    );
    assert_eq!(all[1]["Tags"], json!(["a", "z"]));
    assert_eq!(all[1]["Status"], "warning");
    assert_eq!(
        all[0],
        json!({
            "Node": "n1", "NodeID": "u1", "NodeAddress": "10.0.0.1", "NodeDatacenter": "dc1",
            "NodeTaggedAddresses": {"lan": "10.0.0.1"}, "NodeMeta": {"rack": "r1"},
            "ServiceMeta": {"v": "2"},
            "ServiceTaggedAddresses": {"lan_ipv4": {"Address": "192.168.0.9", "Port": 80}},
            "Address": "192.168.0.9", "ID": "a", "Name": "web", "Tags": [],
            "Checks": [{"Node": "n1", "CheckID": "c", "Name": "n", "Status": "passing",
                        "Notes": "", "Output": "", "ServiceID": "", "ServiceName": "",
                        "ServiceTags": ["x", "y"], "Type": ""}],
            "Status": "passing", "Port": 80, "Weights": {"Passing": 3, "Warning": 0},
        }),
        "consul-template's fields"
    );
    assert_eq!(all[1]["Weights"], json!({"Passing": 1, "Warning": 1}));
    assert_eq!(all[1]["NodeMeta"], json!({}));
    let count = |f: &[&str]| decode(&web(f), &raw).unwrap().as_array().unwrap().len();
    assert_eq!(count(&["passing"]), 1);
    assert_eq!(count(&["passing", "warning"]), 2);
    let maint = json!([{"Node": {"Node": "n"}, "Service": {"ID": "m", "Service": "web"},
        "Checks": [{"CheckID": "_node_maintenance", "Status": "critical"}]}]);
    assert_eq!(
        decode(&web(&["maintenance"]), &maint).unwrap()[0]["Status"],
        "maintenance"
    );
}

#[test]
fn malformed_replies_are_errors_that_say_where() {
    let bad = [
        json!({"Node": "not a list"}),
        json!([{"Service": {"Port": "eighty"}}]),
        json!([{"Checks": [{"Status": "sleeping"}]}]),
    ];
    for raw in bad {
        let e = web(&["passing"])
            .decode(raw.to_string().as_bytes())
            .unwrap_err();
        assert!(e.contains("line 1 column"), "{e}");
    }
    let e = Dep::Key {
        path: "k".into(),
        at: At::default(),
    }
    .decode(br#"[{"Key": "k", "Value": "not base64!"}]"#)
    .unwrap_err();
    assert!(e.contains("base64"), "{e}");
}

#[test]
fn catalog_shapes() {
    let services = Dep::Services { at: At::default() };
    assert_eq!(
        decode(&services, &json!({"web": ["b", "a"], "db": null})),
        Some(json!([{"Name": "db", "Tags": []}, {"Name": "web", "Tags": ["a", "b"]}]))
    );
    let nodes = decode(
        &Dep::Nodes { at: At::default() },
        &json!([{"Node": "b", "Address": "10.0.0.2"}, {"Node": "a", "Address": "10.0.0.1",
                 "TaggedAddresses": {"wan": "1.2.3.4"}, "Meta": null}]),
    )
    .unwrap();
    assert_eq!(
        nodes[0],
        json!({"ID": "", "Node": "a", "Address": "10.0.0.1", "Datacenter": "",
               "TaggedAddresses": {"wan": "1.2.3.4"}, "Meta": {}})
    );
    let node = Dep::Node {
        name: Some("a".into()),
        at: At::default(),
    };
    assert_eq!(decode(&node, &Value::Null), Some(Value::Null));
    let one = decode(
        &node,
        &json!({"Node": {"Node": "a"}, "Services": {
            "z": {"ID": "z", "Service": "web", "Port": 2, "Tags": ["t"]},
            "y": {"ID": "y", "Service": "api", "Port": 1, "EnableTagOverride": true}}}),
    )
    .unwrap();
    assert_eq!(one["Node"]["Node"], "a");
    assert_eq!(
        one["Services"],
        json!([
            {"ID": "y", "Service": "api", "Tags": [], "Meta": {}, "Port": 1, "Address": "", "EnableTagOverride": true},
            {"ID": "z", "Service": "web", "Tags": ["t"], "Meta": {}, "Port": 2, "Address": "", "EnableTagOverride": false},
        ])
    );
    let dcs = Dep::Datacenters {
        ignore_inaccessible: false,
    };
    assert_eq!(
        decode(&dcs, &json!(["b", "a", "b"])),
        Some(json!(["a", "b"]))
    );
    let checks = Dep::Checks {
        service: None,
        state: None,
    };
    let c = decode(
        &checks,
        &json!([{"CheckID": "b"}, {"CheckID": "a", "Status": "critical"}]),
    )
    .unwrap();
    assert_eq!(
        (c[0]["CheckID"].clone(), c[1]["Status"].clone()),
        (json!("b"), json!("critical"))
    );
}

#[test]
fn kv_shapes() {
    let raw = json!([
        {"Key": "app/a", "Value": "MQ==", "Flags": 7, "Session": "s1"}, {"Key": "app/dir/", "Value": null},
        {"Key": "app/dir/b", "Value": "Mg=="},
    ]);
    let ls = decode(
        &Dep::Ls {
            prefix: "app/".into(),
            at: At::default(),
        },
        &raw,
    )
    .unwrap();
    assert_eq!(
        ls,
        json!([{"Key": "a", "Path": "app/a", "Value": "1", "Flags": 7, "CreateIndex": 0,
                "ModifyIndex": 0, "LockIndex": 0, "Session": "s1"}])
    );
    let tree = decode(
        &Dep::Tree {
            prefix: "app".into(),
            at: At::default(),
        },
        &raw,
    )
    .unwrap();
    assert_eq!(
        tree.as_array()
            .unwrap()
            .iter()
            .map(|p| p["Key"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["a", "dir/b"]
    );
    assert_eq!(tree[1]["Session"], "");
    assert_eq!(
        explode(&tree).unwrap(),
        json!({"a": "1", "dir": {"b": "2"}})
    );
    let key = |path: &str| Dep::Key {
        path: path.into(),
        at: At::default(),
    };
    assert!(decode(&key("x"), &json!([])).is_none());
    assert_eq!(decode(&key("app/a"), &raw), Some(json!("1")));
    assert_eq!(
        decode(
            &Dep::KeyGet {
                path: "x".into(),
                at: At::default()
            },
            &json!([])
        ),
        Some(Value::Null)
    );
    assert_eq!(
        decode(
            &Dep::Keys {
                prefix: "app".into(),
                at: At::default()
            },
            &json!(["app/a", "app/dir/"])
        ),
        Some(json!(["app/a", "app/dir/"]))
    );
}
