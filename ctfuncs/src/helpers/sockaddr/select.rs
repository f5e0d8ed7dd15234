//! `include` and `exclude`: go-sockaddr's selectors (`address`, `flag(s)`,
//! `name`, `network`, `port`, `rfc(s)`, `size`, `type`), each splitting a
//! list into the addresses that match and the rest.

use gotemplate::fmt::quote;

use super::ifaddr::{
    IfAddr, FLAG_BROADCAST, FLAG_LOOPBACK, FLAG_MULTICAST, FLAG_POINT_TO_POINT, FLAG_UP,
};
use super::ip::Ip;

/// Matched and remaining addresses.
type Split = (Vec<IfAddr>, Vec<IfAddr>);

fn regex(kind: &str, re: &str) -> Result<regex::Regex, String> {
    if re.len() > crate::helpers::text::MAX_REGEX_LEN {
        return Err(format!(
            "Unable to compile {kind} regexp {}: longer than {} bytes",
            gotemplate::fmt::quote_ascii(re),
            crate::helpers::text::MAX_REGEX_LEN
        ));
    }
    regex::Regex::new(re).map_err(|e| {
        format!(
            "Unable to compile {kind} regexp {}: {e}",
            gotemplate::fmt::quote_ascii(re)
        )
    })
}

/// Splits by a predicate into (matched, remainder).
fn split(addrs: &[IfAddr], pred: impl Fn(&IfAddr) -> bool) -> Split {
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for a in addrs {
        if pred(a) {
            yes.push(a.clone());
        } else {
            no.push(a.clone());
        }
    }
    (yes, no)
}

fn v4_of(ip: &Ip) -> Option<u32> {
    match *ip {
        Ip::V4 { addr, .. } => Some(addr),
        Ip::V6 { addr, .. } => {
            let b = addr.to_be_bytes();
            (b[..10].iter().all(|x| *x == 0) && b[10] == 0xff && b[11] == 0xff)
                .then(|| u32::from_be_bytes([b[12], b[13], b[14], b[15]]))
        }
    }
}

/// Go's `net.IP` predicates (`IsLoopback`, ...), by name.
fn ip_is(ip: &Ip, what: &str) -> bool {
    let v4 = v4_of(ip);
    let v6 = match *ip {
        Ip::V6 { addr, .. } => Some(addr.to_be_bytes()),
        Ip::V4 { .. } => None,
    };
    let unspecified = match *ip {
        Ip::V4 { addr, .. } => addr == 0,
        Ip::V6 { addr, .. } => addr == 0,
    };
    let loopback = v4.is_some_and(|a| a >> 24 == 127) || matches!(*ip, Ip::V6 { addr: 1, .. });
    let multicast =
        v4.is_some_and(|a| a >> 28 == 0xe) || v6.is_some_and(|b| v4.is_none() && b[0] == 0xff);
    let link_local_unicast = v4.is_some_and(|a| a >> 16 == 0xa9fe)
        || v6.is_some_and(|b| v4.is_none() && b[0] == 0xfe && b[1] & 0xc0 == 0x80);
    match what {
        "unspecified" => unspecified,
        "loopback" => loopback,
        "multicast" => multicast,
        "interface-local multicast" => {
            v6.is_some_and(|b| v4.is_none() && b[0] == 0xff && b[1] & 0x0f == 0x01)
        }
        "link-local multicast" => {
            v4.is_some_and(|a| a >> 8 == 0xe0_0000)
                || v6.is_some_and(|b| v4.is_none() && b[0] == 0xff && b[1] & 0x0f == 0x02)
        }
        "link-local unicast" => link_local_unicast,
        "global unicast" => {
            v4 != Some(u32::MAX) && !unspecified && !loopback && !multicast && !link_local_unicast
        }
        _ => false,
    }
}

fn by_flag(flags: &str, addrs: &[IfAddr]) -> Result<Split, String> {
    let mut want = 0u32;
    let (mut check_flags, mut attrs) = (false, Vec::new());
    for f in flags.to_lowercase().split('|') {
        match f {
            "broadcast" => (check_flags, want) = (true, want | FLAG_BROADCAST),
            // go-sockaddr clears `up` from the wanted set: "down" asks for
            // no flag at all, so it matches every address.
            "down" => (check_flags, want) = (true, want & !FLAG_UP),
            "forwardable"
            | "global unicast"
            | "interface-local multicast"
            | "link-local multicast"
            | "link-local unicast"
            | "unspecified" => {
                attrs.push(f.to_string());
            }
            "loopback" => {
                (check_flags, want) = (true, want | FLAG_LOOPBACK);
                attrs.push(f.to_string());
            }
            "multicast" => {
                (check_flags, want) = (true, want | FLAG_MULTICAST);
                attrs.push(f.to_string());
            }
            "point-to-point" => (check_flags, want) = (true, want | FLAG_POINT_TO_POINT),
            "up" => (check_flags, want) = (true, want | FLAG_UP),
            other => return Err(format!("Unknown interface flag: {}", quote_plus(other))),
        }
    }
    Ok(split(addrs, |a| {
        (check_flags && a.iface.flags & want == want)
            || attrs.iter().any(|w| {
                if w == "forwardable" {
                    a.ip.forwardable()
                } else {
                    ip_is(&a.ip, w)
                }
            })
    }))
}

/// Go's `%+q`.
pub(super) fn quote_plus(s: &str) -> String {
    gotemplate::fmt::quote_ascii(s)
}

fn parse_rfc(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| {
        format!(
            "unable to parse RFC number {}: strconv.ParseUint: parsing {}: {}",
            quote(s),
            quote(s),
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "value out of range"
            } else {
                "invalid syntax"
            }
        )
    })
}

fn by_rfc(n: &str, addrs: &[IfAddr]) -> Result<Split, String> {
    let n = parse_rfc(n)?;
    if super::rfc::networks(n).is_none() {
        return Err(format!("unsupported RFC {n}"));
    }
    Ok(split(addrs, |a| a.ip.in_rfc(n)))
}

/// `IfByRFC`: the addresses in RFC `n`'s networks, and the others.
pub fn if_by_rfc(n: &str, addrs: &[IfAddr]) -> Result<Split, String> {
    by_rfc(n, addrs)
}

/// The include/exclude selectors: (matched, remainder).
fn select(name: &str, param: &str, addrs: &[IfAddr]) -> Option<Result<Split, String>> {
    Some(match name.to_lowercase().as_str() {
        "address" => {
            regex("address", param).map(|re| split(addrs, |a| re.is_match(&a.ip.string())))
        }
        "flag" | "flags" => by_flag(param, addrs),
        "name" => regex("name", param).map(|re| split(addrs, |a| re.is_match(&a.iface.name))),
        "network" => (|| {
            let (mut yes, mut no) = (Vec::new(), Vec::new());
            for n in param.split('|') {
                let net = Ip::parse(n).ok_or_else(|| {
                    format!(
                        "unable to create an IP address from {}: invalid IPAddr {n}",
                        quote_plus(n)
                    )
                })?;
                let (y, r) = split(addrs, |a| net.contains(&a.ip));
                yes.extend(y);
                no.extend(r);
            }
            Ok((yes, no))
        })(),
        "port" => {
            regex("port", param).map(|re| split(addrs, |a| re.is_match(&a.ip.port().to_string())))
        }
        "rfc" | "rfcs" => (|| {
            let (mut yes, mut no) = (Vec::new(), Vec::new());
            for n in param.split('|') {
                let (y, r) = by_rfc(n, addrs)
                    .map_err(|e| format!("unable to lookup RFC number {}: {e}", quote(n)))?;
                yes.extend(y);
                no.extend(r);
            }
            Ok((yes, no))
        })(),
        "size" => (|| {
            let size: u64 = param.parse().map_err(|_| {
                format!(
                    "invalid exclude size argument ({}): strconv.ParseUint: parsing {}: invalid syntax",
                    quote(param),
                    quote(param)
                )
            })?;
            for a in addrs {
                match a.ip {
                    Ip::V4 { .. } if size > 32 => {
                        return Err(format!("mask size out of bounds for IPv4 address: {size}"))
                    }
                    Ip::V6 { .. } if size > 128 => {
                        return Err(format!("mask size out of bounds for IPv6 address: {size}"))
                    }
                    _ => {}
                }
            }
            Ok(split(addrs, |a| u64::from(a.ip.mask_bits()) == size))
        })(),
        "type" => (|| {
            let lower = param.to_lowercase();
            let types: Vec<&str> = lower.split('|').collect();
            for t in &types {
                if !matches!(*t, "ip" | "ipv4" | "ipv6" | "unix") {
                    return Err(format!("unsupported type {} {}", quote(t), quote(param)));
                }
            }
            // As go-sockaddr: one entry per address and type tested.
            let (mut yes, mut no) = (Vec::new(), Vec::new());
            for a in addrs {
                for t in &types {
                    let hit = match *t {
                        "ip" => true,
                        "ipv4" => a.ip.kind() == 2,
                        "ipv6" => a.ip.kind() == 4,
                        _ => false,
                    };
                    if hit {
                        yes.push(a.clone());
                    } else {
                        no.push(a.clone());
                    }
                }
            }
            Ok((yes, no))
        })(),
        _ => return None,
    })
}

/// `include`.
pub fn include(name: &str, param: &str, addrs: &[IfAddr]) -> Result<Vec<IfAddr>, String> {
    select(name, param, addrs)
        .ok_or_else(|| format!("invalid include selector {}", quote(name)))?
        .map(|(y, _)| y)
}

/// `exclude`.
pub fn exclude(name: &str, param: &str, addrs: &[IfAddr]) -> Result<Vec<IfAddr>, String> {
    select(name, param, addrs)
        .ok_or_else(|| format!("invalid exclude selector {}", quote(name)))?
        .map(|(_, r)| r)
}
