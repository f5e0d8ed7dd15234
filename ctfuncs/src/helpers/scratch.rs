//! `scratch`: a scratchpad kept for one execution of a template, with the
//! methods of consul-template's `Scratch` (`Key Get Set SetX MapSet MapSetX
//! MapValues`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gotemplate::{Funcs, Key, List, Map, Object, Value, ANY_MAP};

/// The key under which an execution keeps its scratchpad.
const LOCAL_KEY: &str = "ctfuncs.scratch";

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add("scratch", 0, Some(0), |ctx, _| {
        Ok(ctx.local(LOCAL_KEY, &mut || {
            Value::Object(Arc::new(Scratch::default()))
        }))
    });
}

/// consul-template's scratchpad: values by key, and maps of values.
#[derive(Debug, Default)]
pub struct Scratch {
    values: Mutex<BTreeMap<String, Value>>,
}

fn arity(method: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {method}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn string(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| {
        format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        )
    })
}

impl Scratch {
    fn values(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (each method does one insert), so a poisoned lock is still usable.
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn map_set(&self, args: &[Value], overwrite: bool, method: &str) -> Result<Value, String> {
        arity(method, args, 3)?;
        let (k, mk) = (string(&args[0])?, string(&args[1])?);
        let mut values = self.values();
        let slot = values
            .entry(k.to_string())
            .or_insert_with(|| Value::Map(Arc::new(Map::typed(BTreeMap::new(), &ANY_MAP))));
        let Value::Map(m) = slot else {
            return Err(format!("{} is not a map", gotemplate::fmt::quote(k)));
        };
        if !std::ptr::eq(m.ty, &ANY_MAP) && m.ty.name != ANY_MAP.name {
            return Err(format!("{} is not a map", gotemplate::fmt::quote(k)));
        }
        let key = Key::from(mk);
        if overwrite || !m.entries.contains_key(&key) {
            Arc::make_mut(m).insert(key, args[2].clone());
        }
        Ok(Value::str(""))
    }
}

impl Object for Scratch {
    fn type_name(&self) -> &str {
        "*template.Scratch"
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let r = match name {
            "Key" => arity(name, args, 1).and_then(|()| {
                let k = string(&args[0])?;
                Ok(Value::Bool(self.values().contains_key(k)))
            }),
            "Get" => arity(name, args, 1).and_then(|()| {
                let k = string(&args[0])?;
                Ok(self.values().get(k).cloned().unwrap_or(Value::Nil))
            }),
            "Set" | "SetX" => arity(name, args, 2).and_then(|()| {
                let k = string(&args[0])?;
                let mut values = self.values();
                if name == "Set" || !values.contains_key(k) {
                    values.insert(k.to_string(), args[1].clone());
                }
                Ok(Value::str(""))
            }),
            "MapSet" => self.map_set(args, true, name),
            "MapSetX" => self.map_set(args, false, name),
            "MapValues" => arity(name, args, 1).and_then(|()| {
                let k = string(&args[0])?;
                let items = match self.values().get(k) {
                    Some(Value::Map(m)) if m.ty.name == ANY_MAP.name => {
                        m.entries.values().cloned().collect()
                    }
                    _ => Vec::new(),
                };
                Ok(Value::List(Arc::new(List::new(items))))
            }),
            _ => return None,
        };
        Some(r)
    }

    fn print(&self) -> String {
        format!(
            "&{{{}}}",
            gotemplate::fmt::print_v(&Value::Map(Arc::new(Map::new(
                self.values()
                    .iter()
                    .map(|(k, v)| (Key::from(k.as_str()), v.clone()))
                    .collect(),
            ))))
        )
    }
}
