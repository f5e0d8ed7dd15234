//! The rules Consul applies to a service registration (`validateService`,
//! `CheckType.Validate`, meta limits), checked before anything is sent so a
//! bad definition is reported where it was written, not as a 400 later.

use dcy::agent::{CheckRegistration, ServiceRegistration};

/// Meta keys registrar adds to what it registers in `sync` mode.
pub(crate) const SYNC_MARKS: usize = 3;
/// Meta keys registrar adds to what it registers in `run` mode.
pub(crate) const RUN_MARKS: usize = 1;

/// Meta key marking everything registrar registered.
pub const MANAGED_BY: &str = "managed-by";
/// The value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "registrar";
/// Meta key naming the definition file a `sync`-registered service comes from.
pub const FILE_KEY: &str = "registrar-file";
/// Meta key naming the directory a `sync` instance follows.
pub const DIR_KEY: &str = "registrar-dir";

const MAX_META_PAIRS: usize = 64;
const MAX_META_KEY: usize = 128;
const MAX_META_VALUE: usize = 512;

/// A problem found in a registration.
#[derive(Debug)]
pub(crate) enum Finding {
    /// Consul would refuse it (or registrar cannot do it).
    Error(String),
    /// It works, perhaps not as meant.
    Warning(String),
}

/// Whether `s` works as a DNS label (Consul warns when it does not).
fn dns_compatible(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Problems of a service (not its checks), each with the field it concerns.
///
/// `marks` is the number of meta keys registrar adds.
pub(crate) fn service(reg: &ServiceRegistration, marks: usize) -> Vec<(&'static str, Finding)> {
    use Finding::{Error, Warning};
    let mut out = Vec::new();
    if !dns_compatible(&reg.name) {
        out.push((
            "name",
            Warning(format!(
                "service name `{}` is not a valid DNS label (letters, digits and `-`): it will not be found through DNS",
                reg.name
            )),
        ));
    }
    for tag in &reg.tags {
        if !dns_compatible(tag) {
            out.push((
                "tags",
                Warning(format!("tag `{tag}` has characters DNS cannot serve: `<tag>.<name>.service.consul` will not find it")),
            ));
        }
    }
    if matches!(reg.address.as_str(), "0.0.0.0" | "::" | "[::]") {
        out.push((
            "address",
            Error(format!(
                "address `{}` is not a service address: give the IP clients should dial, or leave it out to use the node's",
                reg.address
            )),
        ));
    }
    if reg.meta.len() + marks > MAX_META_PAIRS {
        out.push((
            "meta",
            Error(format!(
                "{} meta pairs: Consul allows {MAX_META_PAIRS} and registrar adds {marks} of its own",
                reg.meta.len()
            )),
        ));
    }
    for (k, v) in &reg.meta {
        let bad_char = !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let msg = if k.is_empty() || bad_char {
            Some(format!(
                "meta key `{k}` may hold only letters, digits, `_` and `-`"
            ))
        } else if k.len() > MAX_META_KEY {
            Some(format!(
                "meta key `{k}` is longer than {MAX_META_KEY} characters"
            ))
        } else if v.len() > MAX_META_VALUE {
            Some(format!(
                "meta value of `{k}` is longer than {MAX_META_VALUE} characters"
            ))
        } else if k.starts_with("consul-") {
            Some(format!(
                "meta key `{k}`: the prefix `consul-` is reserved for Consul"
            ))
        } else if [MANAGED_BY, FILE_KEY, DIR_KEY].contains(&k.as_str()) {
            Some(format!(
                "meta key `{k}` is reserved: registrar marks what it registers with it"
            ))
        } else {
            None
        };
        if let Some(m) = msg {
            out.push(("meta", Error(m)));
        }
    }
    if let Some(w) = &reg.weights {
        if w.passing < 1 || w.passing > 65535 || w.warning > 65535 {
            out.push((
                "weights",
                Error(format!(
                    "weights passing={} warning={}: passing must be 1 to 65535, warning 0 to 65535",
                    w.passing, w.warning
                )),
            ));
        }
    }
    out
}

/// Problems of a check, each with the field it concerns (`""`: the check as a whole).
pub(crate) fn check(c: &CheckRegistration) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // (field, what the check is called)
    let kinds: Vec<(&'static str, &'static str)> = [
        ("http", "http", !c.http.is_empty()),
        ("tcp", "tcp", !c.tcp.is_empty()),
        ("args", "script", !c.script_args.is_empty()),
        ("grpc", "grpc", !c.grpc.is_empty()),
        ("udp", "udp", !c.udp.is_empty()),
        ("h2ping", "h2ping", !c.h2ping.is_empty()),
    ]
    .into_iter()
    .filter_map(|(f, k, on)| on.then_some((f, k)))
    .collect();
    let active = !kinds.is_empty();
    let alias = !c.alias_service.is_empty() || !c.alias_node.is_empty();
    if kinds.len() > 1 {
        out.push((
            kinds[1].0,
            format!(
                "`{}` and `{}` are both set: a check has one type, split it into two checks",
                kinds[0].0, kinds[1].0
            ),
        ));
    }
    if !c.docker_container_id.is_empty() && c.script_args.is_empty() {
        out.push((
            "dockercontainerid",
            "a docker check needs `args`: the command to run in the container".to_string(),
        ));
    }
    if alias {
        if active || c.interval.is_some() || c.ttl.is_some() {
            out.push((
                "",
                "an alias check takes neither another type nor an `interval` or `ttl`: it follows the aliased service".to_string(),
            ));
        }
    } else if c.interval.is_some() && c.ttl.is_some() {
        out.push((
            "ttl",
            "`interval` and `ttl` are both set: an active check runs every interval, a TTL check is kept alive by its program".to_string(),
        ));
    } else if active {
        match c.interval {
            None => out.push((
                "",
                format!(
                    "a {} check needs an `interval`, such as \"10s\"",
                    kinds[0].1
                ),
            )),
            Some(d) if d.is_zero() => out.push((
                "interval",
                format!("interval must be > 0 for {} checks", kinds[0].1),
            )),
            Some(_) => {}
        }
    } else {
        match c.ttl {
            None => out.push((
                "",
                "a check needs `http`, `tcp`, `args`, `grpc`, `udp` or `h2ping` with an `interval`, a `ttl`, or `alias_service`".to_string(),
            )),
            Some(d) if d.is_zero() => {
                out.push(("ttl", "ttl must be > 0 for TTL checks".to_string()))
            }
            Some(_) => {}
        }
    }
    for (field, addr) in [("udp", &c.udp), ("h2ping", &c.h2ping)] {
        if !addr.is_empty() && !host_port(addr) {
            out.push((
                field,
                format!("{field} check address `{addr}` must be host:port"),
            ));
        }
    }
    if !c.grpc.is_empty() && !host_port(c.grpc.split('/').next().unwrap_or("")) {
        out.push((
            "grpc",
            format!(
                "grpc check target `{}` must be host:port or host:port/service",
                c.grpc
            ),
        ));
    }
    if !c.http.is_empty() {
        match reqwest::Url::parse(&c.http) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            Ok(u) => out.push((
                "http",
                format!(
                    "http check URL `{}` must use http or https, not {}",
                    c.http,
                    u.scheme()
                ),
            )),
            Err(e) => out.push((
                "http",
                format!("http check URL `{}` is invalid: {e}", c.http),
            )),
        }
    }
    if !c.tcp.is_empty() && !host_port(&c.tcp) {
        out.push((
            "tcp",
            format!("tcp check address `{}` must be host:port", c.tcp),
        ));
    }
    if !c.method.is_empty() && !c.method.chars().all(|ch| ch.is_ascii_alphabetic()) {
        out.push(("method", format!("HTTP method `{}` is invalid", c.method)));
    }
    out
}

/// `host:port` with a numeric port (IPv6 hosts in brackets).
pub(crate) fn host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// Every problem of a whole registration (service and checks), as messages
/// naming the field; warnings are returned apart.
pub(crate) fn registration(reg: &ServiceRegistration, marks: usize) -> (Vec<String>, Vec<String>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    if reg.name.is_empty() {
        errors.push("missing service name".to_string());
    }
    for (field, f) in service(reg, marks) {
        match f {
            Finding::Error(m) => errors.push(format!("{field}: {m}")),
            Finding::Warning(m) => warnings.push(format!("{field}: {m}")),
        }
    }
    for (i, c) in reg.checks.iter().enumerate() {
        for (field, m) in check(c) {
            let field = if field.is_empty() {
                String::new()
            } else {
                format!(" {field}")
            };
            errors.push(format!("check #{}{field}: {m}", i + 1));
        }
    }
    (errors, warnings)
}
