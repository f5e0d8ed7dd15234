//! Every case of `golden/cases.txt` rendered here and compared, byte for
//! byte, with what Go's own `text/template` rendered (`golden/expected.json`,
//! made by `golden/gen.go`). Where Go fails, this must fail too, and with
//! Go's message once the location prefix is set aside.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{
    FuncError, Funcs, Key, List, Map, MissingKey, Options, Struct, Template, Type, Value, Zero,
    ANY_LIST, ANY_MAP, STRING_LIST, STRING_MAP,
};

static S: Type = Type {
    name: "main.S",
    fields: &["Name", "Port", "Tags", "Meta"],
    elem: Zero::Interface,
    methods: &[],
};
static S_PTR: Type = Type {
    name: "*main.S",
    fields: &["Name", "Port", "Tags", "Meta"],
    elem: Zero::Interface,
    methods: &[],
};
static INT_LIST: Type = Type::named("[]int", Zero::Int);
static INT_STRING_MAP: Type = Type::named("map[int]string", Zero::Str);

fn strings(items: &[&str]) -> Value {
    Value::List(Arc::new(List::typed(
        items.iter().map(|s| Value::str(s)).collect(),
        &STRING_LIST,
    )))
}

fn string_map(items: &[(&str, &str)]) -> Value {
    Value::Map(Arc::new(Map::typed(
        items
            .iter()
            .map(|(k, v)| (Key::from(*k), Value::str(v)))
            .collect(),
        &STRING_MAP,
    )))
}

fn any_map(items: Vec<(&str, Value)>) -> Value {
    Value::Map(Arc::new(Map::typed(
        items.into_iter().map(|(k, v)| (Key::from(k), v)).collect(),
        &ANY_MAP,
    )))
}

fn s(ty: &'static Type, name: &str, port: i64, tags: &[&str], meta: &[(&str, &str)]) -> Value {
    Value::Struct(Arc::new(Struct::new(
        ty,
        vec![
            Value::str(name),
            Value::Int(port),
            strings(tags),
            string_map(meta),
        ],
    )))
}

fn dataset(name: &str) -> Value {
    match name {
        "nil" => Value::Missing,
        "list" => Value::List(Arc::new(List::typed(
            vec![Value::str("a"), Value::str("b"), Value::str("c")],
            &ANY_LIST,
        ))),
        "basic" => {
            let mut m: BTreeMap<Key, Value> = BTreeMap::new();
            let mut put = |k: &str, v: Value| {
                m.insert(Key::from(k), v);
            };
            put("Name", Value::str("web"));
            put("Port", Value::Int(80));
            put("Float", Value::Float(1.5));
            put("Big", Value::Float(1e6));
            put("Neg", Value::Int(-3));
            put("U", Value::Uint(7));
            put("True", Value::Bool(true));
            put("False", Value::Bool(false));
            put("Tags", strings(&["b", "a"]));
            put("Empty", strings(&[]));
            put(
                "Ints",
                Value::List(Arc::new(List::typed(
                    vec![Value::Int(3), Value::Int(1), Value::Int(2)],
                    &INT_LIST,
                ))),
            );
            put(
                "Mixed",
                Value::list(vec![
                    Value::str("x"),
                    Value::Int(1),
                    Value::Float(2.5),
                    Value::Nil,
                    Value::Bool(true),
                ]),
            );
            put("Meta", string_map(&[("env", "prod"), ("zone", "a")]));
            put(
                "Any",
                any_map(vec![
                    ("k", Value::str("v")),
                    ("n", Value::Int(1)),
                    ("nested", any_map(vec![("x", Value::Int(1))])),
                ]),
            );
            put(
                "IntKeys",
                Value::Map(Arc::new(Map::typed(
                    [
                        (Key::Int(443), Value::str("https")),
                        (Key::Int(80), Value::str("http")),
                    ]
                    .into_iter()
                    .collect(),
                    &INT_STRING_MAP,
                ))),
            );
            put("Struct", s(&S, "s", 1, &["t"], &[]));
            put("Ptr", s(&S_PTR, "p", 2, &[], &[("a", "b")]));
            put("Nil", Value::Nil);
            put("Str", Value::str("hello, world"));
            put("Unicode", Value::str("héllo 🚀"));
            put("Html", Value::str(r#"<a href="x">'&'</a>"#));
            Value::Map(Arc::new(Map::typed(m, &ANY_MAP)))
        }
        other => panic!("unknown dataset {other}"),
    }
}

fn funcs() -> Funcs {
    let mut f = Funcs::new();
    f.add("fail", 0, Some(0), |_, _| {
        Err(FuncError::Call("it failed".into()))
    });
    f.add_fixed("upper", 1, |a| match &a[0] {
        Value::Str(s) => Ok(Value::from(s.to_uppercase())),
        other => Err(FuncError::Arg(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    });
    f.add("list", 0, None, |_, a| Ok(Value::list(a.to_vec())));
    f
}

struct Case {
    name: String,
    data: String,
    missing: MissingKey,
    delims: Option<(String, String)>,
    text: String,
}

fn cases() -> Vec<Case> {
    let src = include_str!("golden/cases.txt");
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
                missing: match parts[2] {
                    "zero" => MissingKey::Zero,
                    "error" => MissingKey::Error,
                    _ => MissingKey::Default,
                },
                delims: parts.get(3).map(|d| {
                    let mut it = d.split_whitespace();
                    (it.next().unwrap().into(), it.next().unwrap().into())
                }),
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
    let rest = match rest.find(": executing ") {
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
    };
    rest
}

/// Cases where both fail and the messages differ on purpose.
const OWN_MESSAGE: &[(&str, &str)] = &[
    ("field-on-string", "names the value's type (string), where Go names the map's element type (interface {})"),
    ("struct-missing-field", "names the value's type (main.S), where Go names interface {}"),
    ("recursion", "the template call limit is 100 (stack safety), Go's 100,000"),
    ("index-out-of-range", "Go 1.20 and later say \"index out of range: 2\"; Go 1.19's reflect panic text is an accident"),
];

#[test]
fn renders_what_go_renders() {
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("golden/expected.json")).unwrap();
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
        let mut opts = Options {
            missing_key: c.missing,
            ..Options::default()
        };
        if let Some((l, r)) = &c.delims {
            opts.left_delim = l.clone();
            opts.right_delim = r.clone();
        }
        let got = Template::parse(&c.name, &c.text, &funcs, &opts)
            .and_then(|t| t.execute(&dataset(&c.data)));
        let want_err = want["err"].as_str();
        match (got, want_err) {
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
