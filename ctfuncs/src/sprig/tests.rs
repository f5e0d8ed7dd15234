//! Every Sprig function called with odd arguments of every kind: none may
//! panic, and each returns a value or an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{Funcs, Key, List, Map, Options, Template, Value, STRING_LIST, STRING_MAP};

/// Functions too slow to call thousands of times in a debug build (by
/// design: bcrypt, scrypt, RSA key generation); each has its own test.
const SLOW: &[&str] = &[
    "bcrypt",
    "htpasswd",
    "derivePassword",
    "genPrivateKey",
    "genCA",
    "genSelfSignedCert",
    "genSignedCert",
    "getHostByName",
];

fn odd_values() -> Vec<(&'static str, Value)> {
    vec![
        ("missing", Value::Missing),
        ("nil", Value::Nil),
        ("false", Value::Bool(false)),
        ("zero", Value::Int(0)),
        ("neg", Value::Int(-1)),
        ("big", Value::Int(i64::MAX)),
        ("min", Value::Int(i64::MIN)),
        ("umax", Value::Uint(u64::MAX)),
        ("nan", Value::Float(f64::NAN)),
        ("inf", Value::Float(f64::INFINITY)),
        ("negzero", Value::Float(-0.0)),
        ("empty", Value::str("")),
        ("weird", Value::str("é🚀\u{0}\n$1 ${x} %v [(*")),
        ("huge", Value::str("99999999999999999999")),
        ("date", Value::str("2006-01-02")),
        ("list", Value::list(vec![])),
        (
            "mixed",
            Value::list(vec![Value::Nil, Value::Int(1), Value::str("a")]),
        ),
        (
            "strs",
            Value::List(Arc::new(List::typed(vec![Value::str("b")], &STRING_LIST))),
        ),
        ("map", Value::map(vec![("k".to_string(), Value::Int(1))])),
        (
            "smap",
            Value::Map(Arc::new(Map::typed(
                [(Key::from("k"), Value::str("v"))].into_iter().collect(),
                &STRING_MAP,
            ))),
        ),
    ]
}

#[test]
fn no_function_panics_on_odd_arguments() {
    let mut funcs = Funcs::new();
    super::install(&mut funcs, "");
    let values = odd_values();
    let data = Value::Map(Arc::new(Map::new(
        values
            .iter()
            .map(|(k, v)| (Key::from(*k), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )));
    let names: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
    let mut calls = 0u32;
    for f in super::names() {
        if SLOW.contains(&f) {
            continue;
        }
        let mut arg_lists: Vec<Vec<&str>> = vec![vec![]];
        for a in &names {
            arg_lists.push(vec![a]);
            for b in &names {
                arg_lists.push(vec![a, b]);
            }
        }
        // Three and four arguments: a fixed spread, not every combination.
        for (i, a) in names.iter().enumerate() {
            let b = names[(i * 7 + 3) % names.len()];
            let c = names[(i * 11 + 5) % names.len()];
            arg_lists.push(vec![a, b, c]);
            arg_lists.push(vec![c, a, b, a]);
            // Extreme integers around every kind, in every position.
            arg_lists.push(vec![a, a, a]);
            arg_lists.push(vec!["big", "min", a]);
            arg_lists.push(vec!["min", "big", a]);
            arg_lists.push(vec![a, "min", "big"]);
            arg_lists.push(vec!["min", a, "weird"]);
        }
        for args in arg_lists {
            let call: Vec<String> = args.iter().map(|a| format!(".{a}")).collect();
            let text = format!("{{{{ {f} {} }}}}", call.join(" "));
            let t = Template::parse("odd", &text, &funcs, &Options::default())
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            // Ok or Err are both fine: the point is that it returns.
            let _ = t.execute(&data);
            calls += 1;
        }
    }
    assert!(calls > 10_000, "{calls} calls");
}

#[test]
fn names_are_sprigs() {
    let names = super::names();
    for n in [
        "hello",
        "sortAlpha",
        "mustRegexSplit",
        "dateInZone",
        "urlJoin",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "a name registered twice");
}
