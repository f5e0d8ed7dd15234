//! Consul-template's functions, one by one.

use super::{
    arith, compare, concat, contains, filter, format_parts, index, logic, not, part, quote,
};
use super::{Ex, Part, Scope, Ty, K, R};

/// `path=...[, dc=...]` from consul-template's `path[@dc]`.
fn path_kw(e: &Ex) -> R<String> {
    match (&e.lit, e.k) {
        (Some(l), K::Str) => match l.split_once('@') {
            Some((p, dc)) => Ok(format!("path={}, dc={}", quote(p)?, quote(dc)?)),
            None => Ok(format!("path={}", e.s)),
        },
        _ => Ok(format!("path={}", e.s)),
    }
}

fn dc_kw(name: &str, e: Option<&Ex>) -> R<String> {
    let Some(e) = e else {
        return Ok(String::new());
    };
    let dc = match (&e.lit, e.k) {
        (Some(l), K::Str) => l.strip_prefix('@').unwrap_or(l),
        _ => {
            return Err(format!(
                "`{name}` with a computed query: write {name}(dc=...) by hand"
            ))
        }
    };
    if dc.contains('~') {
        return Err(format!("`{name}` sorted by distance (`~node`) is not provided by templater; drop the `~...` part by hand"));
    }
    Ok(format!("dc={}", quote(dc)?))
}

pub(super) fn unsupported(name: &str) -> Option<String> {
    let why = match name {
        "scratch" => "`scratch` has no tera counterpart: keep values in variables with `{% set x = ... %}` (`{% set_global x = ... %}` inside loops)",
        "plugin" => "`plugin` runs an external program, which templater does not do: produce the value beforehand and read it with env(name=...) or file(path=...)",
        "secret" | "secrets" | "pkiCert" => "Vault is not supported by templater: render secrets with a Vault-aware tool (e.g. Vault Agent templates)",
        "caRoots" | "caLeaf" | "connect" => "Consul Connect functions are not provided by templater: use service(name=...) and write the certificate files another way",
        "executeTemplate" => "`executeTemplate` calls a `define`d template: turn the define into a tera macro and call it with `{{ self::name(dot=...) }}`",
        "loop" => "`loop`: write `{% for i in range(start=A, end=B) %}` (tera's end is exclusive, like consul-template's)",
        "byKey" | "byMeta" => "not provided by templater: group the pairs with nested for loops by hand",
        "containsAll" | "containsAny" | "containsNone" | "containsNotAll" => "write it with `in`, `and`, `or` and `not`, e.g. `\"a\" in s.Tags and \"b\" in s.Tags`",
        "divide" => "tera's `/` divides as floats: write `a / b` (with `| int` for consul-template's integer division) by hand",
        "minimum" | "maximum" => "write it with `{% if a < b %}` by hand",
        "print" | "println" => "Go's print spacing has no tera counterpart: write the values with {{ }} and literal text",
        "html" => "use tera's `escape` filter",
        "urlquery" => "use tera's `urlencode_strict` filter",
        _ if name.starts_with("sprig_") => "sprig functions are not converted: use the matching tera filter or function (tera's built-ins cover most of them)",
        _ => return None,
    };
    Some(format!("`{name}`: {why}"))
}

const FILTERS: &[(&str, &str, Ty)] = &[
    ("toJSON", "to_json", Ty::Other),
    ("toJSONPretty", "to_json_pretty", Ty::Other),
    ("parseJSON", "parse_json", Ty::Other),
    ("base64Encode", "base64_encode", Ty::Other),
    ("base64Decode", "base64_decode", Ty::Other),
    ("sha256Hex", "sha256", Ty::Other),
    ("toLower", "lower", Ty::Other),
    ("toUpper", "upper", Ty::Other),
    ("toTitle", "title", Ty::Other),
    ("trimSpace", "trim", Ty::Other),
    ("byTag", "by_tag", Ty::Map),
    ("explode", "explode", Ty::Map),
    ("parseInt", "int", Ty::Other),
    ("parseFloat", "float", Ty::Other),
];

pub(super) fn call(sc: &mut dyn Scope, name: &str, mut a: Vec<Ex>) -> R<Ex> {
    let n = a.len();
    let want = |lo: usize, hi: usize| {
        if n < lo || n > hi {
            let takes = if lo == hi {
                lo.to_string()
            } else if hi == usize::MAX {
                format!("{lo} or more")
            } else {
                format!("{lo} to {hi}")
            };
            Err(format!("`{name}` takes {takes} argument(s), got {n}"))
        } else {
            Ok(())
        }
    };
    let call = |s: String, ty: Ty| Ok(Ex::new(s, K::Call).ty(ty));
    if let Some((_, f, ty)) = FILTERS.iter().find(|(g, ..)| *g == name) {
        want(1, 1)?;
        return Ok(filter(a.remove(0), f)?.ty(*ty));
    }
    match name {
        "service" => {
            want(1, usize::MAX)?;
            let mut parts = Vec::new();
            for (i, e) in a.into_iter().enumerate() {
                if i > 0 {
                    parts.push(Part::Lit("|".into()));
                }
                parts.push(part(e));
            }
            call(format!("service(name={})", concat(parts)?.s), Ty::List)
        }
        "services" | "nodes" => {
            want(0, 1)?;
            call(format!("{name}({})", dc_kw(name, a.first())?), Ty::List)
        }
        "node" => {
            want(0, 1)?;
            let kw = match a.first() {
                None => String::new(),
                Some(Ex {
                    lit: Some(l),
                    k: K::Str,
                    ..
                }) => {
                    let (node, dc) = l.split_once('@').unwrap_or((l, ""));
                    let mut kw = Vec::new();
                    if !node.is_empty() {
                        kw.push(format!("name={}", quote(node)?));
                    }
                    if !dc.is_empty() {
                        kw.push(format!("dc={}", quote(dc)?));
                    }
                    kw.join(", ")
                }
                Some(e) => format!("name={}", e.s),
            };
            call(format!("node({kw})"), Ty::Other)
        }
        "key" | "keyExists" | "ls" | "safeLs" | "tree" | "safeTree" => {
            want(1, 1)?;
            let (f, ty) = match name {
                "key" => ("key", Ty::Other),
                "keyExists" => ("key_exists", Ty::Other),
                "ls" | "safeLs" => ("ls", Ty::List),
                _ => ("tree", Ty::List),
            };
            if name.starts_with("safe") {
                sc.note(format!("converted from {name}: an empty prefix renders empty here, where {name} waited for data"));
            }
            call(format!("{f}({})", path_kw(&a[0])?), ty)
        }
        "keyOrDefault" => {
            want(2, 2)?;
            call(
                format!("key_or_default({}, default={})", path_kw(&a[0])?, a[1].s),
                Ty::Other,
            )
        }
        "datacenters" => {
            want(0, 1)?;
            call("datacenters()".into(), Ty::List)
        }
        "env" | "file" => {
            want(1, 1)?;
            let kw = if name == "env" { "name" } else { "path" };
            call(format!("{name}({kw}={})", a[0].s), Ty::Other)
        }
        "envOrDefault" => {
            want(2, 2)?;
            call(
                format!("env(name={}, default={})", a[0].s, a[1].s),
                Ty::Other,
            )
        }
        "timestamp" => {
            if n > 0 {
                return Err("`timestamp` with a Go layout: write `now(utc=true) | date(format=\"...\")` with a strftime format by hand".into());
            }
            Ok(Ex::new(
                "now(utc=true) | date(format=\"%Y-%m-%dT%H:%M:%SZ\")",
                K::Filt,
            ))
        }
        "and" | "or" => {
            want(1, usize::MAX)?;
            Ok(logic(name == "and", a))
        }
        "not" => {
            want(1, 1)?;
            Ok(not(a.remove(0)))
        }
        "eq" => {
            want(2, usize::MAX)?;
            let x = a.remove(0);
            let cmps = a
                .iter()
                .map(|b| compare(&x, "==", b))
                .collect::<R<Vec<_>>>()?;
            Ok(logic(false, cmps))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(2, 2)?;
            let op = match name {
                "ne" => "!=",
                "lt" => "<",
                "le" => "<=",
                "gt" => ">",
                _ => ">=",
            };
            compare(&a[0], op, &a[1])
        }
        "len" => {
            want(1, 1)?;
            filter(a.remove(0), "length")
        }
        "index" => {
            want(1, usize::MAX)?;
            let mut it = a.into_iter();
            let mut e = it.next().ok_or("`index` needs a value")?;
            for k in it {
                e = index(e, &k)?;
            }
            Ok(e)
        }
        "printf" => {
            want(1, usize::MAX)?;
            let fmt = a.remove(0);
            concat(format_parts(&fmt, a)?)
        }
        "contains" => {
            want(2, 2)?;
            let list = a.remove(1);
            contains(&a[0], list)
        }
        "in" => {
            want(2, 2)?;
            let list = a.remove(0);
            contains(&a[0], list)
        }
        "add" | "subtract" | "multiply" | "modulo" => {
            want(2, 2)?;
            let op = match name {
                "add" => "+",
                "subtract" => "-",
                "multiply" => "*",
                _ => "%",
            };
            arith(&a[1], op, &a[0])
        }
        "regexMatch" => {
            want(2, 2)?;
            if a[1].k != K::Path {
                return Err(format!(
                    "tera tests need a variable: set `{}` to one and write `x is matching({})`",
                    a[1].s, a[0].s
                ));
            }
            Ok(Ex::new(
                format!("{} is matching({})", a[1].s, a[0].s),
                K::Logic,
            ))
        }
        "split" | "join" => {
            want(2, 2)?;
            let kw = if name == "split" { "pat" } else { "sep" };
            let ty = if name == "split" { Ty::List } else { Ty::Other };
            Ok(filter(a.remove(1), &format!("{name}({kw}={})", a[0].s))?.ty(ty))
        }
        "replaceAll" | "regexReplaceAll" => {
            want(3, 3)?;
            let (f, from, to) = if name == "replaceAll" {
                ("replace", "from", "to")
            } else {
                ("regex_replace", "pattern", "replace")
            };
            filter(
                a.remove(2),
                &format!("{f}({from}={}, {to}={})", a[0].s, a[1].s),
            )
        }
        _ => Err(format!(
            "unknown function `{name}`: templater has no equivalent; rewrite it by hand"
        )),
    }
}
