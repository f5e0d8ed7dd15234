//! Grouping of Consul data: `byKey` (KV pairs by top directory), `byTag`,
//! `byPort` and `byMeta` (services by tag, port and service meta).
//!
//! They read structs by field name (`Key`, `Tags` or `ServiceTags`, `Port`
//! or `ServicePort`, `ServiceMeta`), so any struct with those fields plugs
//! in, and they return Go's map types, which decide how `%v` prints.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{FuncError, Funcs, Key, List, Map, Struct, Type, Value, Zero};

use super::collections::{field_str, field_value, key_pairs};

/// `map[string][]interface {}`, what `byTag` returns.
pub static TAG_MAP: Type = Type::named("map[string][]interface {}", Zero::List);
/// `map[int][]interface {}`, what `byPort` returns.
pub static PORT_MAP: Type = Type::named("map[int][]interface {}", Zero::List);
/// `map[string][]*dependency.HealthService`, what `byMeta` returns.
pub static META_MAP: Type = Type::named("map[string][]*dependency.HealthService", Zero::List);
/// `[]*dependency.HealthService`, the groups of `byMeta`.
pub static HEALTH_LIST: Type = Type::named("[]*dependency.HealthService", Zero::Pointer);
/// `map[string]map[string]*dependency.KeyPair`, what `byKey` returns.
pub static KEY_MAP: Type = Type::named("map[string]map[string]*dependency.KeyPair", Zero::Map);
/// `map[string]*dependency.KeyPair`, the groups of `byKey`.
pub static PAIR_MAP: Type = Type::named("map[string]*dependency.KeyPair", Zero::Pointer);

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("byKey", 1, |a| by_key(&a[0]));
    funcs.add_fixed("byTag", 1, |a| by_tag(&a[0]));
    funcs.add_fixed("byPort", 1, |a| by_port(&a[0]));
    funcs.add_fixed("byMeta", 2, |a| {
        let meta = crate::args::string(&a[0])?;
        by_meta(meta, &a[1])
    });
}

fn by_key(v: &Value) -> Result<Value, FuncError> {
    let mut groups: BTreeMap<Key, BTreeMap<Key, Value>> = BTreeMap::new();
    for pair in key_pairs(v, "[]*dependency.KeyPair")? {
        let key = field_str(pair, "Key")?;
        let (top, rest) = key.split_once('/').unwrap_or((key, ""));
        if rest.is_empty() {
            continue;
        }
        let mut copy = pair.clone();
        if let Some(i) = copy.ty.fields.iter().position(|f| *f == "Key") {
            copy.fields[i] = Value::str(rest);
        }
        groups
            .entry(Key::from(top))
            .or_default()
            .insert(Key::from(rest), Value::Struct(Arc::new(copy)));
    }
    let m = groups
        .into_iter()
        .map(|(k, g)| (k, Value::Map(Arc::new(Map::typed(g, &PAIR_MAP)))))
        .collect();
    Ok(Value::Map(Arc::new(Map::typed(m, &KEY_MAP))))
}

/// The services of a list; nil gives none. Go accepts only its service
/// slices, so a slice of anything but structs is the same error as Go's.
fn services<'a>(v: &'a Value, func: &str) -> Result<Vec<&'a Arc<Struct>>, FuncError> {
    let bad = || FuncError::Call(format!("{func}: wrong argument type {}", v.type_name()));
    match v {
        Value::Missing | Value::Nil => Ok(Vec::new()),
        Value::List(l) => {
            if l.items.is_empty() && !l.ty.name.starts_with("[]*") {
                return Err(bad());
            }
            l.items
                .iter()
                .map(|i| match i {
                    Value::Struct(s) => Ok(s),
                    _ => Err(bad()),
                })
                .collect()
        }
        _ => Err(bad()),
    }
}

fn push(groups: &mut BTreeMap<Key, Vec<Value>>, k: Key, s: &Arc<Struct>) {
    groups
        .entry(k)
        .or_default()
        .push(Value::Struct(Arc::clone(s)));
}

fn into_map(groups: BTreeMap<Key, Vec<Value>>, ty: &'static Type, list: &'static Type) -> Value {
    let m = groups
        .into_iter()
        .map(|(k, items)| (k, Value::List(Arc::new(List::typed(items, list)))))
        .collect();
    Value::Map(Arc::new(Map::typed(m, ty)))
}

fn by_tag(v: &Value) -> Result<Value, FuncError> {
    let mut groups = BTreeMap::new();
    for s in services(v, "byTag")? {
        // CatalogService has ServiceTags; the others have Tags.
        let tags = s
            .field("ServiceTags")
            .or_else(|| s.field("Tags"))
            .ok_or_else(|| {
                FuncError::Call(format!("byTag: wrong argument type {}", v.type_name()))
            })?;
        for t in tags.as_list().unwrap_or_default() {
            if let Value::Str(t) = t {
                push(&mut groups, Key::Str(Arc::clone(t)), s);
            }
        }
    }
    Ok(into_map(groups, &TAG_MAP, &gotemplate::ANY_LIST))
}

fn by_port(v: &Value) -> Result<Value, FuncError> {
    let mut groups = BTreeMap::new();
    for s in services(v, "byPort")? {
        let port = s
            .field("ServicePort")
            .or_else(|| s.field("Port"))
            .ok_or_else(|| {
                FuncError::Call(format!("byPort: wrong argument type {}", v.type_name()))
            })?;
        let port = match port {
            Value::Int(p) => *p,
            Value::Uint(p) => i64::try_from(*p).unwrap_or(i64::MAX),
            _ => 0,
        };
        push(&mut groups, Key::Int(port), s);
    }
    Ok(into_map(groups, &PORT_MAP, &gotemplate::ANY_LIST))
}

fn meta_value(meta: &Value, key: &str) -> String {
    let real = key.strip_suffix("|int").unwrap_or(key);
    let found = match meta {
        Value::Map(m) => m.get(real).and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    if !found.is_empty() {
        return found.to_string();
    }
    if key.ends_with("|int") {
        "0".into()
    } else {
        format!("_no_{real}_")
    }
}

/// Go's `strconv.Atoi`.
fn atoi(s: &str) -> Result<i64, String> {
    super::parse::parse_int(s).map_err(|e| e.replace("strconv.ParseInt", "strconv.Atoi"))
}

fn by_meta(meta: &str, v: &Value) -> Result<Value, FuncError> {
    let list_ty: &'static Type = &HEALTH_LIST;
    let mut groups = BTreeMap::new();
    let keys: Vec<&str> = meta.split(',').collect();
    let items = match v {
        Value::Missing | Value::Nil => Vec::new(),
        Value::List(l) => l
            .items
            .iter()
            .map(|i| match i {
                Value::Struct(s) if s.field("ServiceMeta").is_some() => Ok(s),
                _ => Err(crate::args::wrong_type("[]*dependency.HealthService", v)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(crate::args::wrong_type(
                "[]*dependency.HealthService",
                other,
            ))
        }
    };
    for s in items {
        let sm = field_value(s, "ServiceMeta")?;
        let mut parts = Vec::with_capacity(keys.len());
        for k in &keys {
            let mut value = meta_value(sm, k);
            if k.ends_with("|int") {
                let i = atoi(&value).map_err(|e| {
                    FuncError::Call(format!("cannot parse {value} as number : {e}"))
                })?;
                value = format!("{i:05}");
            }
            parts.push(
                value
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect::<String>(),
            );
        }
        push(&mut groups, Key::from(parts.join("_")), s);
    }
    Ok(into_map(groups, &META_MAP, list_ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_keys_are_padded_and_normalised() {
        static SVC: Type = Type {
            name: "*dependency.HealthService",
            fields: &["ID", "ServiceMeta"],
            elem: Zero::Interface,
            methods: &[],
        };
        let svc = |id: &str, meta: Vec<(&str, &str)>| {
            Value::Struct(Arc::new(Struct::new(
                &SVC,
                vec![
                    Value::str(id),
                    Value::map(
                        meta.into_iter()
                            .map(|(k, v)| (k.to_string(), Value::str(v))),
                    ),
                ],
            )))
        };
        let list = Value::list(vec![
            svc("a", vec![("env", "dev"), ("shard", "1")]),
            svc("b", vec![("env", "prod east"), ("shard", "12")]),
            svc("c", vec![]),
        ]);
        let m = by_meta("env,shard|int", &list).unwrap();
        let Value::Map(m) = m else { panic!() };
        let keys: Vec<String> = m.entries.keys().map(|k| format!("{k:?}")).collect();
        assert_eq!(
            keys,
            [
                r#"Str("_no_env__00000")"#,
                r#"Str("dev_00001")"#,
                r#"Str("prod_east_00012")"#
            ]
        );
        let bad = Value::list(vec![svc("d", vec![("shard", "x")])]);
        assert!(by_meta("shard|int", &bad).is_err());
    }
}
