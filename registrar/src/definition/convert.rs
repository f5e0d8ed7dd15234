//! Turning a parsed document (JSON or HCL, as `serde_json::Value`) into
//! service registrations, collecting each problem with its path in the
//! document (the caller turns paths into lines).

use std::collections::BTreeMap;
use std::time::Duration;

use dcy::agent::{CheckRegistration, ServiceRegistration};
use dcy::{Status, Weights};
use serde_json::{Map, Value};

use super::Severity;
use crate::locate::{canon, Seg};
use crate::validate;

/// Fields of a service that Consul accepts and registrar does not pass on.
const IGNORED_SERVICE_FIELDS: &[&str] = &[
    "kind",
    "taggedaddresses",
    "socketpath",
    "token",
    "proxy",
    "connect",
    "namespace",
    "partition",
    "locality",
];

/// Fields of a check that Consul accepts and registrar does not pass on.
const IGNORED_CHECK_FIELDS: &[&str] = &[
    "body",
    "disableredirects",
    "tlsservername",
    "tcpusetls",
    "successbeforepassing",
    "failuresbeforewarning",
    "failuresbeforecritical",
    "outputmaxsize",
    "serviceid",
    "token",
];

/// Check types Consul has and registrar cannot register through the HTTP API as a sidecar.
const UNSUPPORTED_CHECK_TYPES: &[(&str, &str)] = &[("osservice", "OS service")];

/// A problem at a path in the document.
pub(super) type Found = (Vec<Seg>, Severity, String);

#[derive(Default)]
pub(super) struct Converter {
    pub(super) problems: Vec<Found>,
}

fn at(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(seg);
    p
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Converter {
    fn error(&mut self, path: Vec<Seg>, msg: impl Into<String>) {
        self.problems.push((path, Severity::Error, msg.into()));
    }

    fn warn(&mut self, path: Vec<Seg>, msg: impl Into<String>) {
        self.problems.push((path, Severity::Warning, msg.into()));
    }

    /// The top level: `service` and `services`.
    pub(super) fn document(&mut self, value: &Value) -> Vec<(Vec<Seg>, ServiceRegistration)> {
        let Value::Object(top) = value else {
            self.error(
                Vec::new(),
                format!(
                    "a definition file holds an object with a `service` or `services` key, not {}",
                    kind_of(value)
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, v) in top {
            let path = vec![Seg::Key(key.clone())];
            match canon(key).as_str() {
                "service" | "services" => {
                    for (i, item) in self.list(v, &path) {
                        let p = at(&path, Seg::Index(i));
                        if let Some(reg) = self.service(item, &p) {
                            out.push((p, reg));
                        }
                    }
                }
                "check" | "checks" => self.warn(
                    path,
                    format!("top-level `{key}` is a node check, agent configuration: registrar registers services only, so it is ignored"),
                ),
                _ => self.error(
                    path,
                    format!("unknown key `{key}`: a definition file holds `service` or `services`"),
                ),
            }
        }
        if out.is_empty() && !self.problems.iter().any(|p| p.1 == Severity::Error) {
            self.warn(Vec::new(), "no service definitions in this file");
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, (path, reg)) in out.iter().enumerate() {
            if let Some(first) = seen.insert(reg.id.clone(), i) {
                let msg = format!(
                    "service ID `{}` is defined twice in this file (also at the service #{}): give each an `id`",
                    reg.id,
                    first + 1
                );
                self.problems.push((path.clone(), Severity::Error, msg));
            }
        }
        out
    }

    /// An object or a list of objects, as `(index, item)`.
    fn list<'v>(&mut self, v: &'v Value, path: &[Seg]) -> Vec<(usize, &'v Value)> {
        match v {
            Value::Array(items) => items.iter().enumerate().collect(),
            Value::Object(_) => vec![(0, v)],
            other => {
                self.error(
                    path.to_vec(),
                    format!(
                        "expected an object or a list of objects, found {}",
                        kind_of(other)
                    ),
                );
                Vec::new()
            }
        }
    }

    fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &[Seg],
        what: &str,
    ) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.error(
                    path.to_vec(),
                    format!("{what} must be an object, found {}", kind_of(other)),
                );
                None
            }
        }
    }

    fn service(&mut self, v: &Value, path: &[Seg]) -> Option<ServiceRegistration> {
        let m = self.object(v, path, "a service")?;
        let mut reg = ServiceRegistration::default();
        let (mut single, mut many) = (Vec::new(), Vec::new());
        for (key, v) in m {
            let p = at(path, Seg::Key(key.clone()));
            match canon(key).as_str() {
                "id" => reg.id = self.string(v, &p).unwrap_or_default(),
                "name" => reg.name = self.string(v, &p).unwrap_or_default(),
                "tags" => reg.tags = self.strings(v, &p),
                "address" => reg.address = self.string(v, &p).unwrap_or_default(),
                "port" => reg.port = self.port(v, &p).unwrap_or_default(),
                "meta" => reg.meta = self.string_map(v, &p),
                "enabletagoverride" => reg.enable_tag_override = self.boolean(v, &p),
                "weights" => reg.weights = self.weights(v, &p),
                "check" => {
                    single = self
                        .list(v, &p)
                        .into_iter()
                        .map(|(i, c)| (at(&p, Seg::Index(i)), c))
                        .collect()
                }
                "checks" => {
                    many = self
                        .list(v, &p)
                        .into_iter()
                        .map(|(i, c)| (at(&p, Seg::Index(i)), c))
                        .collect()
                }
                k if IGNORED_SERVICE_FIELDS.contains(&k) => self.warn(
                    p,
                    format!("`{key}` is not supported by registrar and is ignored"),
                ),
                _ => self.error(p, format!("unknown service field `{key}`")),
            }
        }
        // Consul puts `check` before `checks`.
        for (p, c) in single.into_iter().chain(many) {
            if let Some(check) = self.check(c, &p) {
                reg.checks.push(check);
            }
        }
        if reg.name.is_empty() {
            self.error(path.to_vec(), "missing service name: add `name`");
            return None;
        }
        if reg.id.is_empty() {
            reg.id = reg.name.clone();
        }
        for (field, msg) in validate::service(&reg, validate::SYNC_MARKS) {
            let p = at(path, Seg::Key(field.to_string()));
            match msg {
                validate::Finding::Error(m) => self.error(p, m),
                validate::Finding::Warning(m) => self.warn(p, m),
            }
        }
        Some(reg)
    }

    fn check(&mut self, v: &Value, path: &[Seg]) -> Option<CheckRegistration> {
        let m = self.object(v, path, "a check")?;
        let mut c = CheckRegistration::default();
        for (key, v) in m {
            let p = at(path, Seg::Key(key.clone()));
            let k = canon(key);
            match k.as_str() {
                "id" | "checkid" => c.check_id = self.string(v, &p).unwrap_or_default(),
                "name" => c.name = self.string(v, &p).unwrap_or_default(),
                "notes" => c.notes = self.string(v, &p).unwrap_or_default(),
                "status" => c.status = self.status(v, &p),
                "http" => c.http = self.string(v, &p).unwrap_or_default(),
                "method" => c.method = self.string(v, &p).unwrap_or_default(),
                "header" => c.header = self.header(v, &p),
                "tcp" => c.tcp = self.string(v, &p).unwrap_or_default(),
                "tlsskipverify" => c.tls_skip_verify = self.boolean(v, &p),
                "ttl" => c.ttl = self.duration(v, &p),
                "interval" => c.interval = self.duration(v, &p),
                "timeout" => c.timeout = self.duration(v, &p),
                "deregistercriticalserviceafter" => {
                    c.deregister_critical_service_after = self.duration(v, &p)
                }
                "args" | "scriptargs" => c.script_args = self.strings(v, &p),
                "shell" => c.shell = self.string(v, &p).unwrap_or_default(),
                "dockercontainerid" => {
                    c.docker_container_id = self.string(v, &p).unwrap_or_default()
                }
                "grpc" => c.grpc = self.string(v, &p).unwrap_or_default(),
                "grpcusetls" => c.grpc_use_tls = self.boolean(v, &p),
                "udp" => c.udp = self.string(v, &p).unwrap_or_default(),
                "h2ping" => c.h2ping = self.string(v, &p).unwrap_or_default(),
                "h2pingusetls" => c.h2ping_use_tls = Some(self.boolean(v, &p)),
                "aliasservice" => c.alias_service = self.string(v, &p).unwrap_or_default(),
                "aliasnode" => c.alias_node = self.string(v, &p).unwrap_or_default(),
                k if IGNORED_CHECK_FIELDS.contains(&k) => {
                    self.warn(p, format!("`{key}` is not supported by registrar and is ignored"))
                }
                k => match UNSUPPORTED_CHECK_TYPES.iter().find(|(f, _)| *f == k) {
                    Some((_, kind)) => self.error(
                        p,
                        format!("{kind} checks are not supported by registrar: they run on Windows only"),
                    ),
                    None => self.error(p, format!("unknown check field `{key}`")),
                },
            }
        }
        for (field, msg) in validate::check(&c) {
            let p = match field {
                "" => path.to_vec(),
                f => at(path, Seg::Key(f.to_string())),
            };
            self.error(p, msg);
        }
        Some(c)
    }

    fn string(&mut self, v: &Value, path: &[Seg]) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(
                    path.to_vec(),
                    format!("expected a string, found {}", kind_of(other)),
                );
                None
            }
        }
    }

    fn strings(&mut self, v: &Value, path: &[Seg]) -> Vec<String> {
        let Value::Array(items) = v else {
            self.error(
                path.to_vec(),
                format!("expected a list of strings, found {}", kind_of(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.string(item, &at(path, Seg::Index(i))) {
                out.push(s);
            }
        }
        out
    }

    /// `meta`: string values; numbers and booleans are taken as their text.
    fn string_map(&mut self, v: &Value, path: &[Seg]) -> BTreeMap<String, String> {
        let Some(m) = self.object(v, path, "`meta`") else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    let msg = format!(
                        "meta value `{k}` must be a string, found {}",
                        kind_of(other)
                    );
                    self.error(at(path, Seg::Key(k.clone())), msg);
                    continue;
                }
            };
            out.insert(k.clone(), text);
        }
        out
    }

    /// `header`: each name maps to a list of values (or one value).
    fn header(&mut self, v: &Value, path: &[Seg]) -> BTreeMap<String, Vec<String>> {
        let Some(m) = self.object(v, path, "`header`") else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let p = at(path, Seg::Key(k.clone()));
            let values = match v {
                Value::String(s) => vec![s.clone()],
                _ => self.strings(v, &p),
            };
            out.insert(k.clone(), values);
        }
        out
    }

    fn port(&mut self, v: &Value, path: &[Seg]) -> Option<u16> {
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n.and_then(|n| u16::try_from(n).ok()) {
            Some(p) => Some(p),
            None => {
                self.error(
                    path.to_vec(),
                    format!("port must be a number from 0 to 65535, found {v}"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value, path: &[Seg]) -> bool {
        match v {
            Value::Bool(b) => *b,
            Value::String(s) if gocompat::parse_bool(s).is_some() => {
                gocompat::parse_bool(s).unwrap_or_default()
            }
            other => {
                self.error(
                    path.to_vec(),
                    format!("expected true or false, found {other}"),
                );
                false
            }
        }
    }

    fn status(&mut self, v: &Value, path: &[Seg]) -> Option<Status> {
        match v.as_str() {
            Some("passing") => Some(Status::Passing),
            Some("warning") => Some(Status::Warning),
            Some("critical") => Some(Status::Critical),
            Some("") => None,
            _ => {
                self.error(
                    path.to_vec(),
                    format!("status must be `passing`, `warning` or `critical`, found {v}"),
                );
                None
            }
        }
    }

    /// A Go duration string (`"10s"`) or a number of nanoseconds.
    fn duration(&mut self, v: &Value, path: &[Seg]) -> Option<Duration> {
        let parsed = match v {
            Value::String(s) => gocompat::duration::parse(s),
            Value::Number(n) => n.as_u64().map(Duration::from_nanos).ok_or_else(|| {
                format!("invalid duration {n}: must be a whole, non-negative number of nanoseconds")
            }),
            other => Err(format!(
                "expected a duration such as \"10s\", found {}",
                kind_of(other)
            )),
        };
        match parsed {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(path.to_vec(), e);
                None
            }
        }
    }

    fn weights(&mut self, v: &Value, path: &[Seg]) -> Option<Weights> {
        let m = self.object(v, path, "`weights`")?;
        let mut w = Weights {
            passing: 1,
            warning: 1,
        };
        for (k, v) in m {
            let p = at(path, Seg::Key(k.clone()));
            let n = v.as_u64().and_then(|n| u32::try_from(n).ok());
            let slot = match canon(k).as_str() {
                "passing" => &mut w.passing,
                "warning" => &mut w.warning,
                _ => {
                    self.error(
                        p,
                        format!("unknown weights field `{k}`: use `passing` and `warning`"),
                    );
                    continue;
                }
            };
            match n {
                Some(n) => *slot = n,
                None => self.error(
                    p,
                    format!("a weight is a whole number from 0 to 65535, found {v}"),
                ),
            }
        }
        Some(w)
    }
}
