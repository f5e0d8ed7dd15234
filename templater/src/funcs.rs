//! The functions and filters templates call.
//!
//! Consul functions (`service`, `services`, `nodes`, `node`, `key`,
//! `key_or_default`, `key_exists`, `keys`, `ls`, `tree`, `datacenters`,
//! `checks`) and `file` record the dependency they read. When its data has
//! not arrived yet they record it as missing and return an empty
//! placeholder: a template with a missing dependency is not written.
//!
//! Filters cover what configs need: `by_tag`, `explode`, `to_json`,
//! `to_json_pretty`, `parse_json`, `base64_encode`, `base64_decode`,
//! `sha256`, `regex_replace`, `contains`; tera brings `split`, `join`,
//! `sort`, `upper`, `trim`, `replace` and the rest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::deps::{by_tag, explode, normalize_filter, parse_service_query, At, Dep};

/// Data of every dependency, by key, shared by all templates: the
/// consul-template-shaped JSON that tera templates read, and its Go form
/// for Go templates, made once per change on first use.
#[derive(Debug, Default)]
pub struct Brain {
    data: HashMap<String, Value>,
    go: HashMap<String, gotemplate::Value>,
}

impl Brain {
    /// Stores `key`'s data; true if it differs from what was there.
    pub fn insert(&mut self, key: String, value: Value) -> bool {
        self.go.remove(&key);
        self.data.insert(key, value.clone()).as_ref() != Some(&value)
    }

    /// Forgets `key`'s data; true if there was some.
    pub fn remove(&mut self, key: &str) -> bool {
        self.go.remove(key);
        self.data.remove(key).is_some()
    }

    /// `key`'s data, if it has arrived.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// `key`'s data in Go form (converted on first use), if it has arrived.
    pub fn get_go(&mut self, key: &str, dep: &Dep) -> Option<gotemplate::Value> {
        if let Some(v) = self.go.get(key) {
            return Some(v.clone());
        }
        let v = crate::godata::convert(dep, self.data.get(key)?);
        self.go.insert(key.to_string(), v.clone());
        Some(v)
    }
}

/// What one render of one template touched.
#[derive(Debug, Default)]
pub struct Scope {
    /// Dependencies used, by key.
    pub used: BTreeMap<String, Dep>,
    /// Dependencies used that have no data yet.
    pub missing: BTreeSet<String>,
}

/// Names of the functions a template may call.
pub const FUNCTIONS: &[&str] = &[
    "service",
    "services",
    "nodes",
    "node",
    "key",
    "key_or_default",
    "key_exists",
    "keys",
    "ls",
    "tree",
    "datacenters",
    "checks",
    "env",
    "file",
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The state a template's functions share.
#[derive(Clone, Debug)]
pub struct Env {
    brain: Arc<Mutex<Brain>>,
    scope: Arc<Mutex<Scope>>,
    vars: Arc<HashMap<String, String>>,
    denylist: Arc<Vec<regex::Regex>>,
    sandbox: Option<PathBuf>,
}

fn glob_to_regex(glob: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

fn err(msg: String) -> tera::Error {
    tera::Error::msg(msg)
}

fn str_arg(args: &HashMap<String, Value>, f: &str, name: &str) -> tera::Result<String> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(err(format!(
            "{f}(): `{name}` must be a string, got {other}"
        ))),
        None => Err(err(format!(
            "{f}(): missing `{name}`, e.g. {f}({name}=\"...\")"
        ))),
    }
}

fn opt_str(args: &HashMap<String, Value>, f: &str, name: &str) -> tera::Result<Option<String>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(err(format!(
            "{f}(): `{name}` must be a string, got {other}"
        ))),
    }
}

fn check_args(args: &HashMap<String, Value>, f: &str, allowed: &[&str]) -> tera::Result<()> {
    for k in args.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(format!(
                "{f}(): unknown argument `{k}`; it takes {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

impl Env {
    /// An environment over `brain`, with the process variables a template's `env` sees.
    pub fn new(
        brain: Arc<Mutex<Brain>>,
        vars: Arc<HashMap<String, String>>,
        denylist: &[String],
        sandbox: Option<PathBuf>,
    ) -> Env {
        Env {
            brain,
            scope: Arc::new(Mutex::new(Scope::default())),
            vars,
            denylist: Arc::new(denylist.iter().filter_map(|g| glob_to_regex(g)).collect()),
            sandbox,
        }
    }

    /// The variables `env` sees.
    pub(crate) fn vars(&self) -> &Arc<HashMap<String, String>> {
        &self.vars
    }

    /// `sandbox_path`, if set.
    pub(crate) fn sandbox(&self) -> Option<&PathBuf> {
        self.sandbox.as_ref()
    }

    /// Whether `function_denylist` names `f`.
    pub(crate) fn is_denied(&self, f: &str) -> bool {
        self.denylist.iter().any(|r| r.is_match(f))
    }

    /// consul-template's `sandbox_path` rule: the path, with its symlinks
    /// resolved, must lie inside the sandbox.
    pub(crate) fn check_sandbox(&self, path: &std::path::Path) -> Result<(), String> {
        let Some(sandbox) = &self.sandbox else {
            return Ok(());
        };
        let real = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let root = std::fs::canonicalize(sandbox).unwrap_or_else(|_| sandbox.clone());
        if !real.starts_with(&root) {
            return Err(format!(
                "'{}' is outside of sandbox {}",
                path.display(),
                sandbox.display()
            ));
        }
        Ok(())
    }

    /// Clears the scope before a render.
    pub fn begin(&self) {
        *lock(&self.scope) = Scope::default();
    }

    /// The scope after a render.
    pub fn take_scope(&self) -> Scope {
        std::mem::take(&mut *lock(&self.scope))
    }

    fn denied(&self, f: &str) -> tera::Result<()> {
        if self.denylist.iter().any(|r| r.is_match(f)) {
            return Err(err(format!(
                "{f}(): function is disabled by function_denylist"
            )));
        }
        Ok(())
    }

    /// Records `dep` and returns its data in Go form, or consul-template's
    /// placeholder while it has none.
    pub fn read_go(&self, dep: Dep) -> gotemplate::Value {
        let key = dep.key();
        let mut scope = lock(&self.scope);
        let found = lock(&self.brain).get_go(&key, &dep);
        match found {
            Some(v) => {
                scope.used.insert(key, dep);
                v
            }
            None => {
                let placeholder = crate::godata::placeholder(&dep);
                scope.used.insert(key.clone(), dep);
                scope.missing.insert(key);
                placeholder
            }
        }
    }

    /// [`Env::read_go`] for a dependency whose endpoint this Consul may not
    /// serve ([`crate::admin`]): that answer is the error, naming the
    /// function and why.
    pub fn read_go_checked(&self, dep: Dep) -> Result<gotemplate::Value, String> {
        let key = dep.key();
        let failed = lock(&self.brain)
            .get(&key)
            .and_then(crate::admin::unsupported)
            .map(str::to_string);
        match failed {
            Some(msg) => {
                lock(&self.scope).used.insert(key, dep);
                Err(msg)
            }
            None => Ok(self.read_go(dep)),
        }
    }

    /// Records `dep` as used and missing (consul-template's `safeLs` on an
    /// empty prefix: no render until it has entries).
    pub fn mark_missing(&self, dep: &Dep) {
        let key = dep.key();
        let mut scope = lock(&self.scope);
        scope.used.insert(key.clone(), dep.clone());
        scope.missing.insert(key);
    }

    /// Records `dep` and returns its data, or `placeholder` while it has none.
    fn read(&self, dep: Dep, placeholder: Value) -> Value {
        let key = dep.key();
        let mut scope = lock(&self.scope);
        scope.used.insert(key.clone(), dep);
        match lock(&self.brain).get(&key) {
            Some(v) => v.clone(),
            None => {
                scope.missing.insert(key);
                placeholder
            }
        }
    }

    /// Registers the functions and filters on a tera instance.
    pub fn install(&self, tera: &mut tera::Tera) {
        let e = self.clone();
        tera.register_function("service", move |a: &HashMap<String, Value>| {
            e.denied("service")?;
            check_args(a, "service", &["name", "tag", "dc", "filter"])?;
            let q = str_arg(a, "service", "name")?;
            let parsed = parse_service_query(&q).map_err(|m| err(format!("service(): {m}")))?;
            let filter = match opt_str(a, "service", "filter")? {
                Some(f) => f.split(',').map(|s| s.trim().to_string()).collect(),
                None => parsed.filter,
            };
            let filter = normalize_filter(filter).map_err(|m| err(format!("service(): {m}")))?;
            let mut at = parsed.at;
            if let Some(dc) = opt_str(a, "service", "dc")? {
                at.dc = Some(dc);
            }
            let dep = Dep::Service {
                name: parsed.name,
                tag: opt_str(a, "service", "tag")?.or(parsed.tag),
                at,
                filter,
                connect: false,
            };
            Ok(e.read(dep, Value::Array(vec![])))
        });
        let e = self.clone();
        tera.register_function("services", move |a: &HashMap<String, Value>| {
            e.denied("services")?;
            check_args(a, "services", &["dc"])?;
            Ok(e.read(
                Dep::Services {
                    at: At::dc(opt_str(a, "services", "dc")?),
                },
                Value::Array(vec![]),
            ))
        });
        let e = self.clone();
        tera.register_function("nodes", move |a: &HashMap<String, Value>| {
            e.denied("nodes")?;
            check_args(a, "nodes", &["dc"])?;
            Ok(e.read(
                Dep::Nodes {
                    at: At::dc(opt_str(a, "nodes", "dc")?),
                },
                Value::Array(vec![]),
            ))
        });
        let e = self.clone();
        tera.register_function("node", move |a: &HashMap<String, Value>| {
            e.denied("node")?;
            check_args(a, "node", &["name", "dc"])?;
            let dep = Dep::Node {
                name: opt_str(a, "node", "name")?,
                at: At::dc(opt_str(a, "node", "dc")?),
            };
            Ok(e.read(dep, Value::Null))
        });
        self.install_kv(tera);
        let e = self.clone();
        tera.register_function("datacenters", move |a: &HashMap<String, Value>| {
            e.denied("datacenters")?;
            check_args(a, "datacenters", &[])?;
            Ok(e.read(
                Dep::Datacenters {
                    ignore_inaccessible: false,
                },
                Value::Array(vec![]),
            ))
        });
        let e = self.clone();
        tera.register_function("checks", move |a: &HashMap<String, Value>| {
            e.denied("checks")?;
            check_args(a, "checks", &["service", "state"])?;
            let service = opt_str(a, "checks", "service")?;
            let state = opt_str(a, "checks", "state")?;
            if let Some(s) = &state {
                if !matches!(s.as_str(), "any" | "passing" | "warning" | "critical") {
                    return Err(err(format!(
                        "checks(): unknown state {s:?}: use any, passing, warning or critical"
                    )));
                }
            }
            Ok(e.read(Dep::Checks { service, state }, Value::Array(vec![])))
        });
        let e = self.clone();
        tera.register_function("env", move |a: &HashMap<String, Value>| {
            e.denied("env")?;
            check_args(a, "env", &["name", "default"])?;
            let name = str_arg(a, "env", "name")?;
            let default = a
                .get("default")
                .cloned()
                .unwrap_or(Value::String(String::new()));
            Ok(e.vars
                .get(&name)
                .map(|v| Value::String(v.clone()))
                .unwrap_or(default))
        });
        let e = self.clone();
        tera.register_function("file", move |a: &HashMap<String, Value>| {
            e.denied("file")?;
            check_args(a, "file", &["path"])?;
            let path = PathBuf::from(str_arg(a, "file", "path")?);
            if let Some(sandbox) = &e.sandbox {
                let escapes = path.components().any(|c| c == Component::ParentDir);
                if escapes || !path.starts_with(sandbox) {
                    return Err(err(format!(
                        "file(): {} is outside sandbox_path {}",
                        path.display(),
                        sandbox.display()
                    )));
                }
            }
            Ok(e.read(Dep::File { path }, Value::String(String::new())))
        });
        install_filters(tera);
    }

    fn install_kv(&self, tera: &mut tera::Tera) {
        let e = self.clone();
        tera.register_function("key", move |a: &HashMap<String, Value>| {
            e.denied("key")?;
            check_args(a, "key", &["path", "dc"])?;
            let path = str_arg(a, "key", "path")?;
            if path.is_empty() {
                return Ok(Value::String(String::new()));
            }
            let dep = Dep::Key {
                path: path.trim_start_matches('/').to_string(),
                at: At::dc(opt_str(a, "key", "dc")?),
            };
            Ok(e.read(dep, Value::String(String::new())))
        });
        let e = self.clone();
        tera.register_function("key_or_default", move |a: &HashMap<String, Value>| {
            e.denied("key_or_default")?;
            check_args(a, "key_or_default", &["path", "default", "dc"])?;
            let path = str_arg(a, "key_or_default", "path")?;
            let default = a
                .get("default")
                .cloned()
                .unwrap_or(Value::String(String::new()));
            let dep = Dep::KeyGet {
                path: path.trim_start_matches('/').to_string(),
                at: At::dc(opt_str(a, "key_or_default", "dc")?),
            };
            Ok(match e.read(dep, Value::Null) {
                Value::String(s) if !s.is_empty() => Value::String(s),
                _ => default,
            })
        });
        let e = self.clone();
        tera.register_function("key_exists", move |a: &HashMap<String, Value>| {
            e.denied("key_exists")?;
            check_args(a, "key_exists", &["path", "dc"])?;
            let dep = Dep::KeyGet {
                path: str_arg(a, "key_exists", "path")?
                    .trim_start_matches('/')
                    .to_string(),
                at: At::dc(opt_str(a, "key_exists", "dc")?),
            };
            Ok(Value::Bool(!e.read(dep, Value::Null).is_null()))
        });
        for (name, ctor) in [
            (
                "ls",
                (|prefix, dc| Dep::Ls {
                    prefix,
                    at: At::dc(dc),
                }) as fn(String, Option<String>) -> Dep,
            ),
            ("tree", |prefix, dc| Dep::Tree {
                prefix,
                at: At::dc(dc),
            }),
            ("keys", |prefix, dc| Dep::Keys {
                prefix,
                at: At::dc(dc),
            }),
        ] {
            let e = self.clone();
            tera.register_function(name, move |a: &HashMap<String, Value>| {
                e.denied(name)?;
                check_args(a, name, &["path", "prefix", "dc"])?;
                let prefix = opt_str(a, name, "path")?
                    .or(opt_str(a, name, "prefix")?)
                    .unwrap_or_default();
                let dep = ctor(
                    prefix.trim_start_matches('/').to_string(),
                    opt_str(a, name, "dc")?,
                );
                Ok(e.read(dep, Value::Array(vec![])))
            });
        }
    }
}

/// A JSON value as the Go value consul-template would have printed.
fn go_value(v: &Value) -> gotemplate::Value {
    match v {
        Value::Null => gotemplate::Value::Nil,
        Value::Bool(b) => gotemplate::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => gotemplate::Value::Int(i),
            (None, Some(u)) => gotemplate::Value::Uint(u),
            _ => gotemplate::Value::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => gotemplate::Value::from(s.as_str()),
        Value::Array(a) => gotemplate::Value::list(a.iter().map(go_value).collect()),
        Value::Object(m) => gotemplate::Value::map(m.iter().map(|(k, v)| (k.clone(), go_value(v)))),
    }
}

fn install_filters(tera: &mut tera::Tera) {
    tera.register_filter("print", |v: &Value, _: &HashMap<String, Value>| {
        Ok(Value::String(match v {
            Value::String(s) => s.clone(),
            Value::Null => "<no value>".into(),
            other => gotemplate::fmt::print_v(&go_value(other)),
        }))
    });
    tera.register_filter("by_tag", |v: &Value, _: &HashMap<String, Value>| {
        Ok(by_tag(v))
    });
    tera.register_filter("explode", |v: &Value, _: &HashMap<String, Value>| {
        explode(v).map_err(err)
    });
    tera.register_filter("to_json", |v: &Value, _: &HashMap<String, Value>| {
        serde_json::to_string(v)
            .map(Value::String)
            .map_err(|e| err(format!("to_json: {e}")))
    });
    tera.register_filter("to_json_pretty", |v: &Value, _: &HashMap<String, Value>| {
        serde_json::to_string_pretty(v)
            .map(Value::String)
            .map_err(|e| err(format!("to_json_pretty: {e}")))
    });
    tera.register_filter("parse_json", |v: &Value, _: &HashMap<String, Value>| {
        let s = v
            .as_str()
            .ok_or_else(|| err(format!("parse_json: expected a string, got {v}")))?;
        if s.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_str(s).map_err(|e| {
            err(format!(
                "parse_json: the value is not JSON ({e}); check the key's contents"
            ))
        })
    });
    tera.register_filter("base64_encode", |v: &Value, _: &HashMap<String, Value>| {
        let s = v
            .as_str()
            .ok_or_else(|| err(format!("base64_encode: expected a string, got {v}")))?;
        Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(s),
        ))
    });
    tera.register_filter("base64_decode", |v: &Value, _: &HashMap<String, Value>| {
        let s = v
            .as_str()
            .ok_or_else(|| err(format!("base64_decode: expected a string, got {v}")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| err(format!("base64_decode: not base64: {e}")))?;
        Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    });
    tera.register_filter("sha256", |v: &Value, _: &HashMap<String, Value>| {
        let s = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let d = Sha256::digest(s.as_bytes());
        Ok(Value::String(
            d.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    });
    tera.register_filter("regex_replace", |v: &Value, a: &HashMap<String, Value>| {
        let s = v
            .as_str()
            .ok_or_else(|| err(format!("regex_replace: expected a string, got {v}")))?;
        let pattern = str_arg(a, "regex_replace", "pattern")?;
        let replace = str_arg(a, "regex_replace", "replace")?;
        let re = regex::Regex::new(&pattern)
            .map_err(|e| err(format!("regex_replace: invalid pattern {pattern:?}: {e}")))?;
        Ok(Value::String(
            re.replace_all(s, replace.as_str()).into_owned(),
        ))
    });
    tera.register_filter("contains", |v: &Value, a: &HashMap<String, Value>| {
        let needle = a
            .get("value")
            .ok_or_else(|| err("contains: missing `value`, e.g. contains(value=\"x\")".into()))?;
        Ok(Value::Bool(match (v, needle) {
            (Value::Array(items), n) => items.contains(n),
            (Value::String(s), Value::String(n)) => s.contains(n.as_str()),
            (Value::Object(m), Value::String(n)) => m.contains_key(n),
            _ => false,
        }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(src: &str, brain: &Arc<Mutex<Brain>>) -> (Result<String, String>, Scope) {
        let vars = Arc::new(HashMap::from([("HOME_DC".to_string(), "dc1".to_string())]));
        let env = Env::new(Arc::clone(brain), vars, &["file".into()], None);
        let mut tera = tera::Tera::default();
        env.install(&mut tera);
        tera.add_raw_template("t", src).unwrap();
        env.begin();
        let out = tera.render("t", &tera::Context::new()).map_err(|e| {
            let mut s = e.to_string();
            let mut cur = std::error::Error::source(&e);
            while let Some(c) = cur {
                s.push_str(": ");
                s.push_str(&c.to_string());
                cur = c.source();
            }
            s
        });
        (out, env.take_scope())
    }

    #[test]
    fn missing_data_is_recorded_and_placeholders_render() {
        let brain = Arc::new(Mutex::new(Brain::default()));
        let (out, scope) = render("{% for s in service(name=\"web\") %}{{ s.Address }}{% endfor %}[{{ key(path=\"a\") }}][{{ key_or_default(path=\"b\", default=\"d\") }}]", &brain);
        assert_eq!(out.unwrap(), "[][d]");
        assert_eq!(scope.missing.len(), 3);
        lock(&brain).insert(
            "health.service(web|passing)".into(),
            json!([{"Address": "10.0.0.1", "Port": 80}]),
        );
        lock(&brain).insert("kv.block(a)".into(), json!("A"));
        lock(&brain).insert("kv.get(b)".into(), json!(""));
        let (out, scope) = render("{% for s in service(name=\"web\") %}{{ s.Address }}:{{ s.Port }}{% endfor %}[{{ key(path=\"a\") }}][{{ key_or_default(path=\"b\", default=\"d\") }}]", &brain);
        assert_eq!(out.unwrap(), "10.0.0.1:80[A][d]");
        assert!(scope.missing.is_empty());
        assert_eq!(scope.used.len(), 3);
    }

    #[test]
    fn filters_and_bad_arguments() {
        let brain = Arc::new(Mutex::new(Brain::default()));
        let ok = |src: &str| render(src, &brain).0.unwrap();
        assert_eq!(
            ok("{{ \"aGk=\" | base64_decode }}{{ \"hi\" | base64_encode }}"),
            "hiaGk="
        );
        assert_eq!(
            ok("{{ \"a\" | sha256 | truncate(length=8, end=\"\") }}"),
            "ca978112"
        );
        assert_eq!(
            ok("{{ \"a-b-c\" | regex_replace(pattern=\"-\", replace=\"+\") }}"),
            "a+b+c"
        );
        assert_eq!(
            ok("{{ '{\"x\": [1,2]}' | parse_json | get(key=\"x\") | to_json }}"),
            "[1,2]"
        );
        assert_eq!(ok("{{ [1,2] | contains(value=2) }}"), "true");
        assert_eq!(
            ok("{{ env(name=\"HOME_DC\") }}{{ env(name=\"NOPE\", default=\"x\") }}"),
            "dc1x"
        );
        let bad = |src: &str| render(src, &brain).0.unwrap_err();
        assert!(bad("{{ \"nope\" | parse_json }}").contains("not JSON"));
        assert!(bad("{{ service(nam=\"web\") }}").contains("unknown argument `nam`"));
        assert!(bad("{{ service(name=3) }}").contains("must be a string"));
        assert!(bad("{{ service(name=\"web\", filter=\"healthy\") }}")
            .contains("unknown health filter"));
        assert!(bad("{{ file(path=\"/etc/passwd\") }}").contains("disabled by function_denylist"));
        assert!(bad("{{ nosuch() }}").contains("nosuch"));
    }
}
