//! The documented examples, their data and their expected outputs.
//! `{{DIR}}` stands for the test's directory where the docs name a path.

use super::{catalog, kv};

/// What a case must render.
pub enum Want {
    /// These bytes.
    Exact(String),
    /// Output that passes this check (timestamps, Go's memory addresses).
    Check(fn(&str) -> bool),
}

/// One documented example.
pub struct Case {
    pub section: &'static str,
    pub text: &'static str,
    pub want: Want,
}

fn case(section: &'static str, text: &'static str, want: &str) -> Case {
    Case {
        section,
        text,
        want: Want::Exact(want.to_string()),
    }
}

fn checked(section: &'static str, text: &'static str, f: fn(&str) -> bool) -> Case {
    Case {
        section,
        text,
        want: Want::Check(f),
    }
}

/// The main datacenter: the docs' web, redis and KV examples.
pub async fn load_main(http: &reqwest::Client, base: &str) {
    for body in [
        r#"{"Node":"web01","Address":"10.5.2.45","Service":{"ID":"web","Service":"web","Port":2492,"Tags":["production","release"],"TaggedAddresses":{"wan":{"Address":"198.18.0.45","Port":80}}}}"#,
        r#"{"Node":"web02","Address":"10.2.6.61","Service":{"ID":"web","Service":"web","Port":2904,"Tags":["production"]}}"#,
        r#"{"Node":"node","Address":"10.5.2.7"}"#,
        r#"{"Node":"redis-node","Address":"10.6.0.1","Service":{"ID":"redis-dev-1","Service":"redis","Port":6379,"Meta":{"environment":"dev","shard_number":"1"}}}"#,
        r#"{"Node":"redis-node","Address":"10.6.0.1","Service":{"ID":"redis-prod-1","Service":"redis","Port":6380,"Meta":{"environment":"prod","shard_number":"1"}}}"#,
        r#"{"Node":"redis-node","Address":"10.6.0.1","Service":{"ID":"redis-prod-2","Service":"redis","Port":6381,"Meta":{"environment":"prod","shard_number":"2"}}}"#,
    ] {
        catalog(http, base, body).await;
    }
    kv(
        http,
        base,
        &[
            ("service/redis/maxconns", "15"),
            ("service/redis/minconns", "5"),
            ("service/redis/nested/config/value", "\"value\""),
            ("key", "namespaced value"),
            ("app/beta_active", "true"),
            ("config/admin/port", "1234"),
            ("config/maxconns", "5"),
            ("config/minconns", "2"),
            ("groups/elasticsearch/es1", "1"),
            ("groups/elasticsearch/es2", "1"),
            ("groups/elasticsearch/es3", "1"),
            ("services/elasticsearch/check_elasticsearch", "x"),
            ("services/elasticsearch/check_indexes", "y"),
            ("weights/web01", "50"),
            ("base/a/b/c", "base-value"),
            ("overrides/a/b/c", "override-value"),
            ("foo", "a\nb"),
            ("foo/bar", "1"),
            ("foo/baz/qux", "2"),
            ("feature/enabled", "true"),
            ("user/info", r#"{"name":"Alice"}"#),
            ("user/name", "john doe"),
            ("my/key/path", "my key's value"),
        ],
    )
    .await;
}

/// The other agents: a datacenter for `nodes`, dc2 and east-aws.
pub async fn load_others(http: &reqwest::Client, nodes: &str, dc2: &str, east: &str) {
    catalog(http, nodes, r#"{"Node":"node2","Address":"10.46.2.5"}"#).await;
    kv(http, nodes, &[("config/a/b/c", "deep")]).await;
    kv(
        http,
        dc2,
        &[
            ("config/admin/port", "1234"),
            ("config/maxconns", "5"),
            ("config/minconns", "2"),
            ("config/queryparams", "a?b=c&d=e"),
        ],
    )
    .await;
    for body in [
        r#"{"Node":"web-east","Address":"10.9.0.2","Service":{"ID":"web","Service":"web","Port":80,"Tags":["tag1"]}}"#,
        r#"{"Node":"web-east2","Address":"10.9.0.3","Service":{"ID":"web","Service":"web","Port":80,"Tags":["other"]}}"#,
    ] {
        catalog(http, east, body).await;
    }
}

const SPEW_OBJ: &str = "{{- $JSON := `{ \"foo\": { \"bar\":true, \"baz\":\"string\", \"theAnswer\":42} }` -}}\n{{- $OBJ := parseJSON $JSON -}}\n";

/// What spew_dump and spew_printf print to stdout (the docs' outputs).
pub const SPEW_STDOUT: &[&str] = &[
    "(map[string]interface {}) (len=1) {\n (string) (len=3) \"foo\": (map[string]interface {}) (len=3) {\n  (string) (len=3) \"bar\": (bool) true,\n  (string) (len=3) \"baz\": (string) (len=6) \"string\",\n  (string) (len=9) \"theAnswer\": (float64) 42\n }\n}\n",
    "map[foo:map[bar:true baz:string theAnswer:42]]\n",
    // %#+v: the docs print Go's random map order; spew's keys sorted here.
    "(map[string]interface {})map[foo:(map[string]interface {})map[bar:(bool)true baz:(string)string theAnswer:(float64)42]]\n",
];

fn is_list_of_web_instances(s: &str) -> bool {
    // Go prints a slice of pointers with their memory addresses
    // (`[0xc000432000 0xc000432100]`, new each run); templater prints the
    // structs they point to.
    s.starts_with("[&{web01 ") && s.contains(" &{web02 ") && s.ends_with("}]")
}

pub fn main() -> Vec<Case> {
    vec![
        // devagent serves no Connect-capable instances (no sidecar proxies):
        // Consul would list web's proxies (the docs' port 21000).
        case("connect", "{{ range connect \"web\" }}\nserver {{ .Name }} {{ .Address }}:{{ .Port }}{{ end }}", ""),
        // The docs show dc1 and dc2: one datacenter here.
        case("datacenters", "{{ range datacenters }}\n{{ . }}{{ end }}", "\ndc1"),
        case("datacenters", "// Ignores datacenters which are inaccessible\n{{ datacenters true }}", "// Ignores datacenters which are inaccessible\n[dc1]"),
        case("file", "{{ file \"{{DIR}}/file\" }}", "file contents"),
        case("key", "{{ key \"service/redis/maxconns\" }}", "15"),
        // Consul CE refuses `ns` and `partition` (Enterprise) with a 400;
        // devagent, like Enterprise's default namespace, answers.
        case("key", "{{ key \"key?ns=namespace-name&partition=partition-name\" }}", "namespaced value"),
        // Both branches print the same text.
        case("keyExists", "{{ if keyExists \"app/beta_active\" }}\n  # ...\n{{ else }}\n  # ...\n{{ end }}", "\n  # ...\n"),
        // The docs show 5 (the key absent: see the nodes group); with the
        // key the docs' `key` example reads, consul-template renders 15.
        case("keyOrDefault", "{{ keyOrDefault \"service/redis/maxconns\" \"5\" }}", "15"),
        case("ls", "{{ range ls \"service/redis\" }}\n  {{ .Key }}:{{ .Value }}\n{{ end }}", "\n  maxconns:15\n\n  minconns:5\n"),
        case("ls", "{{ range ls \"service/redis?ns=namespace-name&partition=partition-name\" }}\n  {{ .Key }}:{{ .Value }}\n{{ end }}", "\n  maxconns:15\n\n  minconns:5\n"),
        // safeLs and safeTree have no template in the docs.
        case("safeLs", "{{ range safeLs \"service/redis\" }}{{ .Key }} {{ end }}", "maxconns minconns "),
        case("node", "{{ with node }}\n{{ .Node.Address }}{{ end }}", "\n10.5.2.6"),
        case("node", "{{ with node \"node?ns=default&partition=default\" }}\n  {{ .Node.Address }}\n{{ end }}", "\n  10.5.2.7\n"),
        // A single dev agent has no peers (the docs show foo and bar).
        case("peerings", "{{ range peerings \"?partition=partition\" }}\n{{ .Name }}{{ end }}", ""),
        case("peerings", "{{ range peerings }}\n{{ .Name }}{{ end }}", ""),
        case("service", "{{ service \"service-name?ns=namespace-name&peer=peer-name&partition=partition-name\" }}", "[]"),
        // The docs print web01 and web02 for {{ .Name }}, the service's
        // name: consul-template prints "web" (web01 is the node).
        case("service", "{{ range service \"web\" }}\nserver {{ .Name }} {{ .Address }}:{{ .Port }}{{ end }}", "\nserver web 10.5.2.45:2492\nserver web 10.2.6.61:2904"),
        // No output in the docs. A missing map key is Go's zero
        // api.ServiceAddress, which `with` takes as true: web02 prints
        // http://:0 in consul-template too.
        case("service", "{{ range service \"web\" }}\n  {{ with .ServiceTaggedAddresses.wan }}\nhttp://{{ .Address }}:{{ .Port }}\n  {{ end }}\n{{ end }}\n", "\n  \nhttp://198.18.0.45:80\n  \n\n  \nhttp://:0\n  \n\n"),
        checked("service", "{{ service \"web|any\" }}", is_list_of_web_instances),
        checked("service", "{{ service \"web|passing,warning\" }}", is_list_of_web_instances),
        checked("service", "{{ service \"web\" }}\n{{ service \"web|passing\" }}", |s| {
            s.split_once('\n')
                .is_some_and(|(a, b)| a == b && is_list_of_web_instances(a))
        }),
        case("services", "{{ range services \"?ns=default&partition=default\" }}\n  {{ .Name }}\n{{ end }}", "\n  consul\n\n  redis\n\n  web\n"),
        // The docs print "node01 tag1,tag2,tag3", without the template's colon.
        case("services", "{{ range services }}\n{{ .Name }}: {{ .Tags | join \",\" }}{{ end }}", "\nconsul: \nredis: \nweb: production,release"),
        // The docs print "minconns 2 / maxconns 12 / nested/config/value
        // "value"": a space for the template's colon, unsorted, other values.
        case("tree", "{{ range tree \"service/redis\" }}\n{{ .Key }}:{{ .Value }}{{ end }}", "\nmaxconns:15\nminconns:5\nnested/config/value:\"value\""),
        case("safeTree", "{{ range safeTree \"service/redis\" }}{{ .Key }} {{ end }}", "maxconns minconns nested/config/value "),
        case("byKey", "{{ range $key, $pairs := tree \"groups\" | byKey }}{{ $key }}:\n{{ range $pair := $pairs }}  {{ .Key }}={{ .Value }}\n{{ end }}{{ end }}", "elasticsearch:\n  es1=1\n  es2=1\n  es3=1\n"),
        case("byTag", "{{ range $tag, $services := service \"web\" | byTag }}{{ $tag }}\n{{ range $services }} server {{ .Name }} {{ .Address }}:{{ .Port }}\n{{ end }}{{ end }}", "production\n server web 10.5.2.45:2492\n server web 10.2.6.61:2904\nrelease\n server web 10.5.2.45:2492\n"),
        checked("byMeta", "{{ service \"redis|any\" | byMeta \"environment,shard_number|int\" | toJSON }}", |s| {
            let v: serde_json::Value = serde_json::from_str(s).unwrap_or_default();
            let ids = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .map(|a| a.iter().filter_map(|s| s["ID"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default()
            };
            v.as_object().is_some_and(|m| m.len() == 3)
                && ids("dev_00001") == ["redis-dev-1"]
                && ids("prod_00001") == ["redis-prod-1"]
                && ids("prod_00002") == ["redis-prod-2"]
        }),
        // contains, in and contains*: the docs' snippets read .Tags (none
        // at the top: false) and undefined variables; then in a range.
        case("contains", "{{ if .Tags | contains \"production\" }}\n# ...\n{{ end }}", ""),
        case("contains", "{{ range service \"web\" }}{{ if .Tags | contains \"production\" }}\n# ...\n{{ end }}{{ end }}", "\n# ...\n\n# ...\n"),
        case("containsAll", "{{ $requiredTags := parseJSON `[\"production\",\"release\"]` }}{{ range service \"web\" }}{{ if containsAll $requiredTags .Tags }}\n# ...\n{{ end }}{{ end }}", "\n# ...\n"),
        case("containsAny", "{{ $acceptableTags := parseJSON `[\"release\",\"canary\"]` }}{{ range service \"web\" }}{{ if containsAny $acceptableTags .Tags }}\n# ...\n{{ end }}{{ end }}", "\n# ...\n"),
        case("containsNone", "{{ $forbiddenTags := parseJSON `[\"deprecated\"]` }}{{ range service \"web\" }}{{ if containsNone $forbiddenTags .Tags }}\n# ...\n{{ end }}{{ end }}", "\n# ...\n\n# ...\n"),
        case("containsNotAll", "{{ $excludingTags := parseJSON `[\"production\",\"release\"]` }}{{ range service \"web\" }}{{ if containsNotAll $excludingTags .Tags }}\n# ...\n{{ end }}{{ end }}", "\n# ...\n"),
        case("in", "{{ if in .Tags \"production\" }}\n# ...\n{{ end }}", ""),
        case("in", "{{ range service \"web\" }}{{ if in .Tags \"production\" }}\n# ...\n{{ end }}{{ end }}", "\n# ...\n\n# ...\n"),
        case("explode", "{{ tree \"config\" | explode }}", "map[admin:map[port:1234] maxconns:5 minconns:2]"),
        case("indent", "{{ tree \"foo\" | explode | toYAML | indent 4 }}", "    bar: \"1\"\n    baz:\n      qux: \"2\""),
        // "The argument's source will not be overridden by piped map".
        case("mergeMap", "{{ $base := tree \"base\" | explode }}\n{{ $overrides := tree \"overrides\" | explode | mergeMap $base}}\n{{ with $overrides }}\n{{ .a.b.c }}{{ end }}", "\n\n\nbase-value"),
        case("mergeMapWithOverride", "{{ $base := tree \"base\" | explode }}\n{{ $overrides := tree \"overrides\" | explode | mergeMapWithOverride $base}}\n{{ with $overrides }}\n{{ .a.b.c }}{{ end }}", "\n\n\noverride-value"),
        case("trimSpace", "{{ file \"{{DIR}}/ec2_version\" | trimSpace }}", "4.2.0"),
        case("parseBool", "{{ if key \"feature/enabled\" | parseBool }}{{ end }}", ""),
        case("parseJSON", "{{ with $d := key \"user/info\" | parseJSON }}{{ $d.name }}{{ end }}", "Alice"),
        case("parseYAML", "{{ with $d := key \"user/info\" | parseYAML }}{{ $d.name }}{{ end }}", "Alice"),
        // The plugin prints its argument count and arguments.
        case("plugin", "{{ plugin \"my-plugin\" }}", "plugin(0):"),
        case("plugin", "{{ tree \"foo\" | explode | toJSON | plugin \"my-plugin\" }}", "plugin(1):{\"bar\":\"1\",\"baz\":{\"qux\":\"2\"}}"),
        case("split", "{{ key \"foo\" | toUpper | split \"\\n\" | join \",\" }}", "A,B"),
        checked("timestamp", "{{ timestamp }} // e.g. 1970-01-01T00:00:00Z", |s| {
            regex::Regex::new(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ // e\.g\. 1970-01-01T00:00:00Z\z")
                .is_ok_and(|r| r.is_match(s))
        }),
        checked("timestamp", "{{ timestamp \"2006-01-02\" }} // e.g. 1970-01-01", |s| {
            regex::Regex::new(r"\A\d{4}-\d\d-\d\d // e\.g\. 1970-01-01\z").is_ok_and(|r| r.is_match(s))
        }),
        checked("timestamp", "{{ timestamp \"unix\" }} // e.g. 0", |s| {
            s.strip_suffix(" // e.g. 0")
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 1_600_000_000)
        }),
        case("toJSON", "{{ tree \"config\" | explode | toJSON }}", "{\"admin\":{\"port\":\"1234\"},\"maxconns\":\"5\",\"minconns\":\"2\"}"),
        case("toJSONPretty", "{{ tree \"config\" | explode | toJSONPretty }}", "{\n  \"admin\": {\n    \"port\": \"1234\"\n  },\n  \"maxconns\": \"5\",\n  \"minconns\": \"2\"\n}"),
        case("toLower", "{{ key \"user/name\" | toLower }}", "john doe"),
        case("toTitle", "{{ key \"user/name\" | toTitle }}", "John Doe"),
        // The docs print port "1134" where the other examples have 1234.
        case("toTOML", "{{ tree \"config\" | explode | toTOML }}", "maxconns = \"5\"\nminconns = \"2\"\n\n[admin]\n  port = \"1234\""),
        case("toUpper", "{{ key \"user/name\" | toUpper }}", "JOHN DOE"),
        case("toYAML", "{{ tree \"config\" | explode | toYAML }}", "admin:\n  port: \"1234\"\nmaxconns: \"5\"\nminconns: \"2\""),
        checked("sockaddr", "{{ sockaddr \"GetPrivateIP\" }}", |s| {
            s.is_empty() || s.parse::<std::net::IpAddr>().is_ok()
        }),
        case("writeToFile", "{{ key \"my/key/path\" | writeToFile \"{{DIR}}/my/file/path.txt\" \"\" \"\" \"0644\" }}", ""),
        // spew_dump and spew_printf print to stdout and render nothing; the
        // docs' spew_sdump section shows the spew_dump template.
        case("spew_dump", "{{- $JSON := `{ \"foo\": { \"bar\":true, \"baz\":\"string\", \"theAnswer\":42} }` -}}\n{{- $OBJ := parseJSON $JSON -}}\n{{- spew_dump $OBJ -}}", ""),
        case("spew_printf", const_format(SPEW_OBJ, "{{- spew_printf \"%v\\n\" $OBJ }}"), ""),
        case("spew_printf", const_format(SPEW_OBJ, "{{ spew_printf \"%+v\\n\" $OBJ }}"), ""),
        case("spew_printf", const_format(SPEW_OBJ, "{{ spew_printf \"%#v\\n\" $OBJ }}"), ""),
        case("spew_printf", const_format(SPEW_OBJ, "{{ spew_printf \"%#+v\\n\" $OBJ }}"), ""),
    ]
}

/// `a` followed by `b`, for the life of the test.
fn const_format(a: &str, b: &str) -> &'static str {
    Box::leak(format!("{a}{b}").into_boxed_str())
}

/// A datacenter whose own node is 10.4.2.13, with node2 at 10.46.2.5.
pub fn nodes() -> Vec<Case> {
    vec![
        case(
            "nodes",
            "{{ range nodes }}\n{{ .Address }}{{ end }}",
            "\n10.4.2.13\n10.46.2.5",
        ),
        case(
            "nodes",
            "{{ range nodes \"?ns=namespace&partition=partition\" }}\n{{ .Address }}{{ end }}",
            "\n10.4.2.13\n10.46.2.5",
        ),
        // No service/redis/maxconns here: the docs' output.
        case(
            "keyOrDefault",
            "{{ keyOrDefault \"service/redis/maxconns\" \"5\" }}",
            "5",
        ),
        case(
            "explode",
            "{{ with tree \"config\" | explode }}\n{{ .a.b.c }}{{ end }}",
            "\ndeep",
        ),
    ]
}

/// Datacenter dc2, its node1 at 10.4.2.6.
pub fn dc2() -> Vec<Case> {
    vec![
        case("node", "{{ with node \"node1@dc2\" }}\n{{ .Node.Address }}{{ end }}", "\n10.4.2.6"),
        case("nodes", "{{ range nodes \"@dc2~_agent\" }}\n{{ .Address }}{{ end }}", "\n10.4.2.6"),
        // The docs print `"minconns":"2", "queryparams"` with a space.
        case("toUnescapedJSON", "{{ tree \"config\" | explode | toUnescapedJSON }}", "{\"admin\":{\"port\":\"1234\"},\"maxconns\":\"5\",\"minconns\":\"2\",\"queryparams\":\"a?b=c&d=e\"}"),
        case("toUnescapedJSONPretty", "{{ tree \"config\" | explode | toUnescapedJSONPretty }}", "{\n  \"admin\": {\n    \"port\": \"1234\"\n  },\n  \"maxconns\": \"5\",\n  \"minconns\": \"2\",\n  \"queryparams\": \"a?b=c&d=e\"\n}"),
    ]
}

/// Datacenter east-aws.
pub fn east() -> Vec<Case> {
    vec![
        // The docs write the argument unquoted (a parse error: see FAILS).
        case("service", "{{ range service \"tag1.web@east-aws\" }}\nserver {{ .Name }} {{ .Address }}:{{ .Port }}{{ end }}", "\nserver web 10.9.0.2:80"),
    ]
}

/// (section, template, part of the error) for the documented examples
/// that fail: Vault, Nomad and Connect's CA (templater reads neither),
/// admin partitions (Consul Enterprise), and examples wrong as written.
pub const FAILS: &[(&str, &str, &str)] = &[
    ("caLeaf", "{{ with caLeaf \"proxy\" }}{{ .CertPEM }}{{ end }}", "caLeaf reads Connect's CA"),
    ("caRoots", "{{ range caRoots }}{{ .RootCertPEM }}{{ end }}", "caRoots reads Connect's CA"),
    ("partitions", "{{ range partitions }}\n{{ . }}{{ end }}", "admin partitions are a Consul Enterprise feature"),
    ("secret", "{{ with secret \"secret/passwords\" }}\n{{ .Data.wifi }}{{ end }}", "secret reads Vault"),
    ("secret", "{{ with secret \"secret/passwords?version=1\" }}\n{{ .Data.data.wifi }}{{ end }}", "secret reads Vault"),
    ("secret", "{{ with secret \"pki/issue/my-domain-dot-com\" \"common_name=foo.example.com\" }}\n{{ .Data.certificate }}{{ end }}", "secret reads Vault"),
    ("secret", "{{with secret \"/auth/token/create\" \"policies=policy_1\" \"no_default_policy=true\"}}\n{{.Auth.ClientToken}}{{ end }}", "secret reads Vault"),
    ("secret", "{{ with secret \"secret/foo\"}}\n{{ if .Data.password }}\npassword = \"{{ .Data.password }}\"\n{{ end }}\n{{ end }}", "secret reads Vault"),
    ("secrets", "{{ range secrets \"secret/\" }}\n{{ . }}{{ end }}", "secrets reads Vault"),
    ("secrets", "{{ range secrets \"secret/\" }}\n{{ with secret (printf \"secret/%s\" .) }}{{ range $k, $v := .Data }}\n{{ $k }}: {{ $v }}\n{{ end }}{{ end }}{{ end }}", "secrets reads Vault"),
    ("pkiCert", "{{ with pkiCert \"pki/issue/my-domain-dot-com\" \"common_name=foo.example.com\" }}\nCertificate: {{ .Cert }}\nPrivate Key: {{ .Key }}\nCert Authority: {{ .CA }}\n{{ end }}", "pkiCert reads Vault"),
    ("pkiCert", "{{ with pkiCert \"pki/issue/my-domain-dot-com\" \"common_name=foo.example.com\" }}\nPrivate Key: {{ .Key }}\nCert Authority: {{ .CA }}\n{{ end }}\n{{ with secret \"pki/cert/ca_chain\" }}\nCA+Chain: {{ .Data.ca_chain }}\n{{ end }}", "pkiCert reads Vault"),
    ("pkiCert", "{{- with pkiCert \"pki/issue/my-domain-dot-com\" \"common_name=foo.example.com\" -}}\n{{ .Cert }}{{ .CA }}{{ .Key }}\n{{ .Key | writeToFile \"/my/path/to/cert.key\" \"root\" \"root\" \"0400\" }}\n{{ .CA | writeToFile \"/my/path/to/cert.pem\" \"root\" \"root\" \"0644\" }}\n{{ .Cert | writeToFile \"/my/path/to/cert.pem\" \"root\" \"root\" \"0644\" \"append\" }}\n{{- end -}}", "pkiCert reads Vault"),
    ("nomadServices", "{{ range nomadServices }}\n  {{ .Name .Tags }}\n{{ end }}", "nomadServices reads Nomad"),
    ("nomadService", "{{ range nomadService \"my-app\" }}\n  {{ .Address }} {{ .Port }}\n{{ end}}", "nomadService reads Nomad"),
    ("nomadService", "{{$allocID := env \"NOMAD_ALLOC_ID\" -}}\n{{range nomadService 3 $allocID \"redis\"}}\n  {{.Address}} {{.Port}} | {{.Tags}} @ {{.Datacenter}}\n{{- end}}", "nomadService reads Nomad"),
    ("nomadVarList", "{{ range nomadVarList }}\n  {{ . }}\n{{ end }}", "nomadVarList reads Nomad"),
    ("nomadVarList", "{{ range nomadVarList \"path/to/filter\"}}\n  {{ . }}\n{{ end }}", "nomadVarList reads Nomad"),
    ("nomadVar", "{{ with nomadVar \"nomad/jobs/redis\" }}{{ .maxconns }}{{ end }}", "nomadVar reads Nomad"),
    ("nomadVarExists", "{{ if nomadVarExists \"app/beta_active\" }}\n  # ...\n{{ else }}\n  # ...\n{{ end }}", "nomadVarExists reads Nomad"),
    // `tree` gives a list: indexing it by a node name is an error.
    ("byKey", "{{ $weights := tree \"weights\" }}\n{{ range service \"release.web\" }}\n  {{ $weight := or (index $weights .Node) 100 }}\n  server {{ .Node }} {{ .Address }}:{{ .Port }} weight {{ $weight }}{{ end }}", "cannot index slice/array with type string"),
    // The docs leave the argument unquoted.
    ("service", "{{ range service tag1.web@east-aws }}\nserver {{ .Name }} {{ .Address }}:{{ .Port }}{{ end }}", "function \"tag1\" not defined"),
    // `loop key "config/pool_size"` calls key with no argument.
    ("parseInt", "{{ range $i := loop key \"config/pool_size\" | parseInt }}\n# ...{{ end }}", "wrong number of args for key: want 1 got 0"),
    // `{{ service "web" }}` opens no block for `{{ end }}` to close.
    ("replaceAll", "{{ service \"web\" }}{{ .Name | replaceAll \":\" \"_\" }}{{ end }}", "unexpected {{end}}"),
    // No user my-user on this machine.
    ("writeToFile", "{{ key \"my/key/path\" | writeToFile \"{{DIR}}/w3.txt\" \"my-user\" \"my-group\" \"0644\" }}", "my-user"),
];
