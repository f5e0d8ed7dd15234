//! Every case of `sprig_golden/cases.txt` rendered with gotemplate and the
//! Sprig functions of ctfuncs, and compared byte for byte with what Go's
//! text/template and the real Sprig 3.2.3 rendered
//! (`sprig_golden/expected.json`, made by `sprig_golden/gen.go`). Where Go
//! fails, this must fail too, with Go's message once the location prefix
//! is set aside.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{
    Funcs, Key, List, Map, Options, Template, Value, ANY_MAP, STRING_LIST, STRING_MAP,
};

fn strings(items: &[&str]) -> Value {
    Value::List(Arc::new(List::typed(
        items.iter().map(|s| Value::str(s)).collect(),
        &STRING_LIST,
    )))
}

fn any_map(items: Vec<(&str, Value)>) -> Value {
    Value::Map(Arc::new(Map::typed(
        items.into_iter().map(|(k, v)| (Key::from(k), v)).collect(),
        &ANY_MAP,
    )))
}

fn dataset(name: &str) -> Value {
    match name {
        "nil" => Value::Missing,
        "basic" => {
            let mut m: BTreeMap<Key, Value> = BTreeMap::new();
            let mut put = |k: &str, v: Value| {
                m.insert(Key::from(k), v);
            };
            put("Name", Value::str("web"));
            put("Port", Value::Int(80));
            put("Float", Value::Float(1.5));
            put("U", Value::Uint(7));
            put("True", Value::Bool(true));
            put("Tags", strings(&["b", "a", "c"]));
            put("Empty", strings(&[]));
            put(
                "Ints",
                Value::list(vec![Value::Int(3), Value::Int(1), Value::Int(2)]),
            );
            put(
                "Mixed",
                Value::list(vec![
                    Value::str("x"),
                    Value::Int(1),
                    Value::Float(2.5),
                    Value::Nil,
                    Value::Bool(true),
                    Value::str(""),
                ]),
            );
            put(
                "Meta",
                Value::Map(Arc::new(Map::typed(
                    [("env", "prod"), ("zone", "a")]
                        .iter()
                        .map(|(k, v)| (Key::from(*k), Value::str(v)))
                        .collect(),
                    &STRING_MAP,
                ))),
            );
            put(
                "Any",
                any_map(vec![
                    ("k", Value::str("v")),
                    ("n", Value::Int(1)),
                    (
                        "nested",
                        any_map(vec![
                            ("x", Value::Int(1)),
                            ("y", any_map(vec![("z", Value::str("deep"))])),
                        ]),
                    ),
                ]),
            );
            put("Nil", Value::Nil);
            put("Str", Value::str("hello, world"));
            put("Unicode", Value::str("héllo wörld 🚀"));
            Value::Map(Arc::new(Map::typed(m, &ANY_MAP)))
        }
        other => panic!("unknown dataset {other}"),
    }
}

struct Case {
    name: String,
    data: String,
    text: String,
}

fn cases() -> Vec<Case> {
    let src = include_str!("sprig_golden/cases.txt");
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

/// Cases whose output or message differs from Go's on purpose: the case,
/// what ours gives (the output, or the error's message), and why.
const DIFFERENT: &[(&str, &str, &str)] = &[
    (
        "dateModify-not-time",
        "wrong type for value; expected time.Time; got string",
        "a literal of the wrong type: Go's evaluator says \"can't handle \"x\" for arg of type \
         time.Time\" before the call; functions here see values, not literals, and give the \
         message Go gives for a piped value (\"wrong type for value; expected time.Time; got string\")",
    ),
    (
        "duration",
        "1m35s",
        "Sprig's duration reads int64 and ignores int (\"0s\"); template integers are one type \
         here, read as int64, so a literal 95 gives 1m35s",
    ),
    (
        "genCA",
        "error calling sprig_genCA: generating keys and certificates is not supported here: a new key on every render would rewrite the file and restart its service each time; make them once outside the template (openssl, Vault, consul tls) and read them with file or key",
        "the key and certificate generators fail with this error (see ctfuncs::sprig::crypto)",
    ),
    (
        "genPrivateKey-unknown",
        "error calling sprig_genPrivateKey: generating keys and certificates is not supported here: a new key on every render would rewrite the file and restart its service each time; make them once outside the template (openssl, Vault, consul tls) and read them with file or key",
        "the key and certificate generators fail with this error (see ctfuncs::sprig::crypto)",
    ),
    (
        "int64-type",
        "int int",
        "gotemplate has one integer type: Sprig's int64 results are `int` to typeOf/kindOf/%T \
         (printing and arithmetic are the same)",
    ),
    (
        "nil-slice-json",
        "[]",
        "template values do not tell a nil slice from an empty one: toJson gives [] where Go \
         gives null for Sprig's nil results (rest/initial of an empty list)",
    ),
    (
        "set-mutates",
        "map[a:1]",
        "Go maps are references: set, unset, merge and mergeOverwrite change the map passed in. \
         gotemplate values are immutable, so these return the changed map and leave the \
         variable as it was (`$d = set $d k v` works, see set-returns)",
    ),
];

#[test]
fn renders_what_go_and_sprig_render() {
    // Sprig's "Local" zone is UTC in gen.go; the same here.
    std::env::set_var("TZ", "UTC");
    std::env::set_var("SPRIG_GOLDEN", "from env");
    std::env::remove_var("SPRIG_GOLDEN_UNSET");
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("sprig_golden/expected.json")).unwrap();
    let cases = cases();
    assert_eq!(
        cases.len(),
        expected.len(),
        "run gen.go after editing cases.txt"
    );
    let mut funcs = Funcs::new();
    ctfuncs::sprig::install(&mut funcs, "sprig_");
    let mut failures = Vec::new();
    for (c, want) in cases.iter().zip(&expected) {
        assert_eq!(want["name"], c.name.as_str());
        let got = Template::parse(&c.name, &c.text, &funcs, &Options::default())
            .and_then(|t| t.execute(&dataset(&c.data)));
        if let Some((_, ours, _)) = DIFFERENT.iter().find(|(n, _, _)| *n == c.name) {
            let got = match got {
                Ok(out) => out,
                Err(e) => message(&e.to_string()).to_string(),
            };
            if got != *ours {
                failures.push(format!(
                    "{}: ours changed: {got:?}, listed {ours:?}",
                    c.name
                ));
            }
            continue;
        }
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
                let ours = e.to_string();
                if message(&ours) != message(w) {
                    failures.push(format!("{}: error\n  go:   {w}\n  ours: {ours}", c.name));
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
