//! consul-template's documented examples (docs/templating-language.md) of
//! the functions that need no Consul: each template as the docs show it,
//! with the output the docs show, or, where they show none, the output
//! consul-template's code gives (said in a comment). Examples that read
//! Consul, files, the environment of a real process, plugins or stdout are
//! in templater/tests/ct_docs.rs.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use gotemplate::{Funcs, MissingKey, Options, Template, Value};

fn funcs() -> Funcs {
    let env = ctfuncs::Env {
        vars: Arc::new(HashMap::from([(
            "CLUSTER_ID".to_string(),
            "Prod-1".to_string(),
        )])),
        ..ctfuncs::Env::default()
    };
    let mut f = Funcs::new();
    ctfuncs::install(&mut f, &env);
    f
}

/// Renders `text` as consul-template does (missing keys give zero values).
fn render(f: &Funcs, text: &str) -> Result<String, String> {
    let opts = Options {
        missing_key: MissingKey::Zero,
        ..Options::default()
    };
    Template::parse("docs", text, f, &opts)
        .and_then(|t| t.execute(&Value::Missing))
        .map_err(|e| e.to_string())
}

/// (section, template, output).
const RENDERS: &[(&str, &str, &str)] = &[
    // Scratch: the docs show no output; consul-template's Scratch methods
    // return false, nil (printed <no value>), "" and an empty list here.
    ("scratch.Key", r#"{{ scratch.Key "foo" }}"#, "false"),
    ("scratch.Get", r#"{{ scratch.Get "foo" }}"#, "<no value>"),
    ("scratch.Set", r#"{{ scratch.Set "foo" "bar" }}"#, ""),
    ("scratch.SetX", r#"{{ scratch.SetX "foo" "bar" }}"#, ""),
    ("scratch.MapSet", r#"{{ scratch.MapSet "vars" "foo" "bar" }}"#, ""),
    ("scratch.MapSetX", r#"{{ scratch.MapSetX "vars" "foo" "bar" }}"#, ""),
    ("scratch.MapValues", r#"{{ scratch.MapValues "vars" }}"#, "[]"),
    ("base64Decode", r#"{{ base64Decode "aGVsbG8=" }}"#, "hello"),
    ("base64Encode", r#"{{ base64Encode "hello" }}"#, "aGVsbG8="),
    ("base64URLDecode", r#"{{ base64URLDecode "aGVsbG8=" }}"#, "hello"),
    // The docs' base64URLEncode section shows base64Encode.
    ("base64URLEncode", r#"{{ base64Encode "hello" }}"#, "aGVsbG8="),
    ("env", r#"{{ env "CLUSTER_ID" }}"#, "Prod-1"),
    ("env", r#"{{ env "CLUSTER_ID" | toLower }}"#, "prod-1"),
    ("env", r#"{{ or (env "CLUSTER_ID") "12345" }}"#, "Prod-1"),
    ("mustEnv", r#"{{ mustEnv "CLUSTER_ID" }}"#, "Prod-1"),
    ("envOrDefault", r#"{{ envOrDefault "CLUSTER_NAME" "Default_Cluster" }}"#, "Default_Cluster"),
    ("envOrDefault", r#"{{ envOrDefault "CLUSTER_NAME" "Default_Cluster"  | toLower }}"#, "default_cluster"),
    ("envOrDefault", r#"{{ or (env "TIMEOUT_CONNECT") "5s" }}"#, "5s"),
    (
        "executeTemplate",
        "{{ define \"custom\" }}my custom template{{ end }}\n\nThis is my other template:\n{{ executeTemplate \"custom\" }}\n\nAnd I can call it multiple times:\n{{ executeTemplate \"custom\" }}\n\nEven with a new context:\n{{ executeTemplate \"custom\" 42 }}\n\nOr save it to a variable:\n{{ $var := executeTemplate \"custom\" }}",
        "\n\nThis is my other template:\nmy custom template\n\nAnd I can call it multiple times:\nmy custom template\n\nEven with a new context:\nmy custom template\n\nOr save it to a variable:\n",
    ),
    (
        "explodeMap",
        "{{ scratch.MapSet \"example\" \"foo/bar\" \"a\" }}\n{{ scratch.MapSet \"example\" \"foo/baz\" \"b\" }}\n{{ scratch.Get \"example\" | explodeMap | toYAML }}",
        "\n\nfoo:\n  bar: a\n  baz: b",
    ),
    ("loop", "{{ range loop 5 }}\n# Comment{{end}}", "\n# Comment\n# Comment\n# Comment\n# Comment\n# Comment"),
    ("loop", "{{ range $i := loop 5 8 }}\nstanza-{{ $i }}{{ end }}", "\nstanza-5\nstanza-6\nstanza-7"),
    // The docs say "# Will NOT work!": Go releases after 1.19 refuse two
    // variables over a channel; Go 1.19's text/template, which gotemplate
    // follows, gives the index and the element.
    ("loop", "{{ range $i, $e := loop 5 8 }}\n# ...{{ end }}", "\n# ...\n# ...\n# ..."),
    // The docs' join example uses an undefined $items; with it defined:
    ("join", r#"{{ $items := split " " "a b c" }}{{ $items | join "," }}"#, "a,b,c"),
    ("trim", r#"{{ "hello world!!" | trim "!!" }}"#, "hello world"),
    ("trimPrefix", r#"{{ "hello world!!" | trimPrefix "hello" }}"#, " world!!"),
    ("trimSuffix", r#"{{ "hello world!!" | trimSuffix "world!!" }}"#, "hello "),
    ("parseBool", r#"{{ "true" | parseBool }}"#, "true"),
    ("parseFloat", r#"{{ "1.2" | parseFloat }}"#, "1.2"),
    ("parseInt", r#"{{ "1" | parseInt }}"#, "1"),
    ("parseUint", r#"{{ "1" | parseUint }}"#, "1"),
    ("regexMatch", "{{ if \"foo.bar\" | regexMatch \"foo([.a-z]+)\" }}\n# ...\n{{ else }}\n# ...\n{{ end }}", "\n# ...\n"),
    ("regexReplaceAll", r#"{{ "foo.bar" | regexReplaceAll "foo([.a-z]+)" "$1" }}"#, ".bar"),
    ("replaceAll", r#"{{ "foo.bar" | replaceAll "." "_" }}"#, "foo_bar"),
    ("sha256Hex", r#"{{ "bladibla" | sha256Hex }}"#, "54cf4c66bcabb5c20e25331c01dd600b73369e97a947861bd8d3a0e0b8b3d70b"),
    ("md5sum", r#"{{ "myString" | md5sum }}"#, "91c65b6feeb5a6ad66b30e2ebd9405e1"),
    ("hmacSHA256Hex", r#"{{ hmacSHA256Hex "somemessage" "somekey" }}"#, "6116e95f2827172aa6ef8b22b883f6a77e966aefc129c6b8228ebd0aac74e98d"),
    ("hmacSHA256Hex", r#"{{ "somekey" | hmacSHA256Hex "somemessage" }}"#, "6116e95f2827172aa6ef8b22b883f6a77e966aefc129c6b8228ebd0aac74e98d"),
    ("split", r#"{{ "foo\nbar\n" | split "\n" }}"#, "[foo bar]"),
    ("splitToMap", r#"{{ "foo:bar\nbaz:bat\n" | splitToMap "\n" ":" }}"#, "map[baz:bat foo:bar]"),
    // Math: the docs' "// 3" comments are template text, printed as is.
    ("add", "{{ add 1 2 }} // 3", "3 // 3"),
    ("add", "{{ 1 | add 2 }} // 3", "3 // 3"),
    ("subtract", "{{ subtract 2 5 }} // 3", "3 // 3"),
    ("subtract", "{{ 5 | subtract 2 }} // 3", "3 // 3"),
    ("multiply", "{{ multiply 2 2 }} // 4", "4 // 4"),
    ("multiply", "{{ 2 | multiply 2 }} // 4", "4 // 4"),
    ("divide", "{{ divide 2 10 }} // 5", "5 // 5"),
    ("divide", "{{ 10 | divide 2 }} // 5", "5 // 5"),
    ("modulo", "{{ modulo 2 5 }} // 1", "1 // 1"),
    ("modulo", "{{ 5 | modulo 2 }} // 1", "1 // 1"),
    ("minimum", "{{ minimum 2 5 }} // 2", "2 // 2"),
    ("minimum", "{{ 5 | minimum 2 }} // 2", "2 // 2"),
    // The docs' comment says 2; the maximum of 2 and 5 is 5.
    ("maximum", "{{ maximum 2 5 }} // 2", "5 // 2"),
    ("maximum", "{{ 5 | maximum 2 }} // 2", "5 // 2"),
    // spew_sprintf has no example; spew_printf's, with Sprintf's result:
    (
        "spew_sprintf",
        "{{- $JSON := `{ \"foo\": { \"bar\":true, \"baz\":\"string\", \"theAnswer\":42} }` -}}\n{{- $OBJ := parseJSON $JSON -}}\n{{ spew_sprintf \"%v|%+v|%#v\" $OBJ $OBJ $OBJ }}",
        "map[foo:map[bar:true baz:string theAnswer:42]]|map[foo:map[bar:true baz:string theAnswer:42]]|(map[string]interface {})map[foo:(map[string]interface {})map[bar:(bool)true baz:(string)string theAnswer:(float64)42]]",
    ),
];

/// (section, template, a part of the error) for documented examples that
/// fail in consul-template as written.
const FAILS: &[(&str, &str, &str)] = &[
    // `$items` is never defined in the docs' snippet.
    (
        "join",
        r#"{{ $items | join "," }}"#,
        "undefined variable \"$items\"",
    ),
    (
        "containsAll",
        "{{ if containsAll $requiredTags .Tags }}\n# ...\n{{ end }}",
        "undefined variable \"$requiredTags\"",
    ),
];

#[test]
fn documented_helper_examples_render_as_documented() {
    let f = funcs();
    let mut failures = Vec::new();
    for (section, text, want) in RENDERS {
        match render(&f, text) {
            Ok(out) if out == *want => {}
            other => failures.push(format!(
                "{section}: {text:?}\n  want {want:?}\n  got  {other:?}"
            )),
        }
    }
    for (section, text, want) in FAILS {
        match render(&f, text) {
            Err(e) if e.contains(want) => {}
            other => failures.push(format!(
                "{section}: {text:?}\n  want an error with {want:?}\n  got  {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn documented_sockaddr_example_gives_this_hosts_private_ip() {
    let out = render(&funcs(), r#"{{ sockaddr "GetPrivateIP" }}"#).unwrap();
    assert!(
        out.is_empty() || out.parse::<std::net::IpAddr>().is_ok(),
        "{out:?}"
    );
    let all = render(
        &funcs(),
        r#"{{ sockaddr "GetPrivateInterfaces | attr \"address\"" }}"#,
    )
    .unwrap();
    assert_eq!(
        out, all,
        "GetPrivateIP is the first private interface's address"
    );
}
