use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::*;
use crate::funcs::{Brain, Env};

/// Converts and asserts everything converted.
fn clean(src: &str) -> String {
    let c = convert(src);
    assert!(
        c.unconverted.is_empty(),
        "{src}\n=> {}\n{:#?}",
        c.output,
        c.unconverted
    );
    c.output
}

fn tera_with(brain: Arc<Mutex<Brain>>) -> (Env, tera::Tera) {
    let vars = Arc::new(HashMap::from([("DC".to_string(), "dc1".to_string())]));
    let env = Env::new(brain, vars, &[], None);
    let mut tera = tera::Tera::default();
    env.install(&mut tera);
    (env, tera)
}

/// Compiles a converted template the way templater does.
fn compiles(out: &str) -> Result<(), String> {
    let (_, mut tera) = tera_with(Arc::new(Mutex::new(Brain::default())));
    tera.add_raw_template("t", out).map(|_| ()).map_err(|e| {
        let mut s = e.to_string();
        let mut cur = std::error::Error::source(&e);
        while let Some(c) = cur {
            s.push_str(&format!(": {c}"));
            cur = c.source();
        }
        s
    })
}

/// Renders a converted template with dependency data, by key.
fn render(out: &str, data: &[(&str, Value)]) -> String {
    let brain = Arc::new(Mutex::new(Brain::default()));
    for (k, v) in data {
        brain.lock().unwrap().insert((*k).into(), v.clone());
    }
    let (env, mut tera) = tera_with(brain);
    if let Err(e) = compiles(out) {
        panic!("does not compile: {e}\n{out}");
    }
    tera.add_raw_template("t", out).unwrap();
    env.begin();
    let r = tera
        .render("t", &tera::Context::new())
        .unwrap_or_else(|e| panic!("render: {e:?}\n{out}"));
    let scope = env.take_scope();
    assert!(
        scope.missing.is_empty(),
        "missing data: {:?}",
        scope.missing
    );
    r
}

fn web(addrs: &[(&str, u16)]) -> Value {
    Value::Array(
        addrs
            .iter()
            .map(|(a, p)| {
                json!({"Node": format!("node-{p}"), "Address": a, "Port": p, "Tags": [],
                       "Status": "passing", "Name": "web", "ServiceMeta": {"version": "v1"}})
            })
            .collect(),
    )
}

#[test]
fn convert_nginx_upstream() {
    let src = r#"upstream backend {
{{- range service "web" }}
  server {{ .Address }}:{{ .Port }};
{{- else }}
  server 127.0.0.1:65535; # no healthy instances
{{- end }}
}
"#;
    let out = clean(src);
    assert_eq!(
        out,
        r#"upstream backend {
{%- for s in service(name="web") %}
  server {{ s.Address }}:{{ s.Port }};{% else %}
  server 127.0.0.1:65535; # no healthy instances{% endfor %}
}
"#
    );
    let key = "health.service(web|passing)";
    assert_eq!(
        render(&out, &[(key, web(&[("10.0.0.1", 80), ("10.0.0.2", 8080)]))]),
        "upstream backend {\n  server 10.0.0.1:80;\n  server 10.0.0.2:8080;\n}\n"
    );
    assert_eq!(
        render(&out, &[(key, json!([]))]),
        "upstream backend {\n  server 127.0.0.1:65535; # no healthy instances\n}\n"
    );
}

#[test]
fn convert_haproxy_backend_with_health_filter_and_if_else() {
    let src = r#"backend api
    balance roundrobin{{ range service "api|any" }}
    server {{ .Node }} {{ .Address }}:{{ .Port }}{{ if eq .Status "passing" }} check{{ else }} check disabled{{ end }}{{ end }}
"#;
    let out = clean(src);
    assert!(
        out.contains(r#"{% for s in service(name="api|any") %}"#),
        "{out}"
    );
    assert!(out.contains(r#"{% if s.Status == "passing" %} check{% else %} check disabled{% endif %}{% endfor %}"#), "{out}");
    let data = json!([
        {"Node": "node-a", "Address": "10.0.0.1", "Port": 80, "Status": "passing"},
        {"Node": "node-b", "Address": "10.0.0.2", "Port": 80, "Status": "critical"},
    ]);
    assert_eq!(
        render(&out, &[("health.service(api|any)", data)]),
        "backend api\n    balance roundrobin\n    server node-a 10.0.0.1:80 check\n    server node-b 10.0.0.2:80 check disabled\n"
    );
}

#[test]
fn convert_kv_functions_with_tree_explode_and_comments() {
    let src = r#"{{- /* app settings */ -}}
{{ $cfg := key "app/config" | parseJSON -}}
listen {{ keyOrDefault "app/port" "8080" }};
workers {{ $cfg.workers }};
{{ with key "app/motd" }}motd "{{ . }}";{{ else }}# no motd{{ end }}
{{ range tree "app/hosts/" }}host {{ .Key }} {{ .Value }};
{{ end -}}
{{ range $k, $v := tree "app/limits" | explode }}{{ $k }}={{ $v }}
{{ end }}"#;
    let out = clean(src);
    assert_eq!(
        out,
        r#"{#- app settings -#}{% set cfg = key(path="app/config") | parse_json -%}
listen {{ key_or_default(path="app/port", default="8080") }};
workers {{ cfg.workers }};
{% set v2 = key(path="app/motd") %}{% if v2 %}motd "{{ v2 }}";{% else %}# no motd{% endif %}
{% for pair in tree(path="app/hosts/") %}host {{ pair.Key }} {{ pair.Value }};
{% endfor -%}
{% for k, v in tree(path="app/limits") | explode %}{{ k }}={{ v }}
{% endfor %}"#
    );
    let data = [
        ("kv.block(app/config)", json!("{\"workers\": 4}")),
        ("kv.get(app/port)", Value::Null),
        ("kv.block(app/motd)", json!("hello")),
        (
            "kv.tree(app/hosts/)",
            json!([{"Key": "a", "Value": "1.1.1.1"}, {"Key": "b", "Value": "2.2.2.2"}]),
        ),
        (
            "kv.tree(app/limits)",
            json!([{"Key": "cpu", "Value": "2"}, {"Key": "mem", "Value": "1g"}]),
        ),
    ];
    assert_eq!(
        render(&out, &data),
        "listen 8080;\nworkers 4;\nmotd \"hello\";\nhost a 1.1.1.1;\nhost b 2.2.2.2;\ncpu=2\nmem=1g\n"
    );
    let mut data = data.to_vec();
    data[2].1 = json!("");
    assert!(render(&out, &data).contains("# no motd"));
}

#[test]
fn convert_by_tag_map_range() {
    let src = r#"{{ range $tag, $services := service "web" | byTag }}{{ $tag }}:{{ range $services }} {{ .Address }}{{ end }}
{{ end }}"#;
    let out = clean(src);
    assert!(
        out.starts_with(r#"{% for tag, services in service(name="web") | by_tag %}"#),
        "{out}"
    );
    let data = json!([
        {"Address": "10.0.0.1", "Port": 80, "Tags": ["blue", "green"]},
        {"Address": "10.0.0.2", "Port": 80, "Tags": ["blue"]},
    ]);
    assert_eq!(
        render(&out, &[("health.service(web|passing)", data)]),
        "blue: 10.0.0.1 10.0.0.2\ngreen: 10.0.0.1\n"
    );
}

#[test]
fn convert_conditions_helpers_and_variables() {
    let src = r#"{{ range $i, $s := service "web" }}{{ if $i }},{{ end }}{{ $s.Address }}{{ range $s.Tags }}[{{ $i }}{{ . }}]{{ end }}{{ end }}
{{ range service "web" }}{{ if and (.Tags | contains "blue") (not (eq .Port 81)) }}{{ .Node }} {{ end }}{{ if in .Tags "green" }}G{{ end }}{{ end }}
{{ range service "web" }}{{ printf "%s:%d" .Address .Port }} {{ index .ServiceMeta "version" }} {{ len .Tags }} {{ .Name | toUpper }};{{ end }}
{{ env "DC" }} {{ envOrDefault "NOPE" "fallback" }} {{ "a,b" | split "," | join ";" }} {{ replaceAll "-" "_" "a-b" }} {{ regexReplaceAll "[0-9]+" "N" "v12" }}
{{ if or (eq (len (service "web")) 0) (gt 2 1) }}ok{{ end }} {{ add 1 2 }} {{ subtract 1 5 }} {{ if not (or (eq 1 2) (eq 2 3)) }}demorgan{{ end }}
{{ $x := "a" }}{{ range service "web" }}{{ $x = "b" }}{{ end }}{{ $x }} {{ $s := "shadow" }}{{ range service "web" }}{{ $s }}{{ .Port }}{{ end }}
{{ if eq .Port 1 }}{{ end }}"#;
    let c = convert(src);
    // Only the last line: `.` at the top level is the (empty) root data.
    // `$s` is a Go variable of this file, so generated loop names skip `s`.
    assert_eq!(c.unconverted.len(), 1, "{:#?}", c.unconverted);
    assert_eq!(c.unconverted[0].line, 7);
    assert_eq!(c.unconverted[0].text, "{{ if eq .Port 1 }}{{ end }}");
    let out = c.output;
    for want in [
        r#"{% for s in service(name="web") %}{% set i = loop.index0 %}{% if loop.index0 %},{% endif %}{{ s.Address }}{% for item in s.Tags %}[{{ i }}{{ item }}]{% endfor %}{% endfor %}"#,
        r#"{% if "blue" in s2.Tags and not s2.Port == 81 %}{{ s2.Node }} {% endif %}{% if "green" in s2.Tags %}G{% endif %}"#,
        r#"{{ s2.Address }}:{{ s2.Port }} {{ s2.ServiceMeta["version"] }} {{ s2.Tags | length }} {{ s2.Name | upper }};"#,
        r#"{{ env(name="DC") }} {{ env(name="NOPE", default="fallback") }} {{ "a,b" | split(pat=",") | join(sep=";") }}"#,
        r#"{% if service(name="web") | length == 0 or 2 > 1 %}ok{% endif %} {{ 2 + 1 }} {{ 5 - 1 }} {% if not 1 == 2 and not 2 == 3 %}"#,
        r#"{% set x = "a" %}{% for s2 in service(name="web") %}{% set_global x = "b" %}{% endfor %}{{ x }}"#,
        r#"{% for s2 in service(name="web") %}{{ s }}{{ s2.Port }}{% endfor %}"#,
    ] {
        assert!(out.contains(want), "missing {want}\nin\n{out}");
    }
    let data = json!([
        {"Node": "n1", "Address": "10.0.0.1", "Port": 80, "Tags": ["blue", "green"], "Name": "web", "ServiceMeta": {"version": "v1"}},
        {"Node": "n2", "Address": "10.0.0.2", "Port": 81, "Tags": ["blue"], "Name": "web", "ServiceMeta": {"version": "v2"}},
    ]);
    let got = render(&out, &[("health.service(web|passing)", data)]);
    assert_eq!(
        got,
        "10.0.0.1[0blue][0green],10.0.0.2[1blue]\n\
         n1 G\n\
         10.0.0.1:80 v1 2 WEB;10.0.0.2:81 v2 1 WEB;\n\
         dc1 fallback a;b a_b vN\n\
         ok 3 4 demorgan\n\
         b shadow80shadow81\n\
         {# UNCONVERTED: {{ if eq .Port 1 }} #}"
            .replace("{# UNCONVERTED: {{ if eq .Port 1 }} #}", "")
    );
}

#[test]
fn convert_reports_unconvertible_lines() {
    let src = r#"{{ define "upstream" }}server {{ .Address }};{{ end }}
{{ template "upstream" . }}
{{ scratch.Set "k" "v" }}
{{- plugin "/bin/echo" "x" -}}
{{ printf "%05d" 3 }}
ok {{ key "a" }}
{{ secret "kv/x" }}{{ range loop 3 }}x{{ end }}
{{ sprig_upper "a" }} {{ executeTemplate "upstream" }} {{ $ }}"#;
    let c = convert(src);
    let lines: Vec<usize> = c.unconverted.iter().map(|u| u.line).collect();
    assert_eq!(
        lines,
        [1, 2, 3, 4, 5, 7, 7, 8, 8, 8],
        "{:#?}",
        c.unconverted
    );
    let reason = |l: usize| {
        c.unconverted
            .iter()
            .filter(|u| u.line == l)
            .map(|u| u.reason.clone())
            .collect::<Vec<_>>()
            .join(" / ")
    };
    assert!(
        reason(1).contains("`define`") && reason(1).contains("macro"),
        "{}",
        reason(1)
    );
    assert!(reason(2).contains("`template`"));
    assert!(reason(3).contains("`scratch`"));
    assert!(reason(4).contains("`plugin`"));
    assert!(reason(5).contains("%0"));
    assert!(reason(7).contains("Vault") && reason(7).contains("range(start="));
    assert!(
        reason(8).contains("sprig") && reason(8).contains("macro") && reason(8).contains("root")
    );
    assert_eq!(c.unconverted[2].text, r#"{{ scratch.Set "k" "v" }}"#);
    for want in [
        r#"{# UNCONVERTED: {{ define "upstream" }} #}{% if false %}server {{ dot.Address }};{% endif %}"#,
        r#"{# UNCONVERTED: {{ template "upstream" . }} #}"#,
        r#"{#- UNCONVERTED: {{- plugin "/bin/echo" "x" -}} -#}"#,
        r#"{# UNCONVERTED: {{ range loop 3 }} #}{% for item in [] %}x{% endfor %}"#,
    ] {
        assert!(c.output.contains(want), "missing {want}\nin\n{}", c.output);
    }
    assert_eq!(
        render(&c.output, &[("kv.block(a)", json!("A"))]),
        "\n\n\nok A\n\n  "
    );
}

#[test]
fn convert_structure_errors_keep_valid_tera() {
    let src = "{{ end }}\n{{ else }}\n{{ range service \"a\" }}\n{{ if true }}x\n{{ break }}{{ else }}{{ else }}";
    let c = convert(src);
    let lines: Vec<usize> = c.unconverted.iter().map(|u| u.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5], "{:#?}", c.unconverted);
    assert!(c.unconverted[0].reason.contains("`end` without"));
    assert!(c.unconverted[2].reason.contains("no matching `{{ end }}`"));
    assert!(c.unconverted[4].reason.contains("second `else`"));
    assert!(c
        .output
        .contains("{% break %}{% else %}{# UNCONVERTED: {{ else }} #}"));
    compiles(&c.output).unwrap();
}

#[test]
fn convert_escapes_text_that_tera_would_read() {
    let src = "a {% b %} {# c #} {{ key \"x\" }} d {%\nx {% y\n{{- key \"x\" -}}\n {# z\n{%endraw%}{{ key \"x\" }}";
    let out = clean(src);
    assert!(
        out.starts_with("{% raw %}a {% b %} {# c #} {% endraw %}"),
        "{out}"
    );
    assert_eq!(
        render(&out, &[("kv.block(x)", json!("V"))]),
        "a {% b %} {# c #} V d {%\nx {% yV{# z\n{%endraw%}V"
    );
}

#[test]
fn convert_tokens_strings_numbers_and_trims() {
    let src = "{{ \"a\\\"b\\t\\u00e9\" }}|{{ `x\"y'z` }}|{{ 0x10 }}|{{ 'a' }}|{{ -1.5 }}|{{ 1_000 }}|{{ \"}}\" }}|  {{- 7 -}}  |";
    let out = clean(src);
    assert_eq!(
        out,
        "{{ 'a\"b\t\u{e9}' }}|{{ `x\"y'z` }}|{{ 16 }}|{{ 97 }}|{{ -1.5 }}|{{ 1000 }}|{{ \"}}\" }}|  {{- 7 -}}  |"
    );
    assert_eq!(
        render(&out, &[]),
        "a\"b\t\u{e9}|x\"y'z|16|97|-1.5|1000|}}|7|"
    );
}

#[test]
fn convert_with_else_if_chains_and_range_else_trims() {
    let src = r#"{{ with $n := node }}{{ $n.Node.Node }}{{ range .Services }} {{ .Service }}{{ end }}{{ end }}
{{ if eq (env "DC") "dc2" }}two{{ else if eq (env "DC") "dc1" }}one{{ else }}none{{ end }}
{{ range service "none" }}x
{{- else -}}
   empty
{{- end }}!
{{ with key "missing-or-empty" }}{{ . }}{{ else with key "b" }}b={{ . }}{{ else }}nothing{{ end }}
{{ range services }}{{ .Name }}:{{ range service .Name }}{{ .Port }}{{ end }};{{ end }}
{{ range $i, $dc := datacenters }}{{ if gt $i 0 }},{{ end }}{{ $dc }}{{ end }}"#;
    let out = clean(src);
    let data = [
        (
            "catalog.node()",
            json!({"Node": {"Node": "self"}, "Services": [{"Service": "a"}, {"Service": "b"}]}),
        ),
        ("health.service(none|passing)", json!([])),
        ("kv.block(missing-or-empty)", json!("")),
        ("kv.block(b)", json!("B")),
        ("catalog.services()", json!([{"Name": "web", "Tags": []}])),
        (
            "health.service(web|passing)",
            json!([{"Port": 80}, {"Port": 81}]),
        ),
        ("catalog.datacenters", json!(["dc1", "dc2"])),
    ];
    assert_eq!(
        render(&out, &data),
        "self a b\none\nempty!\nb=B\nweb:8081;\ndc1,dc2"
    );
}

#[test]
fn convert_query_syntax_dcs_and_filters() {
    let src = r#"{{ range service "v1.web@dc1" "any" }}{{ .Address }}{{ end }}
{{ range services "@dc2" }}{{ .Name }}{{ end }} {{ range nodes }}{{ .Node }}{{ end }}
{{ with node "n1@dc2" }}{{ .Node.Address }}{{ end }}
{{ key "a@dc2" }} {{ if keyExists "flag" }}on{{ end }} {{ range safeLs "cfg" }}{{ .Key }}{{ end }}
{{ "hi" | base64Encode }} {{ "a" | sha256Hex | printf "%s" }} {{ tree "t" | explode | toJSON }} [{{ file "/etc/x" | trimSpace }}]"#;
    let out = clean(src);
    for want in [
        r#"{% for s in service(name="v1.web@dc1|any") %}"#,
        r#"{% for svc in services(dc="dc2") %}{{ svc.Name }}{% endfor %} {% for n in nodes() %}"#,
        r#"{% set node = node(name="n1", dc="dc2") %}{% if node %}{{ node.Node.Address }}{% endif %}"#,
        r#"{{ key(path="a", dc="dc2") }} {% if key_exists(path="flag") %}on{% endif %}"#,
        r#"{# converted from safeLs: an empty prefix renders empty here, where safeLs waited for data #}{% for pair in ls(path="cfg") %}"#,
        r#"{{ "hi" | base64_encode }} {{ "a" | sha256 }} {{ tree(path="t") | explode | to_json }} [{{ file(path="/etc/x") | trim }}]"#,
    ] {
        assert!(out.contains(want), "missing {want}\nin\n{out}");
    }
    let data = [
        (
            "health.service(v1.web@dc1|any)",
            json!([{"Address": "10.1.1.1"}]),
        ),
        (
            "catalog.services(@dc2)",
            json!([{"Name": "db", "Tags": []}]),
        ),
        ("catalog.nodes()", json!([{"Node": "n1"}, {"Node": "n2"}])),
        (
            "catalog.node(n1@dc2)",
            json!({"Node": {"Address": "192.168.0.1"}, "Services": []}),
        ),
        ("kv.block(a@dc2)", json!("A")),
        ("kv.get(flag)", json!("1")),
        ("kv.ls(cfg)", json!([{"Key": "x", "Value": "1"}])),
        ("kv.tree(t)", json!([{"Key": "a/b", "Value": "1"}])),
        ("file(/etc/x)", json!("  content \n")),
    ];
    assert_eq!(
        render(&out, &data),
        "10.1.1.1\ndb n1n2\n192.168.0.1\nA on x\naGk= \
         ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb {\"a\":{\"b\":\"1\"}} [content]"
    );
}

#[test]
fn convert_if_else_trims_and_nested_loop_indexes() {
    let src = "[{{ if eq 1 1 -}}\n   one\n{{- else -}}\n   other\n{{- end }}]\n\
               [{{ if eq 1 2 -}}\n   one\n{{- else if eq 2 2 -}}\n   two\n{{- end }}]\n\
               {{ range $i, $a := service \"a\" -}}\n  {{ range $j, $b := service \"b\" }}{{ range service \"c\" }}{{ $i }}{{ $j }}{{ end }}{{ end }}\n{{ end }}";
    let out = clean(src);
    assert!(
        out.contains("{% for a in service(name=\"a\") -%}{% set i = loop.index0 -%}"),
        "{out}"
    );
    let one = |n: &str| json!([{"Node": n}]);
    let two = json!([{"Node": "x"}, {"Node": "y"}]);
    let data = [
        ("health.service(a|passing)", two.clone()),
        ("health.service(b|passing)", two),
        ("health.service(c|passing)", one("z")),
    ];
    assert_eq!(render(&out, &data), "[one]\n[two]\n0001\n1011\n");
}

#[test]
fn convert_timestamp_and_math() {
    let out = clean("{{ timestamp }} {{ multiply 3 4 }} {{ modulo 3 10 }} {{ add 1 (add 2 3) }}");
    let got = render(&out, &[]);
    let (ts, rest) = got.split_once(' ').unwrap();
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    assert_eq!(rest, "12 1 6");
}

/// Random token soup: the converter never panics, reports real lines,
/// and its output always compiles as tera.
#[test]
fn convert_garbage_never_panics_and_output_compiles() {
    const BITS: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        "{{/*",
        "*/}}",
        "range ",
        "if ",
        "else ",
        "end",
        "with ",
        "define ",
        "block ",
        "template ",
        "break",
        "continue",
        "\"x\"",
        "`y`",
        "'c'",
        "$a",
        "$",
        ":=",
        "=",
        ",",
        "|",
        "(",
        ")",
        ".Foo",
        ".",
        "service ",
        "key ",
        "printf ",
        "\"%s\"",
        "%",
        "{%",
        "%}",
        "{#",
        "#}",
        "\n",
        " ",
        "-",
        "\\",
        "ä",
        "eq ",
        "and ",
        "not ",
        "0x1",
        "1e9",
        "byTag",
        "explode",
        "contains ",
        "index ",
        "len ",
        "$i, $e := ",
        "endraw",
        "{% raw %}",
        "else if ",
        "else with ",
        "scratch.Get ",
        "nil",
        "true",
        "{",
        "}",
        "\r\n",
        "{{ range service \"a\" }}",
        "{{ end }}",
        "{{ else }}",
        "{{- else -}}",
        "{{- end -}}",
        "{{ with key \"k\" }}",
        "{{ if .X }}",
        "{{ . }}",
        "{{ $i }}",
        "{{ $e.A }}",
        "{{ range $i, $e := ls \"p\" }}",
        "{{ define \"d\" }}",
        "{{ block \"b\" . }}",
        "{{ printf \"{%s\" .A }}",
        "{{ .A | contains \"x\" }}",
        "{{ else if eq .A 1 }}",
        "{{ else with .B }}",
        "{{ $x := 1 }}",
        "{{ $x = 2 }}",
        "{{ break }}",
        " {",
        "{ ",
        "{{ range $k, $v := .Meta }}",
        "{{ if not (or .A .B) }}",
        "{{/* c */}}",
        "{{- /* c */ -}}",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    let rounds = std::env::var("CONVERT_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3000);
    for round in 0..rounds {
        let n = rng.usize(1..40);
        let src: String = (0..n).map(|_| BITS[rng.usize(..BITS.len())]).collect();
        let c = convert(&src);
        let lines = src.lines().count().max(1);
        for u in &c.unconverted {
            assert!(
                u.line >= 1 && u.line <= lines,
                "round {round}: line {} of {lines}\n{src:?}",
                u.line
            );
            assert!(!u.reason.is_empty());
        }
        if let Err(e) = compiles(&c.output) {
            panic!(
                "round {round}: output does not compile: {e}\ninput: {src:?}\noutput: {:?}",
                c.output
            );
        }
    }
}

#[test]
fn convert_prints_like_consul_template_and_reads_go_escapes() {
    let c = convert(
        "{{ range service \"web\" }}{{ .Tags }} {{ .ServiceMeta }} {{ .Address }}{{ end }}\n{{ \"\\xf0\\x9f\\x9a\\x80\" }}",
    );
    assert!(c.unconverted.is_empty(), "{:?}", c.unconverted);
    assert!(
        c.output
            .contains("{{ s.Tags | print }} {{ s.ServiceMeta | print }} {{ s.Address }}"),
        "{}",
        c.output
    );
    assert!(
        c.output.contains("🚀"),
        "one emoji from four escaped bytes: {}",
        c.output
    );
    let out = render(
        &c.output,
        &[(
            "health.service(web|passing)",
            json!([{"Address": "10.0.0.1", "Port": 80, "Tags": ["a", "b"], "ServiceMeta": {"k": "v"}}]),
        )],
    );
    assert_eq!(
        out, "[a b] map[k:v] 10.0.0.1\n🚀",
        "what consul-template prints"
    );
}
