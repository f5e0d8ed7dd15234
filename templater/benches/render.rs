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
use templater::bench::{normalize_filter, At, Brain, Dep, Templates};

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

fn brain(n: usize) -> Arc<Mutex<Brain>> {
    let raw: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
                "Node": {"Node": format!("node-{i:04}"), "Address": format!("10.0.{}.{}", i / 250, i % 250), "ID": "x"},
                "Service": {"ID": format!("web-{i}"), "Service": "web", "Port": 8000 + i, "Tags": ["a", "b"], "Meta": {"v": "1"}},
                "Checks": [{"CheckID": "serfHealth", "Status": "passing"}],
            })
        })
        .collect();
    let dep = Dep::Service {
        name: "web".into(),
        tag: None,
        at: At::default(),
        filter: normalize_filter(vec![]).unwrap_or_default(),
        connect: false,
    };
    let data = dep.transform(&json!(raw)).unwrap_or_default();
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

criterion_group!(benches, render);
criterion_main!(benches);
