//! Tests of filter parsing, limits and evaluation.

use super::*;
use serde_json::json;

fn shape() -> Value {
    json!({"Service": {"ID": "", "Service": "", "Tags": [""], "Port": 0, "Meta": {"*": ""}},
           "Checks": [{"Status": "", "ServiceTags": [""]}]})
}

fn entry() -> Value {
    json!({"Service": {"ID": "web1", "Service": "web", "Tags": ["v1", "primary"], "Port": 8080,
                       "Meta": {"env": "prod", "a.b": "x"}},
           "Checks": [{"Status": "passing", "ServiceTags": []}, {"Status": "warning", "ServiceTags": ["v1"]}]})
}

fn check(expr: &str) -> bool {
    Filter::parse(expr, &shape()).unwrap().matches(&entry())
}

#[test]
fn operators() {
    assert!(check("Service.Service == web"));
    assert!(check(r#"Service.Service == "web""#));
    assert!(!check("Service.Service != web"));
    assert!(check("Service.Port == 8080"));
    assert!(check("v1 in Service.Tags"));
    assert!(check(r#""v2" not in Service.Tags"#));
    assert!(check("Service.Tags contains primary"));
    assert!(check("Service.Tags not contains secondary"));
    assert!(check("Service.Meta.env == prod"));
    assert!(check(r#"Service.Meta["a.b"] == x"#));
    assert!(check("Service.Meta.missing is empty"));
    assert!(check("Service.Tags is not empty"));
    assert!(check(r#"Service.ID matches "^web[0-9]$""#));
    assert!(check("Checks.Status == warning"));
    assert!(check(r#""v1" in Checks.ServiceTags"#));
    assert!(check(
        "Service.Service == web and (Service.Port == 1 or v1 in Service.Tags)"
    ));
    assert!(check("not Service.Service == db"));
}

#[test]
fn errors_name_the_problem() {
    let e = Filter::parse("Service.Nope == x", &shape()).unwrap_err();
    assert!(e.contains("Nope"), "{e}");
    assert!(Filter::parse("Service.ID ==", &shape()).is_err());
    assert!(Filter::parse("(Service.ID == x", &shape()).is_err());
    assert!(Filter::parse(r#"Service.ID == "x"#, &shape()).is_err());
    assert!(Filter::parse("", &shape()).is_err());
}

#[test]
fn deep_nesting_is_refused_without_recursing() {
    let deep = format!(
        "{}Service.ID == web1{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let e = Filter::parse(&deep, &shape()).unwrap_err();
    assert!(e.contains(&format!("limit is {MAX_DEPTH}")), "{e}");
    let nots = format!("{}Service.ID == web1", "not ".repeat(100_000));
    assert!(Filter::parse(&nots, &shape())
        .unwrap_err()
        .contains("nested"));
    // Unbalanced and deep: refused on depth too, not on the missing ')'.
    let open = "(".repeat(100_000);
    assert!(Filter::parse(&open, &shape())
        .unwrap_err()
        .contains("nested"));
    // At the limit it parses and evaluates.
    let ok = format!(
        "{}Service.ID == web1{}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    assert!(Filter::parse(&ok, &shape()).unwrap().matches(&entry()));
}

#[test]
fn long_flat_expressions_stay_shallow_and_bounded() {
    let terms = |n: usize, op: &str| {
        (0..n)
            .map(|i| format!("Service.ID == web{i}"))
            .collect::<Vec<_>>()
            .join(op)
    };
    // As many comparisons as allowed: one level, evaluated without recursion per term.
    let f = Filter::parse(&terms(MAX_MATCHES, " or "), &shape()).unwrap();
    assert!(f.matches(&entry()), "web1 is among the terms");
    let f = Filter::parse(&terms(MAX_MATCHES, " and "), &shape()).unwrap();
    assert!(!f.matches(&entry()));
    let e = Filter::parse(&terms(MAX_MATCHES + 1, " or "), &shape()).unwrap_err();
    assert!(e.contains(&format!("limit is {MAX_MATCHES}")), "{e}");
    let e = Filter::parse(&terms(100_000, " and "), &shape()).unwrap_err();
    assert!(e.contains("comparisons"), "{e}");
}

proptest::proptest! {
    #[test]
    fn never_panics(s in ".{0,60}") {
        if let Ok(f) = Filter::parse(&s, &shape()) {
            let _ = f.matches(&entry());
        }
    }
}
