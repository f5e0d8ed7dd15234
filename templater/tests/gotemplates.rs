//! consul-template's Go templates as they are, against a real devagent:
//! every Consul function, consul-template's data shapes and Go's printing,
//! compared byte for byte with what consul-template renders for the same
//! catalog and KV.
#![allow(clippy::unwrap_used)]

mod support;

use support::{agent_on, file_contains, put, read, register, spawn};

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A template in consul-template's own style (its README's nginx example,
/// and one line per function).
const TEMPLATE: &str = r#"upstream web {
{{- range service "web" }}
  server {{ .Address }}:{{ .Port }}; # {{ .ID }} {{ .Tags }} v={{ .ServiceMeta.version }}
{{- else }}
  server 127.0.0.1:65535 down;
{{- end }}
}
any:{{ range service "web|any" }} {{ .ID }}={{ .Status }}{{ end }}
warning:{{ range service "web" "warning" }} {{ .ID }}{{ end }}
tagged:{{ range service "blue.web" }} {{ .ID }}{{ end }}
{{ with $m := key "app/maxconn" }}maxconn {{ $m }}{{ end }}
{{ keyOrDefault "app/missing" "fallback" }} {{ keyExists "app/maxconn" }} {{ keyExists "app/nope" }}
ls:{{ range ls "app" }} {{ .Key }}={{ .Value }}{{ end }}
tree:{{ range tree "app/" }} {{ .Key }}{{ end }}
{{ range services }}{{ .Name }}{{ .Tags }} {{ end }}
{{ range $i, $s := service "web" }}{{ if $i }},{{ end }}{{ $s.Tags.Contains "blue" }}{{ end }}
{{ (index (service "web") 0).Weights }} {{ printf "%05d|%-4s|%q" 42 "ab" "x" }} [{{ .Missing }}]
{{ range $tag, $svcs := service "web|any" | byTag }}{{ $tag }}={{ len $svcs }} {{ end }}
{{ sprig_upper "sprig" }} {{ "a,b" | split "," | join "+" }} {{ toJSON (explode (tree "app")) }}
{{- /* a comment */ -}}
"#;

#[tokio::test]
async fn a_consul_template_template_renders_byte_for_byte() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    register(&http, &base, r#"{"Name":"web","ID":"w1","Address":"10.0.0.1","Port":80,"Tags":["blue","a"],"Meta":{"version":"1.2"},"Check":{"TTL":"30s","Status":"passing"}}"#).await;
    register(&http, &base, r#"{"Name":"web","ID":"w2","Address":"10.0.0.2","Port":8080,"Tags":["green"],"Weights":{"Passing":3,"Warning":1},"Check":{"TTL":"30s","Status":"passing"}}"#).await;
    register(&http, &base, r#"{"Name":"web","ID":"w3","Address":"10.0.0.3","Port":80,"Check":{"TTL":"30s","Status":"warning"}}"#).await;
    register(
        &http,
        &base,
        r#"{"Name":"db","ID":"db1","Port":5432,"Tags":["primary"]}"#,
    )
    .await;
    put(&http, &format!("{base}/v1/kv/app/maxconn"), "512").await;
    put(&http, &format!("{base}/v1/kv/app/name"), "shop").await;
    put(&http, &format!("{base}/v1/kv/app/sub/deep"), "x").await;
    let dir = tempfile::tempdir().unwrap();
    let tmpl = write(dir.path(), "nginx.ctmpl", TEMPLATE);
    let out = dir.path().join("nginx.conf");
    let t = spawn(&[
        "-once",
        "-consul-addr",
        &base,
        "-template",
        &format!("{tmpl}:{}", out.display()),
    ]);
    assert_eq!(t.task.await.unwrap().unwrap(), 0);
    // What consul-template renders for this catalog: passing instances
    // only by default, sorted by node then ID, tags sorted, Go's %v for
    // lists ([a blue]), maps and structs ({3 1}), <no value> for a missing
    // field of nil data, byTag's map in key order, helpers and Sprig.
    let want = "upstream web {
  server 10.0.0.1:80; # w1 [a blue] v=1.2
  server 10.0.0.2:8080; # w2 [green] v=
}
any: w1=passing w2=passing w3=warning
warning: w3
tagged: w1
maxconn 512
fallback true false
ls: maxconn=512 name=shop
tree: maxconn name sub/deep
consul[] db[primary] web[a blue green] 
true,false
{1 1} 00042|ab  |\"x\" [<no value>]
a=1 blue=1 green=1 
SPRIG a+b {\"maxconn\":\"512\",\"name\":\"shop\",\"sub\":{\"deep\":\"x\"}}";
    assert_eq!(read(&out), want);
    agent.shutdown().await;
}

#[tokio::test]
async fn a_go_template_follows_changes_and_waits_for_its_data() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    // Custom delimiters in the config, as consul-template has them.
    let tmpl = write(
        dir.path(),
        "app.tpl",
        "[[ key \"cfg/greeting\" ]] [[ range safeLs \"cfg/list\" ]][[ .Key ]] [[ end ]]",
    );
    let out = dir.path().join("app.txt");
    let cfg = write(
        dir.path(),
        "templater.hcl",
        &format!(
            "template {{\n  source = \"{tmpl}\"\n  destination = \"{}\"\n  left_delimiter = \"[[\"\n  right_delimiter = \"]]\"\n}}\n",
            out.display()
        ),
    );
    let t = spawn(&["-consul-addr", &base, "-config", &cfg]);
    // key blocks until the key exists; safeLs until the prefix has entries.
    put(&http, &format!("{base}/v1/kv/cfg/greeting"), "hello").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!out.exists(), "safeLs on an empty prefix renders nothing");
    put(&http, &format!("{base}/v1/kv/cfg/list/a"), "1").await;
    assert!(file_contains(&out, "hello a ", 5).await, "{}", read(&out));
    put(&http, &format!("{base}/v1/kv/cfg/greeting"), "bonjour").await;
    assert!(file_contains(&out, "bonjour a ", 5).await, "{}", read(&out));
    // Emptying the prefix keeps the last good file (safeLs).
    http.delete(format!("{base}/v1/kv/cfg/list/a"))
        .send()
        .await
        .unwrap();
    put(&http, &format!("{base}/v1/kv/cfg/greeting"), "hola").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(read(&out), "bonjour a ");
    assert_eq!(t.stop().await.unwrap(), 0);
    agent.shutdown().await;
}
