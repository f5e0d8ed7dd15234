//! `sockaddr`: consul-template's door to go-sockaddr's template language.
//!
//! `{{ sockaddr "GetPrivateIP" }}` joins its arguments with spaces, wraps
//! them in `{{ }}` and evaluates that as a template of go-sockaddr's
//! functions over this host's interfaces (the template's dot is every
//! address, as `GetAllInterfaces` gives them):
//!
//! | kind | functions |
//! |---|---|
//! | sources | `GetAllInterfaces GetDefaultInterfaces GetPrivateInterfaces GetPublicInterfaces` |
//! | strings | `GetPrivateIP GetPrivateIPs GetPublicIP GetPublicIPs GetInterfaceIP GetInterfaceIPs` |
//! | pipeline | `include exclude` (`address flag(s) name network port rfc(s) size type`), `sort` (`[+-]address default name port private size type`), `unique` (`address name`), `limit offset attr join math` (`address network mask`) |
//!
//! Addresses carry go-sockaddr's attributes (`address`, `network`,
//! `mask_bits`, `size`, `broadcast`, `name`, `flags`, ...) and print as
//! `IfAddr.String` does. Anything else (a function, selector, flag,
//! attribute or field go-sockaddr does not have) is an error naming it.
//! Unix socket addresses never come from interfaces and are not modelled.

mod host;
mod ifaddr;
mod ip;
mod ipmath;
mod rfc;
mod select;

use std::sync::Arc;

use gotemplate::fmt::quote_ascii;
use gotemplate::{FuncError, Funcs, MissingKey, Options, Template, Value};

pub use host::{default_from_route_table, System};
pub use ifaddr::{
    flags_string, IfAddr, Interface, FLAG_BROADCAST, FLAG_LOOPBACK, FLAG_MULTICAST,
    FLAG_POINT_TO_POINT, FLAG_RUNNING, FLAG_UP,
};
pub use ip::Ip;

use crate::args;

/// Where the addresses come from.
pub trait Host: Send + Sync + std::fmt::Debug {
    /// Every address of every interface (Go's `net.Interfaces` order).
    fn interfaces(&self) -> Result<Vec<IfAddr>, String>;
    /// The name of the interface of the default route.
    fn default_interface(&self) -> Result<String, String>;
}

/// A fixed list of addresses and default interface (tests, golden files).
#[derive(Debug, Clone)]
pub struct Fixed {
    /// The addresses.
    pub addrs: Vec<IfAddr>,
    /// The default route's interface, if any.
    pub default: Option<String>,
}

impl Host for Fixed {
    fn interfaces(&self) -> Result<Vec<IfAddr>, String> {
        Ok(self.addrs.clone())
    }
    fn default_interface(&self) -> Result<String, String> {
        self.default
            .clone()
            .ok_or_else(|| "No default interface found".to_string())
    }
}

/// The longest `sockaddr` input accepted.
const MAX_INPUT: usize = 64 * 1024;

/// Adds `sockaddr`, reading addresses from `host`.
pub fn install(funcs: &mut Funcs, host: Arc<dyn Host>) {
    let inner = Arc::new(inner_funcs(&host));
    funcs.add("sockaddr", 0, None, move |_, a| {
        let parts = a.iter().map(args::string).collect::<Result<Vec<_>, _>>()?;
        evaluate(&parts.join(" "), &inner, host.as_ref()).map(Value::from)
    });
}

/// go-sockaddr's `template.Parse`: `{{ input }}` over the host's addresses.
fn evaluate(input: &str, funcs: &Funcs, host: &dyn Host) -> Result<String, FuncError> {
    let text = format!("{{{{ {input} }}}}");
    if text.len() > MAX_INPUT {
        return Err(FuncError::Call(format!(
            "sockaddr input is {} bytes, more than the {MAX_INPUT} accepted",
            text.len()
        )));
    }
    let opts = Options {
        missing_key: MissingKey::Error,
        ..Options::default()
    };
    let tmpl = Template::parse("sockaddr.Parse", &text, funcs, &opts).map_err(|e| {
        FuncError::Call(format!(
            "unable to parse template {}: {e}",
            quote_ascii(&text)
        ))
    })?;
    let addrs = host
        .interfaces()
        .map_err(|e| FuncError::Call(format!("unable to query interface addresses: {e}")))?;
    tmpl.execute(&ifaddr::list_value(addrs)).map_err(|e| {
        FuncError::Call(format!(
            "unable to execute sockaddr input {}: {e}",
            quote_ascii(&text)
        ))
    })
}

fn call<T>(r: Result<T, String>) -> Result<T, FuncError> {
    r.map_err(FuncError::Call)
}

/// IP addresses, sorted by type then network size.
fn sorted_ips(host: &dyn Host) -> Result<Vec<IfAddr>, String> {
    let all = host.interfaces()?;
    let ips = select::include("type", "ip", &all)?;
    ifaddr::sort("type,size", &ips, &None)
}

/// The IP addresses that are forwardable, on an up interface, sorted by
/// default route, type and size; with `private`, those of RFC 6890, else the others.
fn interfaces_of(host: &dyn Host, private: bool) -> Result<Vec<IfAddr>, String> {
    let all = host.interfaces()?;
    let ips = select::include("type", "ip", &all)?;
    let fwd = select::include("flags", "forwardable", &ips)?;
    let up = select::include("flags", "up", &fwd)?;
    let sorted = ifaddr::sort("default,type,size", &up, &host.default_interface().ok())?;
    let (private_ifs, public_ifs) = select::if_by_rfc("6890", &sorted)?;
    Ok(if private { private_ifs } else { public_ifs })
}

fn addresses(addrs: &[IfAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.ip.address())
        .collect::<Vec<_>>()
        .join(" ")
}

fn inner_funcs(host: &Arc<dyn Host>) -> Funcs {
    let mut f = Funcs::new();
    let h = Arc::clone(host);
    f.add_fixed("GetAllInterfaces", 0, move |_| {
        call(h.interfaces()).map(ifaddr::list_value)
    });
    let h = Arc::clone(host);
    f.add_fixed("GetDefaultInterfaces", 0, move |_| {
        let name = call(h.default_interface())?;
        let all = h.interfaces().unwrap_or_default();
        Ok(ifaddr::list_value(
            all.into_iter().filter(|a| a.iface.name == name).collect(),
        ))
    });
    for (name, private) in [
        ("GetPrivateInterfaces", true),
        ("GetPublicInterfaces", false),
    ] {
        let h = Arc::clone(host);
        f.add_fixed(name, 0, move |_| {
            call(interfaces_of(h.as_ref(), private)).map(ifaddr::list_value)
        });
    }
    for (name, private) in [("GetPrivateIP", true), ("GetPublicIP", false)] {
        let h = Arc::clone(host);
        f.add_fixed(name, 0, move |_| {
            let ifs = call(interfaces_of(h.as_ref(), private))?;
            Ok(Value::from(
                ifs.first().map(|a| a.ip.address()).unwrap_or_default(),
            ))
        });
    }
    let h = Arc::clone(host);
    f.add_fixed("GetPrivateIPs", 0, move |_| {
        let ips = call(sorted_ips(h.as_ref()))?;
        let (private, _) = call(select::if_by_rfc("6890", &ips))?;
        let (_, forwardable) = call(select::if_by_rfc("4294967295", &private))?;
        Ok(Value::from(addresses(&forwardable)))
    });
    let h = Arc::clone(host);
    f.add_fixed("GetPublicIPs", 0, move |_| {
        let ips = call(sorted_ips(h.as_ref()))?;
        let (_, public) = call(select::if_by_rfc("6890", &ips))?;
        Ok(Value::from(addresses(&public)))
    });
    for (name, first) in [("GetInterfaceIP", true), ("GetInterfaceIPs", false)] {
        let h = Arc::clone(host);
        f.add_fixed(name, 1, move |a| {
            let re = args::string(&a[0])?;
            let all = call(h.interfaces())?;
            let mut named = call(select::include("name", re, &all))?;
            if first {
                named = call(select::include("flag", "forwardable", &named))?;
            }
            let sorted = call(ifaddr::sort("+type,+size", &named, &None))?;
            Ok(Value::from(if first {
                sorted.first().map(|a| a.ip.address()).unwrap_or_default()
            } else {
                addresses(&sorted)
            }))
        });
    }
    let h = Arc::clone(host);
    f.add_fixed("sort", 2, move |a| {
        let param = args::string(&a[0])?;
        let addrs = ifaddr::from_value(&a[1])?;
        let needs_default = param.to_lowercase().contains("default");
        let default_if = if needs_default {
            h.default_interface().ok()
        } else {
            None
        };
        call(ifaddr::sort(param, &addrs, &default_if)).map(ifaddr::list_value)
    });
    for (name, include) in [("include", true), ("exclude", false)] {
        f.add_fixed(name, 3, move |a| {
            let (sel, param) = (args::string(&a[0])?, args::string(&a[1])?);
            let addrs = ifaddr::from_value(&a[2])?;
            let r = if include {
                select::include(sel, param, &addrs)
            } else {
                select::exclude(sel, param, &addrs)
            };
            call(r).map(ifaddr::list_value)
        });
    }
    f.add_fixed("attr", 2, |a| {
        let name = args::string(&a[0])?.to_lowercase();
        if let Some(one) = ifaddr::one_from_value(&a[1]) {
            return call(one.attr(&name)).map(Value::from);
        }
        match &a[1] {
            Value::List(_) => {
                let addrs = ifaddr::from_value(&a[1])?;
                match addrs.first() {
                    Some(first) => call(first.attr(&name)).map(Value::from),
                    None => Ok(Value::from("")),
                }
            }
            other => Err(FuncError::Call(format!(
                "unable to obtain attribute {} from type {} ({})",
                args::string(&a[0])?,
                other.type_name(),
                gotemplate::fmt::print_v(other)
            ))),
        }
    });
    f.add_fixed("join", 3, |a| {
        let (name, sep) = (args::string(&a[0])?, args::string(&a[1])?);
        let addrs = ifaddr::from_value(&a[2])?;
        call(ifaddr::join(name, sep, &addrs)).map(Value::from)
    });
    f.add_fixed("limit", 2, |a| {
        let lim = match &a[0] {
            Value::Uint(u) => usize::try_from(*u).unwrap_or(usize::MAX),
            Value::Int(i) if *i >= 0 => usize::try_from(*i).unwrap_or(usize::MAX),
            Value::Int(i) => {
                return Err(FuncError::Arg(format!(
                    "expected unsigned integer; found {i}"
                )))
            }
            other => return Err(args::wrong_type("uint", other)),
        };
        let addrs = ifaddr::from_value(&a[1])?;
        Ok(ifaddr::list_value(addrs.into_iter().take(lim).collect()))
    });
    f.add_fixed("offset", 2, |a| {
        let off = args::int(&a[0])?;
        let addrs = ifaddr::from_value(&a[1])?;
        call(ifaddr::offset(off, &addrs)).map(ifaddr::list_value)
    });
    f.add_fixed("unique", 2, |a| {
        let name = args::string(&a[0])?;
        let addrs = ifaddr::from_value(&a[1])?;
        call(ifaddr::unique(name, &addrs)).map(ifaddr::list_value)
    });
    f.add_fixed("math", 3, |a| {
        let (op, value) = (args::string(&a[0])?, args::string(&a[1])?);
        let addrs = ifaddr::from_value(&a[2])?;
        call(ifaddr::math(op, value, &addrs)).map(ifaddr::list_value)
    });
    f
}

#[cfg(test)]
mod tests;
