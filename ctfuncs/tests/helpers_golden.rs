//! Every case of `helpers_golden/cases.txt` rendered with ctfuncs' helpers
//! and compared, byte for byte, with what Go rendered with consul-template's
//! helpers re-implemented on Go's libraries (`helpers_golden/gen.go`, which
//! wrote `helpers_golden/expected.json`). Where Go fails, this must fail too,
//! and with Go's message once the location prefix is set aside (but for the
//! cases listed in `OWN_MESSAGE`).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gotemplate::{
    Funcs, Key, List, Map, MissingKey, Options, Struct, Template, Type, Value, Zero, ANY_LIST,
    ANY_MAP, STRING_LIST, STRING_MAP,
};

static KEY_PAIR: Type = Type {
    name: "*main.KeyPair",
    fields: &[
        "Path",
        "Key",
        "Value",
        "CreateIndex",
        "ModifyIndex",
        "LockIndex",
        "Flags",
        "Session",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static KEY_PAIRS: Type = Type::named("[]*main.KeyPair", Zero::Pointer);
static HEALTH: Type = Type {
    name: "*main.HealthService",
    fields: &[
        "Node",
        "Address",
        "ID",
        "Name",
        "Tags",
        "ServiceMeta",
        "Port",
    ],
    elem: Zero::Interface,
    methods: &[],
};
static HEALTHS: Type = Type::named("[]*main.HealthService", Zero::Pointer);
static CATALOG: Type = Type {
    name: "*main.CatalogService",
    fields: &["ServiceName", "ServiceTags", "ServicePort"],
    elem: Zero::Interface,
    methods: &[],
};
static CATALOGS: Type = Type::named("[]*main.CatalogService", Zero::Pointer);
static SNIPPET: Type = Type {
    name: "*main.CatalogSnippet",
    fields: &["Name", "Tags"],
    elem: Zero::Interface,
    methods: &[],
};
static SNIPPETS: Type = Type::named("[]*main.CatalogSnippet", Zero::Pointer);

fn strs(items: &[&str]) -> Value {
    Value::List(Arc::new(List::typed(
        items.iter().map(|s| Value::str(s)).collect(),
        &STRING_LIST,
    )))
}

fn smap(items: &[(&str, &str)]) -> Value {
    Value::Map(Arc::new(Map::typed(
        items
            .iter()
            .map(|(k, v)| (Key::from(*k), Value::str(v)))
            .collect(),
        &STRING_MAP,
    )))
}

fn amap(items: Vec<(&str, Value)>) -> Value {
    Value::Map(Arc::new(Map::typed(
        items.into_iter().map(|(k, v)| (Key::from(k), v)).collect(),
        &ANY_MAP,
    )))
}

fn list(ty: &'static Type, items: Vec<Value>) -> Value {
    Value::List(Arc::new(List::typed(items, ty)))
}

fn st(ty: &'static Type, fields: Vec<Value>) -> Value {
    Value::Struct(Arc::new(Struct::new(ty, fields)))
}

fn pair(
    path: &str,
    key: &str,
    value: &str,
    create: u64,
    modify: u64,
    flags: u64,
    session: &str,
) -> Value {
    st(
        &KEY_PAIR,
        vec![
            Value::str(path),
            Value::str(key),
            Value::str(value),
            Value::Uint(create),
            Value::Uint(modify),
            Value::Uint(0),
            Value::Uint(flags),
            Value::str(session),
        ],
    )
}

fn health(
    node: &str,
    addr: &str,
    id: &str,
    tags: &[&str],
    meta: &[(&str, &str)],
    port: i64,
) -> Value {
    st(
        &HEALTH,
        vec![
            Value::str(node),
            Value::str(addr),
            Value::str(id),
            Value::str(if node.is_empty() { "" } else { "redis" }),
            strs(tags),
            smap(meta),
            Value::Int(port),
        ],
    )
}

fn dataset(name: &str) -> Value {
    match name {
        "nil" => Value::Missing,
        "kv" => list(
            &KEY_PAIRS,
            vec![
                pair("config/", "", "", 0, 0, 0, ""),
                pair("config/admin/port", "admin/port", "1134", 7, 9, 0, ""),
                pair("config/maxconns", "maxconns", "5", 0, 0, 0, ""),
                pair("config/minconns", "minconns", "2", 0, 0, 0, ""),
                pair(
                    "config/nested/config/value",
                    "nested/config/value",
                    "x<&>y",
                    0,
                    0,
                    0,
                    "",
                ),
                pair(
                    "config/groups/elasticsearch/es1",
                    "groups/elasticsearch/es1",
                    "1",
                    0,
                    0,
                    42,
                    "",
                ),
                pair(
                    "config/groups/elasticsearch/es2",
                    "groups/elasticsearch/es2",
                    "1",
                    0,
                    0,
                    0,
                    "s-1",
                ),
            ],
        ),
        "conflict" => list(
            &KEY_PAIRS,
            vec![
                pair("", "a", "x", 0, 0, 0, ""),
                pair("", "a/b", "y", 0, 0, 0, ""),
            ],
        ),
        "services" => list(
            &HEALTHS,
            vec![
                health(
                    "node1",
                    "10.0.0.1",
                    "redis-dev-1",
                    &["prod", "v1"],
                    &[("environment", "dev"), ("shard_number", "1")],
                    6379,
                ),
                health(
                    "node2",
                    "10.0.0.2",
                    "redis-prod-1",
                    &["prod", "us-realm"],
                    &[("environment", "prod"), ("shard_number", "1")],
                    6380,
                ),
                health(
                    "node3",
                    "10.0.0.3",
                    "redis-prod-2",
                    &["staging"],
                    &[("environment", "prod east"), ("shard_number", "12")],
                    6379,
                ),
                health("node4", "10.0.0.4", "redis-x", &[], &[], 6381),
            ],
        ),
        "badmeta" => list(
            &HEALTHS,
            vec![health("", "", "a", &[], &[("shard", "one")], 0)],
        ),
        "catalog" => list(
            &CATALOGS,
            vec![
                st(
                    &CATALOG,
                    vec![Value::str("web"), strs(&["a", "b"]), Value::Int(80)],
                ),
                st(
                    &CATALOG,
                    vec![Value::str("api"), strs(&["b"]), Value::Int(8080)],
                ),
                st(
                    &CATALOG,
                    vec![Value::str("web2"), Value::Nil, Value::Int(80)],
                ),
            ],
        ),
        "snippets" => list(
            &SNIPPETS,
            vec![
                st(&SNIPPET, vec![Value::str("consul"), strs(&[])]),
                st(&SNIPPET, vec![Value::str("web"), strs(&["http", "prod"])]),
                st(&SNIPPET, vec![Value::str("db"), strs(&["prod"])]),
            ],
        ),
        "data" => {
            let mut m: BTreeMap<Key, Value> = BTreeMap::new();
            let mut put = |k: &str, v: Value| {
                m.insert(Key::from(k), v);
            };
            put("Str", Value::str("hello, world"));
            put("Int", Value::Int(42));
            put("Neg", Value::Int(-7));
            put("U", Value::Uint(7));
            put("Float", Value::Float(2.5));
            put("True", Value::Bool(true));
            put(
                "List",
                list(
                    &ANY_LIST,
                    vec![
                        Value::str("a"),
                        Value::Int(1),
                        Value::Float(2.5),
                        Value::Bool(true),
                        Value::Nil,
                    ],
                ),
            );
            put("Strs", strs(&["b", "a", "c"]));
            put(
                "Ints",
                list(&ANY_LIST, vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            );
            put(
                "Floats",
                list(&ANY_LIST, vec![Value::Float(1.5), Value::Float(2.0)]),
            );
            put(
                "Map",
                amap(vec![
                    ("a", Value::Int(1)),
                    ("b", amap(vec![("c", Value::str("d"))])),
                    ("e", list(&ANY_LIST, vec![])),
                ]),
            );
            put("SMap", smap(&[("x", "1"), ("y", "2")]));
            put("Empty", amap(vec![]));
            put("Nil", Value::Nil);
            put("Html", Value::str(r#"<a href="x">'&'</a>"#));
            put("Multi", Value::str("line one\nline two\n"));
            Value::Map(Arc::new(Map::typed(m, &ANY_MAP)))
        }
        other => panic!("unknown dataset {other}"),
    }
}

fn funcs() -> Funcs {
    let env = ctfuncs::Env {
        vars: Arc::new(HashMap::from([
            ("CLUSTER_ID".to_string(), "Prod-1".to_string()),
            ("EMPTY".to_string(), String::new()),
            ("HOME".to_string(), "/home/ct".to_string()),
        ])),
        now: || UNIX_EPOCH + Duration::new(1_257_894_000, 12_345_678),
        plugin_timeout: Duration::from_secs(5),
        sandbox: None,
    };
    let mut f = Funcs::new();
    ctfuncs::helpers::install(&mut f, &env);
    golden_sockaddr(&mut f);
    f
}

include!("helpers_golden/sockaddr_fixture.rs");

struct Case {
    name: String,
    data: String,
    text: String,
}

fn cases() -> Vec<Case> {
    let src = include_str!("helpers_golden/cases.txt");
    let mut out: Vec<Case> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    let flush = |out: &mut Vec<Case>, body: &mut Vec<&str>| {
        if let Some(c) = out.last_mut() {
            c.text = body.join("\n");
        }
        body.clear();
    };
    for line in src.lines() {
        if let Some(h) = line.strip_prefix("=== ") {
            flush(&mut out, &mut body);
            let parts: Vec<&str> = h.split('|').map(str::trim).collect();
            out.push(Case {
                name: parts[0].into(),
                data: parts[1].into(),
                text: String::new(),
            });
        } else {
            body.push(line);
        }
    }
    flush(&mut out, &mut body);
    out
}

/// The message of a Go error without `template: NAME:LINE[:COL]: [executing "X" at <Y>: ]`.
fn message(e: &str) -> &str {
    let rest = e.strip_prefix("template: ").unwrap_or(e);
    match rest.find(": executing ") {
        Some(i) => {
            let after = &rest[i + 2..];
            match after.find(">: ") {
                Some(j) => &after[j + 3..],
                None => after,
            }
        }
        None => rest
            .splitn(3, ':')
            .nth(2)
            .map(str::trim_start)
            .unwrap_or(rest),
    }
}

/// Cases where both fail and the messages differ on purpose.
const OWN_MESSAGE: &[(&str, &str)] = &[
    ("executeTemplate-missing", "gotemplate's Context::execute_template says `template \"nope\" not defined` where Go says `no template \"nope\" associated with template \"NAME\"`"),
    ("regex-bad", "the regex crate's wording of a syntax error, after Go's `error parsing regexp` and the pattern"),
    ("sockaddr-interface-ip-bad-re", "the regex crate's wording of a syntax error"),
    ("sockaddr-offset-string", "Go checks a constant argument against the parameter's type at the argument (`at <\"-2\">: expected integer; found \"-2\"`); gotemplate's functions check their arguments when called (`at <offset \"-2\">: wrong type for value; expected int; got string`)"),
    ("sockaddr-limit-type", "as sockaddr-offset-string, for `limit`'s uint"),
    ("sockaddr-arg-type", "as sockaddr-offset-string, for `sockaddr`'s strings"),
];

#[test]
fn helpers_render_what_go_renders() {
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("helpers_golden/expected.json")).unwrap();
    let cases = cases();
    assert_eq!(
        cases.len(),
        expected.len(),
        "run gen.go after editing cases.txt"
    );
    let funcs = funcs();
    let mut failures = Vec::new();
    for (c, want) in cases.iter().zip(&expected) {
        assert_eq!(want["name"], c.name.as_str());
        let opts = Options {
            missing_key: MissingKey::Zero,
            ..Options::default()
        };
        let got = Template::parse(&c.name, &c.text, &funcs, &opts)
            .and_then(|t| t.execute(&dataset(&c.data)));
        match (got, want["err"].as_str()) {
            (Ok(out), None) => {
                if out != want["out"].as_str().unwrap() {
                    failures.push(format!(
                        "{}: output\n  go:   {:?}\n  ours: {:?}",
                        c.name, want["out"], out
                    ));
                }
            }
            (Err(e), Some(w)) => {
                let (ours, go) = (e.to_string(), w.to_string());
                let own = OWN_MESSAGE.iter().any(|(n, _)| *n == c.name);
                if message(&ours) != message(&go) && !own {
                    failures.push(format!("{}: error\n  go:   {go}\n  ours: {ours}", c.name));
                }
            }
            (Ok(out), Some(w)) => {
                failures.push(format!("{}: go failed ({w}), ours gave {out:?}", c.name))
            }
            (Err(e), None) => failures.push(format!(
                "{}: ours failed ({e}), go gave {:?}",
                c.name, want["out"]
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
