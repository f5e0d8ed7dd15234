//! Render time of a 1,000-instance nginx upstream template, the same
//! template in consul-template's Go syntax and in tera, through the same
//! pass (templater's `Templates::render`: function calls, dependency
//! recording, the data of the brain, the output).
//!
//! `cargo bench -p templater --bench render`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use templater::bench::{data, normalize_filter, At, Brain, Dep, Templates};

const GO: &str = r#"upstream web {
{{- range service "web" }}
  server {{ .Address }}:{{ .Port }} max_fails=3; # {{ .ID }} {{ .Node }}
{{- end }}
}
"#;

const TERA: &str = r#"upstream web {
{%- for s in service(name="web") %}
  server {{ s.Address }}:{{ s.Port }} max_fails=3; # {{ s.ID }} {{ s.Node }}
{%- endfor %}
}
"#;

/// `/v1/health/service/web` with `n` instances, with the fields Consul sends.
fn reply(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let (id, node) = (format!("web-{i}"), format!("node-{i:04}"));
            json!({
                "Node": {"ID": format!("00000000-0000-0000-0000-{i:012}"), "Node": node,
                         "Address": format!("10.0.{}.{}", i / 250, i % 250), "Datacenter": "dc1",
                         "TaggedAddresses": {"lan": "10.0.0.1", "wan": "10.0.0.1"},
                         "Meta": {"consul-network-segment": ""}, "CreateIndex": 5, "ModifyIndex": 5},
                "Service": {"ID": id, "Service": "web", "Tags": ["a", "b"], "Address": "",
                            "Meta": {"v": "1"}, "Port": 8000 + i,
                            "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": false,
                            "CreateIndex": 7, "ModifyIndex": 7},
                "Checks": [
                    {"Node": node, "CheckID": "serfHealth", "Name": "Serf Health Status",
                     "Status": "passing", "Notes": "", "Output": "Agent alive and reachable",
                     "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Type": "",
                     "CreateIndex": 5, "ModifyIndex": 5},
                    {"Node": node, "CheckID": format!("service:{id}"), "Name": "Service 'web' check",
                     "Status": "passing", "Notes": "", "Output": "HTTP GET: 200 OK",
                     "ServiceID": id, "ServiceName": "web", "ServiceTags": ["a", "b"], "Type": "http",
                     "CreateIndex": 7, "ModifyIndex": 9},
                ],
            })
        })
        .collect()
}

fn web() -> Dep {
    Dep::Service {
        name: "web".into(),
        tag: None,
        at: At::default(),
        filter: normalize_filter(vec![]).unwrap_or_default(),
        connect: false,
    }
}

fn brain(n: usize) -> Arc<Mutex<Brain>> {
    let dep = web();
    let data = data(&dep, json!(reply(n)).to_string().as_bytes()).unwrap_or_default();
    let mut b = Brain::default();
    b.insert(dep.key(), data);
    Arc::new(Mutex::new(b))
}

fn render(c: &mut Criterion) {
    let brain = brain(1000);
    let mut set = Templates::new(Arc::clone(&brain), Arc::new(HashMap::new()));
    let go = set.slot(0, &[], None);
    let tera = set.slot(1, &[], None);
    set.compile_go(&go, "nginx.ctmpl", GO, &gotemplate::Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    set.compile(&tera, TERA).unwrap_or_else(|e| panic!("{e}"));
    let (a, _) = set.render(&go);
    let (b, _) = set.render(&tera);
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    assert_eq!(a, b, "both syntaxes render the same bytes");
    assert_eq!(a.lines().count(), 1002);
    let mut g = c.benchmark_group("nginx upstream, 1,000 instances");
    g.bench_function("go (consul-template syntax)", |bench| {
        bench.iter(|| set.render(&go).0.map(|s| s.len()).unwrap_or_default())
    });
    g.bench_function("tera", |bench| {
        bench.iter(|| set.render(&tera).0.map(|s| s.len()).unwrap_or_default())
    });
    g.finish();
}

/// From Consul's reply body to the data templates see (once per change).
fn shape(c: &mut Criterion) {
    let body = json!(reply(1000)).to_string();
    let dep = web();
    assert_eq!(
        data(&dep, body.as_bytes()).map(|v| v.as_array().map(Vec::len)),
        Some(Some(1000))
    );
    let mut g = c.benchmark_group("health reply, 1,000 instances");
    g.bench_function("decode and shape", |bench| {
        bench.iter(|| data(&dep, body.as_bytes()).is_some())
    });
    g.finish();
}

criterion_group!(benches, render, shape);
criterion_main!(benches);
