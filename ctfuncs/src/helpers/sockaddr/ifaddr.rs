//! go-sockaddr's `IfAddr` (an address on an interface) as a template
//! value, and the pipeline over lists of them: `include`/`exclude`,
//! `sort`, `unique`, `limit`, `offset`, `attr`, `join`, `math`.

use std::cmp::Ordering;
use std::sync::Arc;

use gotemplate::fmt::quote;

use super::select::quote_plus;
use gotemplate::{FuncError, List, Object, Struct, Type, Value, Zero};

use super::ip::Ip;

/// `net.Flags` bits, in Go's order (`up|broadcast|loopback|pointtopoint|multicast|running`).
pub const FLAG_NAMES: [&str; 6] = [
    "up",
    "broadcast",
    "loopback",
    "pointtopoint",
    "multicast",
    "running",
];
/// `net.FlagUp`.
pub const FLAG_UP: u32 = 1;
/// `net.FlagBroadcast`.
pub const FLAG_BROADCAST: u32 = 1 << 1;
/// `net.FlagLoopback`.
pub const FLAG_LOOPBACK: u32 = 1 << 2;
/// `net.FlagPointToPoint`.
pub const FLAG_POINT_TO_POINT: u32 = 1 << 3;
/// `net.FlagMulticast`.
pub const FLAG_MULTICAST: u32 = 1 << 4;
/// `net.FlagRunning` (Go 1.20+).
pub const FLAG_RUNNING: u32 = 1 << 5;

/// `net.Interface`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Index (1, 2, ...).
    pub index: i64,
    /// MTU.
    pub mtu: i64,
    /// Name (`eth0`).
    pub name: String,
    /// Hardware address (empty for none).
    pub hardware_addr: Vec<u8>,
    /// `net.Flags` bits.
    pub flags: u32,
}

/// `sockaddr.IfAddr`: an address and its interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    /// The address with its network mask.
    pub ip: Ip,
    /// The interface it is on.
    pub iface: Interface,
}

/// `net.Flags.String`.
pub fn flags_string(flags: u32) -> String {
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| flags & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

fn hw_string(hw: &[u8]) -> String {
    hw.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A value printed as its `String` method prints it.
#[derive(Debug)]
struct Printed {
    ty: &'static str,
    text: String,
}

impl Object for Printed {
    fn type_name(&self) -> &str {
        self.ty
    }
    fn call(&self, name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        (name == "String").then(|| Ok(Value::from(self.text.as_str())))
    }
    fn print(&self) -> String {
        self.text.clone()
    }
}

fn printed(ty: &'static str, text: String) -> Value {
    Value::Object(Arc::new(Printed { ty, text }))
}

static INTERFACE: Type = Type {
    name: "net.Interface",
    fields: &["Index", "MTU", "Name", "HardwareAddr", "Flags"],
    elem: Zero::Interface,
    methods: &[],
};

/// `sockaddr.IfAddrs`.
pub static IF_ADDRS: Type = Type::named("sockaddr.IfAddrs", Zero::Interface);

impl IfAddr {
    /// `IfAddr.String`: `10.0.1.5/24 {2 1500 eth0 02:42:ac:11:00:02 up|broadcast}`.
    pub fn string(&self) -> String {
        let i = &self.iface;
        format!(
            "{} {{{} {} {} {} {}}}",
            self.ip.string(),
            i.index,
            i.mtu,
            i.name,
            hw_string(&i.hardware_addr),
            flags_string(i.flags)
        )
    }

    /// `IfAddr.Attr`: `name` and `flags` of the interface, else the
    /// address's attributes.
    pub fn attr(&self, name: &str) -> Result<String, String> {
        let own = match name {
            "flags" => flags_string(self.iface.flags),
            "name" => self.iface.name.clone(),
            _ => String::new(),
        };
        if !own.is_empty() {
            return Ok(own);
        }
        self.ip
            .attr(name)
            .ok_or_else(|| format!("unsupported attribute name {}", quote(name)))
    }

    fn field(&self, name: &str) -> Option<Value> {
        let i = &self.iface;
        Some(match name {
            "SockAddr" => printed(
                match self.ip {
                    Ip::V4 { .. } => "sockaddr.IPv4Addr",
                    Ip::V6 { .. } => "sockaddr.IPv6Addr",
                },
                self.ip.string(),
            ),
            "Interface" => Value::Struct(Arc::new(Struct::new(
                &INTERFACE,
                vec![
                    Value::Int(i.index),
                    Value::Int(i.mtu),
                    Value::from(i.name.as_str()),
                    printed("net.HardwareAddr", hw_string(&i.hardware_addr)),
                    printed("net.Flags", flags_string(i.flags)),
                ],
            ))),
            "Index" => Value::Int(i.index),
            "MTU" => Value::Int(i.mtu),
            "Name" => Value::from(i.name.as_str()),
            "HardwareAddr" => printed("net.HardwareAddr", hw_string(&i.hardware_addr)),
            "Flags" => printed("net.Flags", flags_string(i.flags)),
            _ => return None,
        })
    }

    /// The template value.
    pub fn value(&self) -> Value {
        Value::Object(Arc::new(self.clone()))
    }
}

impl Object for IfAddr {
    fn type_name(&self) -> &str {
        "sockaddr.IfAddr"
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "String" => Some(Ok(Value::from(self.string()))),
            "Attr" => Some(match args {
                [Value::Str(s)] => self.attr(s).map(Value::from),
                [other] => Err(format!(
                    "wrong type for value; expected sockaddr.AttrName; got {}",
                    other.type_name()
                )),
                _ => Err(format!(
                    "wrong number of args for Attr: want 1 got {}",
                    args.len()
                )),
            }),
            _ if args.is_empty() => self.field(name).map(Ok),
            _ => None,
        }
    }

    fn print(&self) -> String {
        self.string()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// A list as a template value.
pub fn list_value(addrs: Vec<IfAddr>) -> Value {
    Value::List(Arc::new(List::typed(
        addrs.iter().map(IfAddr::value).collect(),
        &IF_ADDRS,
    )))
}

/// The addresses of a `sockaddr.IfAddrs` argument.
pub fn from_value(v: &Value) -> Result<Vec<IfAddr>, FuncError> {
    let wrong = || crate::args::wrong_type("sockaddr.IfAddrs", v);
    match v {
        Value::List(l) => l
            .items
            .iter()
            .map(|item| match item {
                Value::Object(o) => o
                    .as_any()
                    .and_then(|a| a.downcast_ref::<IfAddr>())
                    .cloned()
                    .ok_or_else(wrong),
                _ => Err(wrong()),
            })
            .collect(),
        Value::Nil | Value::Missing => Ok(Vec::new()),
        _ => Err(wrong()),
    }
}

/// One address, if `v` is an `IfAddr`.
pub fn one_from_value(v: &Value) -> Option<IfAddr> {
    match v {
        Value::Object(o) => o.as_any()?.downcast_ref::<IfAddr>().cloned(),
        _ => None,
    }
}

type Cmp = Box<dyn Fn(&IfAddr, &IfAddr) -> Ordering>;

fn private_cmp(a: &IfAddr, b: &IfAddr) -> Ordering {
    let a_in = a.ip.in_rfc(6890);
    if a.ip.kind() != b.ip.kind() {
        return if a_in {
            Ordering::Less
        } else {
            Ordering::Equal
        };
    }
    match (a_in, b.ip.in_rfc(6890)) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

fn size_cmp(a: &IfAddr, b: &IfAddr) -> Ordering {
    if a.ip.kind() != b.ip.kind() {
        return Ordering::Equal;
    }
    a.ip.mask_bytes().cmp(&b.ip.mask_bytes())
}

fn port_cmp(a: &IfAddr, b: &IfAddr) -> Ordering {
    a.ip.port().cmp(&b.ip.port())
}

/// The comparison of one `sort` clause.
fn clause(c: &str, default_if: &Option<String>) -> Option<Cmp> {
    let c = c.trim().to_lowercase();
    let (desc, key) = match c.strip_prefix('-') {
        Some(k) => (true, k.to_string()),
        None => (false, c.strip_prefix('+').unwrap_or(&c).to_string()),
    };
    let asc: Cmp = match key.as_str() {
        "address" => Box::new(|a, b| a.ip.cmp_address(&b.ip)),
        "default" => {
            let d = default_if.clone();
            Box::new(move |a, b| match &d {
                Some(d) if a.iface.name == *d && b.iface.name != *d => Ordering::Less,
                Some(d) if a.iface.name != *d && b.iface.name == *d => Ordering::Greater,
                _ => Ordering::Equal,
            })
        }
        "name" => Box::new(|a, b| a.iface.name.cmp(&b.iface.name)),
        "port" => Box::new(port_cmp),
        "private" => Box::new(private_cmp),
        "size" => Box::new(size_cmp),
        "type" => Box::new(|a, b| a.ip.kind().cmp(&b.ip.kind())),
        _ => return None,
    };
    Some(if desc {
        Box::new(move |a, b| asc(a, b).reverse())
    } else {
        asc
    })
}

/// Sorts as Go's `sort.Sort` does for up to 12 elements: an insertion
/// sort by the first clause that decides (ties keep their order).
fn insertion_sort(addrs: &mut [IfAddr], cmps: &[Cmp]) {
    let less = |a: &IfAddr, b: &IfAddr| {
        cmps.iter().map(|c| c(a, b)).find(|o| *o != Ordering::Equal) == Some(Ordering::Less)
    };
    for i in 1..addrs.len() {
        let mut j = i;
        while j > 0 && less(&addrs[j], &addrs[j - 1]) {
            addrs.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// `sort "clause,clause"`; `default_if` is the default route's interface.
pub fn sort(
    param: &str,
    addrs: &[IfAddr],
    default_if: &Option<String>,
) -> Result<Vec<IfAddr>, String> {
    let mut cmps = Vec::new();
    for c in param.split(',') {
        cmps.push(clause(c, default_if).ok_or_else(|| format!("unknown sort type: {}", quote(c)))?);
    }
    let mut out = addrs.to_vec();
    insertion_sort(&mut out, &cmps);
    Ok(out)
}

/// `unique "address"` or `unique "name"` over a sorted list.
pub fn unique(name: &str, addrs: &[IfAddr]) -> Result<Vec<IfAddr>, String> {
    let mut out: Vec<IfAddr> = Vec::new();
    let mut last = String::new();
    for a in addrs {
        let key = match name.to_lowercase().as_str() {
            "address" => a.ip.string(),
            "name" => a.iface.name.clone(),
            _ => {
                return Err(format!(
                    "unsupported unique constraint {}",
                    quote_plus(name)
                ))
            }
        };
        if last.is_empty() || last != key {
            last = key;
            out.push(a.clone());
        }
    }
    Ok(out)
}

/// `join "attr" "sep"`.
pub fn join(name: &str, sep: &str, addrs: &[IfAddr]) -> Result<String, String> {
    let name = name.to_lowercase();
    let parts = addrs
        .iter()
        .map(|a| a.attr(&name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(sep))
}

/// `offset n` (negative: from the end).
pub fn offset(off: i64, addrs: &[IfAddr]) -> Result<Vec<IfAddr>, String> {
    let n = usize::try_from(off.unsigned_abs()).unwrap_or(usize::MAX);
    if n > addrs.len() {
        return Err(format!(
            "unable to seek past the end of the interface array: offset ({n}) exceeds the number of interfaces ({})",
            addrs.len()
        ));
    }
    Ok(if off < 0 {
        addrs[addrs.len() - n..].to_vec()
    } else {
        addrs[n..].to_vec()
    })
}

/// `math "op" "value"` on every address.
pub fn math(op: &str, value: &str, addrs: &[IfAddr]) -> Result<Vec<IfAddr>, String> {
    addrs
        .iter()
        .map(|a| {
            a.ip.math(op, value)
                .map(|ip| IfAddr {
                    ip,
                    iface: a.iface.clone(),
                })
                .map_err(|e| {
                    format!(
                        "unable to perform an IPMath operation on {}: {e}",
                        a.string()
                    )
                })
        })
        .collect()
}
