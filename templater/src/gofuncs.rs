//! The functions of a Go (consul-template) template: Go's builtins,
//! consul-template's helpers and Sprig's (from [`ctfuncs`]), and the
//! functions that read Consul, with consul-template's names, argument
//! forms (`service "tag.name?ns=x@dc~near|passing,warning"`, extra
//! arguments joined by `|`), placeholders and errors.
//!
//! A function that reads Consul records its dependency; while the data has
//! not arrived it returns consul-template's placeholder (an empty list,
//! `""`, nil) and the template is not written.

use std::path::PathBuf;
use std::time::Duration;

use gotemplate::{FuncError, Funcs, Value};

use crate::deps::{normalize_filter, parse_scoped, parse_service_query, Dep};
use crate::funcs::Env;

fn strings(name: &str, args: &[Value]) -> Result<Vec<String>, FuncError> {
    args.iter()
        .map(|a| match a {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(FuncError::Arg(format!(
                "wrong type for value; expected string; got {} (in {name})",
                other.type_name()
            ))),
        })
        .collect()
}

fn one_string<'a>(name: &str, args: &'a [Value]) -> Result<&'a str, FuncError> {
    match args {
        [Value::Str(s)] => Ok(s),
        [other] => Err(FuncError::Arg(format!(
            "wrong type for value; expected string; got {} (in {name})",
            other.type_name()
        ))),
        _ => Err(FuncError::Arg(format!(
            "wrong number of args for {name}: want 1 got {}",
            args.len()
        ))),
    }
}

fn kv_path(name: &str, q: &str) -> Result<(String, crate::deps::At), FuncError> {
    let (path, at) = parse_scoped(q, false).map_err(|e| FuncError::Call(format!("{name}: {e}")))?;
    Ok((path.trim_start_matches('/').to_string(), at))
}

fn add_service(funcs: &mut Funcs, env: &Env, name: &'static str, connect: bool) {
    let e = env.clone();
    funcs.add(name, 0, None, move |_, args| {
        let parts = strings(name, args)?;
        if parts.first().is_none_or(String::is_empty) {
            return Ok(crate::godata::placeholder(&Dep::Service {
                name: String::new(),
                tag: None,
                at: Default::default(),
                filter: Vec::new(),
                connect,
            }));
        }
        let q = parse_service_query(&parts.join("|"))
            .map_err(|m| FuncError::Call(format!("health.{name}: {m}")))?;
        let filter =
            normalize_filter(q.filter).map_err(|m| FuncError::Call(format!("{name}: {m}")))?;
        Ok(e.read_go(Dep::Service {
            name: q.name,
            tag: q.tag,
            at: q.at,
            filter,
            connect,
        }))
    });
}

fn add_catalog(funcs: &mut Funcs, env: &Env) {
    let e = env.clone();
    funcs.add("services", 0, None, move |_, args| {
        let (what, at) = parse_scoped(&strings("services", args)?.concat(), false)
            .map_err(|m| FuncError::Call(format!("catalog.services: {m}")))?;
        if !what.is_empty() {
            return Err(FuncError::Call(format!(
                "catalog.services: invalid format: {what:?}: services takes only [?ns=..][@dc]"
            )));
        }
        Ok(e.read_go(Dep::Services { at }))
    });
    let e = env.clone();
    funcs.add("nodes", 0, None, move |_, args| {
        let (what, at) = parse_scoped(&strings("nodes", args)?.concat(), true)
            .map_err(|m| FuncError::Call(format!("catalog.nodes: {m}")))?;
        if !what.is_empty() {
            return Err(FuncError::Call(format!(
                "catalog.nodes: invalid format: {what:?}: nodes takes only [?ns=..][@dc][~near]"
            )));
        }
        Ok(e.read_go(Dep::Nodes { at }))
    });
    let e = env.clone();
    funcs.add("node", 0, None, move |_, args| {
        let (name, at) = parse_scoped(&strings("node", args)?.concat(), false)
            .map_err(|m| FuncError::Call(format!("catalog.node: {m}")))?;
        Ok(e.read_go(Dep::Node {
            name: (!name.is_empty()).then_some(name),
            at,
        }))
    });
    let e = env.clone();
    funcs.add("datacenters", 0, Some(1), move |_, args| {
        let ignore_inaccessible = match args {
            [] => false,
            [Value::Bool(b)] => *b,
            [other] => {
                return Err(FuncError::Arg(format!(
                    "wrong type for value; expected bool; got {}",
                    other.type_name()
                )))
            }
            _ => false,
        };
        Ok(e.read_go(Dep::Datacenters {
            ignore_inaccessible,
        }))
    });
}

fn add_kv(funcs: &mut Funcs, env: &Env) {
    let e = env.clone();
    funcs.add("key", 1, Some(1), move |_, args| {
        let q = one_string("key", args)?;
        if q.is_empty() {
            return Ok(Value::from(""));
        }
        let (path, at) = kv_path("kv.block", q)?;
        Ok(e.read_go(Dep::Key { path, at }))
    });
    let e = env.clone();
    funcs.add("keyExists", 1, Some(1), move |_, args| {
        let q = one_string("keyExists", args)?;
        if q.is_empty() {
            return Ok(Value::Bool(false));
        }
        let (path, at) = kv_path("kv.get", q)?;
        Ok(Value::Bool(!e.read_go(Dep::KeyGet { path, at }).is_nil()))
    });
    let e = env.clone();
    funcs.add("keyOrDefault", 2, Some(2), move |_, args| {
        let both = strings("keyOrDefault", args)?;
        let (q, default) = (&both[0], &both[1]);
        if q.is_empty() {
            return Ok(Value::from(default.as_str()));
        }
        let (path, at) = kv_path("kv.get", q)?;
        Ok(match e.read_go(Dep::KeyGet { path, at }) {
            Value::Str(s) if !s.is_empty() => Value::Str(s),
            _ => Value::from(default.as_str()),
        })
    });
    for (name, tree, safe) in [
        ("ls", false, false),
        ("safeLs", false, true),
        ("tree", true, false),
        ("safeTree", true, true),
    ] {
        let e = env.clone();
        funcs.add(name, 1, Some(1), move |_, args| {
            let q = one_string(name, args)?;
            let (prefix, at) = kv_path(if tree { "kv.tree" } else { "kv.ls" }, q)?;
            let dep = if tree {
                Dep::Tree { prefix, at }
            } else {
                Dep::Ls { prefix, at }
            };
            if q.is_empty() {
                return Ok(crate::godata::placeholder(&dep));
            }
            let v = e.read_go(dep.clone());
            // safeLs/safeTree: an empty answer is no answer, so an emptied
            // prefix never empties the file.
            if safe && v.as_list().is_some_and(<[Value]>::is_empty) {
                e.mark_missing(&dep);
            }
            Ok(v)
        });
    }
}

fn add_file(funcs: &mut Funcs, env: &Env) {
    let e = env.clone();
    funcs.add("file", 1, Some(1), move |_, args| {
        let p = one_string("file", args)?;
        if p.is_empty() {
            return Ok(Value::from(""));
        }
        let path = PathBuf::from(p);
        e.check_sandbox(&path).map_err(FuncError::Call)?;
        Ok(e.read_go(Dep::File { path }))
    });
}

/// `partitions`, `peerings "[?partition=..]"`, `exportedServices
/// ["partition"]` and `importedServices "partition"`, with
/// consul-template's argument rules.
fn add_admin(funcs: &mut Funcs, env: &Env) {
    use crate::admin::Kind;
    let read = |e: &Env, kind: Kind, partition: String| {
        e.read_go_checked(Dep::Admin { kind, partition })
            .map_err(FuncError::Call)
    };
    let e = env.clone();
    funcs.add("partitions", 0, Some(0), move |_, _| {
        read(&e, Kind::Partitions, String::new())
    });
    let e = env.clone();
    funcs.add("peerings", 0, None, move |_, args| {
        let q = strings("peerings", args)?.concat();
        let invalid = || {
            FuncError::Call(format!(
                "list.peering: invalid format: {q:?}: peerings takes only [?partition=..]"
            ))
        };
        if !q.is_empty() && !q.starts_with('?') {
            return Err(invalid());
        }
        let (what, at) =
            parse_scoped(&q, false).map_err(|m| FuncError::Call(format!("list.peering: {m}")))?;
        if !what.is_empty() || at.dc.is_some() {
            return Err(invalid());
        }
        let partition = at
            .query
            .iter()
            .find(|(k, _)| k == "partition")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        read(&e, Kind::Peerings, partition)
    });
    let e = env.clone();
    funcs.add("exportedServices", 0, None, move |_, args| {
        if args.len() > 1 {
            return Err(FuncError::Call(
                "exportedServices: wrong number of arguments, expected 0 or 1".into(),
            ));
        }
        let partition = strings("exportedServices", args)?.concat();
        read(&e, Kind::ExportedServices, partition)
    });
    let e = env.clone();
    funcs.add("importedServices", 1, Some(1), move |_, args| {
        let partition = one_string("importedServices", args)?.to_string();
        read(&e, Kind::ImportedServices, partition)
    });
}

/// Functions of consul-template's that read Vault, Nomad or Connect's CA:
/// templater renders Consul's catalog and KV only, and says so.
const ELSEWHERE: &[(&str, &str)] = &[
    ("secret", "Vault"),
    ("secrets", "Vault"),
    ("pkiCert", "Vault"),
    ("nomadServices", "Nomad"),
    ("nomadService", "Nomad"),
    ("nomadVarList", "Nomad"),
    ("nomadVarListSafe", "Nomad"),
    ("nomadVar", "Nomad"),
    ("nomadVarExists", "Nomad"),
    ("caRoots", "Connect's CA"),
    ("caLeaf", "Connect's CA"),
];

/// The function table of a Go template with these settings.
pub fn funcs(env: &Env) -> Funcs {
    let mut funcs = Funcs::new();
    let helpers = ctfuncs::Env {
        vars: env.vars().clone(),
        sandbox: env.sandbox().cloned(),
        plugin_timeout: Duration::from_secs(30),
        ..ctfuncs::Env::default()
    };
    ctfuncs::install(&mut funcs, &helpers);
    add_service(&mut funcs, env, "service", false);
    add_service(&mut funcs, env, "connect", true);
    add_catalog(&mut funcs, env);
    add_kv(&mut funcs, env);
    add_file(&mut funcs, env);
    add_admin(&mut funcs, env);
    for (name, system) in ELSEWHERE {
        funcs.add(name, 0, None, move |_, _| {
            Err(FuncError::Call(format!(
                "{name} reads {system}, which templater does not: it renders Consul's catalog and KV only"
            )))
        });
    }
    // Go's own builtins are not consul-template's to deny.
    let builtins = Funcs::new();
    let denied: Vec<String> = funcs
        .names()
        .into_iter()
        .filter(|n| !builtins.contains(n) && env.is_denied(n))
        .map(str::to_string)
        .collect();
    for name in denied {
        funcs.add(&name, 0, None, |_, _| {
            Err(FuncError::Call(
                "function is disabled (function_denylist)".into(),
            ))
        });
    }
    funcs
}
