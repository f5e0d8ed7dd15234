//! go-sockaddr's IP addresses: an address with its network mask (and a
//! port, always 0 for an interface's address), printed, compared and
//! measured as `IPv4Addr` and `IPv6Addr` are.

use std::cmp::Ordering;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::rfc::{self, Net};

/// An IPv4 or IPv6 address with its mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip {
    /// `IPv4Addr`.
    V4 {
        /// The address.
        addr: u32,
        /// The network mask.
        mask: u32,
        /// The port (0: none).
        port: u16,
    },
    /// `IPv6Addr`.
    V6 {
        /// The address.
        addr: u128,
        /// The network mask.
        mask: u128,
        /// The port (0: none).
        port: u16,
    },
}

/// A mask of `bits` leading ones in a `width`-bit value.
pub(super) fn mask_v4(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits.min(32)))
    }
}

pub(super) fn mask_v6(bits: u8) -> u128 {
    if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits.min(128)))
    }
}

/// The prefix length of a canonical mask aligned to the top bit of a
/// `u128` (Go's `IPMask.Size`: 0 for a mask with holes).
fn ones(top_aligned: u128) -> u32 {
    let n = top_aligned.leading_ones();
    if n == 128 || top_aligned << n == 0 {
        n
    } else {
        0
    }
}

/// Go's `net.IP.String` of a 16-byte address: an IPv4-mapped address in
/// dotted form, else the longest run (two groups or more, first wins) of
/// zero groups as `::`.
pub fn v6_string(addr: u128) -> String {
    let b = addr.to_be_bytes();
    if b[..10].iter().all(|x| *x == 0) && b[10] == 0xff && b[11] == 0xff {
        return Ipv4Addr::new(b[12], b[13], b[14], b[15]).to_string();
    }
    let groups: Vec<u16> = (0..8)
        .map(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]))
        .collect();
    let (mut e0, mut e1) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        let mut j = i;
        while j < 8 && groups[j] == 0 {
            j += 1;
        }
        if j > i && (e0 == usize::MAX || j - i > e1 - e0) {
            e0 = i;
            e1 = j;
            i = j;
        }
        i += 1;
    }
    if e0 == usize::MAX || e1 - e0 <= 1 {
        e0 = usize::MAX;
    }
    let mut s = String::with_capacity(39);
    let mut i = 0;
    while i < 8 {
        if i == e0 {
            s.push_str("::");
            i = e1;
            if i >= 8 {
                break;
            }
        } else if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{:x}", groups[i]));
        i += 1;
    }
    s
}

/// Parses `a.b.c.d` or an IPv6 address (with an optional `/prefix`).
fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, Option<u8>)> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (a, Some(p.parse::<u8>().ok()?))
        }
        None => (s, None),
    };
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if prefix.is_some_and(|p| p > max) {
        return None;
    }
    Some((ip, prefix))
}

fn v4_mapped(ip: &Ipv6Addr) -> Option<u32> {
    let b = ip.octets();
    (b[..10].iter().all(|x| *x == 0) && b[10] == 0xff && b[11] == 0xff)
        .then(|| u32::from_be_bytes([b[12], b[13], b[14], b[15]]))
}

impl Ip {
    /// go-sockaddr's `NewIPAddr` for numeric input: `10.0.0.0/8`,
    /// `10.0.0.1` (a /32), `10.0.0.1:80`, `fe80::/10`, `::1`, `[::1]:80`.
    /// Host names are not resolved.
    pub fn parse(s: &str) -> Option<Ip> {
        Ip::parse_v4(s).or_else(|| Ip::parse_v6(s))
    }

    fn parse_v4(s: &str) -> Option<Ip> {
        // A trailing hex netmask (`/ffffff00`) is dropped, as go-sockaddr does.
        let s = match s.rsplit_once('/') {
            Some((head, m)) if m.len() == 8 && m.bytes().all(|c| c == b'0' || c == b'f') => head,
            _ => s,
        };
        if s.contains('/') {
            let (ip, prefix) = parse_cidr(s)?;
            let prefix = prefix?;
            return match ip {
                std::net::IpAddr::V4(v4) => Some(Ip::V4 {
                    addr: u32::from(v4),
                    mask: mask_v4(prefix),
                    port: 0,
                }),
                std::net::IpAddr::V6(v6) => {
                    let addr = v4_mapped(&v6)?;
                    let mask = if prefix >= 96 {
                        mask_v4(prefix - 96)
                    } else {
                        mask_v4(prefix.min(32))
                    };
                    Some(Ip::V4 {
                        addr,
                        mask,
                        port: 0,
                    })
                }
            };
        }
        if let Some((host, port)) = s.rsplit_once(':') {
            if let (Ok(v4), Ok(port)) = (host.parse::<Ipv4Addr>(), port.parse::<u16>()) {
                return Some(Ip::V4 {
                    addr: u32::from(v4),
                    mask: u32::MAX,
                    port,
                });
            }
        }
        match s.parse::<std::net::IpAddr>().ok()? {
            std::net::IpAddr::V4(v4) => Some(Ip::V4 {
                addr: u32::from(v4),
                mask: u32::MAX,
                port: 0,
            }),
            std::net::IpAddr::V6(v6) => v4_mapped(&v6).map(|addr| Ip::V4 {
                addr,
                mask: u32::MAX,
                port: 0,
            }),
        }
    }

    fn parse_v6(s: &str) -> Option<Ip> {
        // go-sockaddr: an address whose first '.' comes before any ':' is IPv4.
        match s.find(['.', ':']) {
            Some(i) if s.as_bytes()[i] == b':' => {}
            _ => return None,
        }
        if let Some(rest) = s.strip_prefix('[') {
            if let Some((host, port)) = rest.split_once("]:") {
                let addr: Ipv6Addr = host.parse().ok()?;
                let port: u16 = port.parse().ok()?;
                return Some(Ip::V6 {
                    addr: u128::from(addr),
                    mask: u128::MAX,
                    port,
                });
            }
        }
        let bare = s
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(addr) = bare.parse::<Ipv6Addr>() {
            return Some(Ip::V6 {
                addr: u128::from(addr),
                mask: u128::MAX,
                port: 0,
            });
        }
        let (ip, prefix) = parse_cidr(s)?;
        let std::net::IpAddr::V6(v6) = ip else {
            return None;
        };
        Some(Ip::V6 {
            addr: u128::from(v6),
            mask: mask_v6(prefix?),
            port: 0,
        })
    }

    /// An IPv4 address with a prefix length.
    pub fn v4(addr: u32, prefix: u8) -> Ip {
        Ip::V4 {
            addr,
            mask: mask_v4(prefix),
            port: 0,
        }
    }

    /// An IPv6 address with a prefix length.
    pub fn v6(addr: u128, prefix: u8) -> Ip {
        Ip::V6 {
            addr,
            mask: mask_v6(prefix),
            port: 0,
        }
    }

    /// `SockAddrType`: 2 for IPv4, 4 for IPv6 (Unix sockets, 1, never
    /// come from interfaces).
    pub fn kind(&self) -> u8 {
        match self {
            Ip::V4 { .. } => 2,
            Ip::V6 { .. } => 4,
        }
    }

    /// `Type().String()`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Ip::V4 { .. } => "IPv4",
            Ip::V6 { .. } => "IPv6",
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Ip::V4 { port, .. } | Ip::V6 { port, .. } => *port,
        }
    }

    /// `Maskbits`.
    pub fn mask_bits(&self) -> u32 {
        match self {
            Ip::V4 { mask, .. } => ones(u128::from(*mask) << 96),
            Ip::V6 { mask, .. } => ones(*mask),
        }
    }

    /// The address alone, as `net.IP.String` prints it.
    pub fn address(&self) -> String {
        match self {
            Ip::V4 { addr, .. } => Ipv4Addr::from(*addr).to_string(),
            Ip::V6 { addr, .. } => v6_string(*addr),
        }
    }

    /// The network address (address and mask).
    fn network_addr(&self) -> Ip {
        match *self {
            Ip::V4 { addr, mask, .. } => Ip::V4 {
                addr: addr & mask,
                mask,
                port: 0,
            },
            Ip::V6 { addr, mask, .. } => Ip::V6 {
                addr: addr & mask,
                mask,
                port: 0,
            },
        }
    }

    /// The same address as a host (full mask).
    fn with_host_mask(&self, addr_v4: u32, addr_v6: u128) -> Ip {
        match self {
            Ip::V4 { .. } => Ip::V4 {
                addr: addr_v4,
                mask: u32::MAX,
                port: 0,
            },
            Ip::V6 { .. } => Ip::V6 {
                addr: addr_v6,
                mask: u128::MAX,
                port: 0,
            },
        }
    }

    /// First and last address of the network.
    fn bounds(&self) -> (u128, u128) {
        match *self {
            Ip::V4 { addr, mask, .. } => {
                let net = addr & mask;
                (u128::from(net), u128::from(net | !mask))
            }
            Ip::V6 { addr, mask, .. } => {
                let net = addr & mask;
                (net, net | !mask)
            }
        }
    }

    /// `Contains`: the other network lies within this one (same family).
    pub fn contains(&self, other: &Ip) -> bool {
        if self.kind() != other.kind() {
            return false;
        }
        let (a0, a1) = self.bounds();
        let (b0, b1) = other.bounds();
        a0 <= b0 && a1 >= b1
    }

    /// Whether the address lies in one of RFC `n`'s networks.
    pub fn in_rfc(&self, n: u64) -> bool {
        rfc::networks(n).is_some_and(|nets| {
            nets.iter().any(|net| {
                let net = match *net {
                    Net::V4(a, p) => Ip::v4(a, p),
                    Net::V6(a, p) => Ip::v6(a, p),
                };
                net.contains(self)
            })
        })
    }

    /// Whether a router may forward it (not in go-sockaddr's blacklist).
    pub fn forwardable(&self) -> bool {
        !self.in_rfc(rfc::FORWARDING_BLACKLIST)
    }

    /// The mask's bytes (4 or 16), for `sort "size"`.
    pub fn mask_bytes(&self) -> Vec<u8> {
        match self {
            Ip::V4 { mask, .. } => mask.to_be_bytes().to_vec(),
            Ip::V6 { mask, .. } => mask.to_be_bytes().to_vec(),
        }
    }

    /// `CmpAddress`: by address within a family, else no decision.
    pub fn cmp_address(&self, other: &Ip) -> Ordering {
        match (self, other) {
            (Ip::V4 { addr: a, .. }, Ip::V4 { addr: b, .. }) => a.cmp(b),
            (Ip::V6 { addr: a, .. }, Ip::V6 { addr: b, .. }) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }

    /// `String`: `addr`, `addr/bits`, `addr:port` or `[addr]:port`.
    pub fn string(&self) -> String {
        let port = self.port();
        let bits = self.mask_bits();
        match self {
            Ip::V4 { .. } if port != 0 => format!("{}:{port}", self.address()),
            Ip::V6 { .. } if port != 0 => format!("[{}]:{port}", self.address()),
            Ip::V4 { .. } if bits == 32 => self.address(),
            Ip::V6 { .. } if bits == 128 => self.address(),
            _ => format!("{}/{bits}", self.address()),
        }
    }

    /// An attribute (`address`, `network`, `size`, ...); `None` if unknown.
    pub fn attr(&self, name: &str) -> Option<String> {
        let (first, last) = self.bounds();
        Some(match name {
            "address" => self.address(),
            "binary" => match self {
                Ip::V4 { addr, .. } => format!("{addr:032b}"),
                Ip::V6 { addr, .. } => format!("{addr:0128b}"),
            },
            "hex" => match self {
                Ip::V4 { addr, .. } => format!("{addr:08x}"),
                Ip::V6 { addr, .. } => format!("{addr:032x}"),
            },
            "host" => match *self {
                Ip::V4 { addr, port, .. } => Ip::V4 {
                    addr,
                    mask: u32::MAX,
                    port,
                },
                Ip::V6 { addr, port, .. } => Ip::V6 {
                    addr,
                    mask: u128::MAX,
                    port,
                },
            }
            .string(),
            "first_usable" => {
                let small = matches!(self, Ip::V4 { .. }) && self.mask_bits() < 31;
                let f = if small { first + 1 } else { first };
                self.with_host_mask(f as u32, f).string()
            }
            "last_usable" => {
                let small = matches!(self, Ip::V4 { .. }) && self.mask_bits() < 31;
                let l = if small { last - 1 } else { last };
                self.with_host_mask(l as u32, l).string()
            }
            "mask_bits" => self.mask_bits().to_string(),
            "netmask" => match *self {
                Ip::V4 { mask, .. } => self.with_host_mask(mask, 0).string(),
                Ip::V6 { mask, .. } => self.with_host_mask(0, mask).string(),
            },
            "network" => self.network_addr().address(),
            "octets" => {
                let bytes = match self {
                    Ip::V4 { addr, .. } => addr.to_be_bytes().to_vec(),
                    Ip::V6 { addr, .. } => addr.to_be_bytes().to_vec(),
                };
                bytes
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "port" => self.port().to_string(),
            "broadcast" => match self {
                Ip::V4 { .. } => self.with_host_mask(last as u32, 0).string(),
                Ip::V6 { .. } => return None,
            },
            "size" => {
                let host_bits = match self {
                    Ip::V4 { .. } => 32 - self.mask_bits(),
                    Ip::V6 { .. } => 128 - self.mask_bits(),
                };
                if host_bits == 128 {
                    "340282366920938463463374607431768211456".to_string()
                } else {
                    (1u128 << host_bits).to_string()
                }
            }
            "uint32" => match self {
                Ip::V4 { addr, .. } => addr.to_string(),
                Ip::V6 { .. } => return None,
            },
            "uint128" => match self {
                Ip::V6 { addr, .. } => addr.to_string(),
                Ip::V4 { .. } => return None,
            },
            "string" => self.string(),
            "type" => self.type_name().to_string(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_as_go_sockaddr() {
        let ip = Ip::parse("10.0.1.5/24").unwrap();
        assert_eq!(ip.string(), "10.0.1.5/24");
        assert_eq!(ip.attr("network").unwrap(), "10.0.1.0");
        assert_eq!(ip.attr("broadcast").unwrap(), "10.0.1.255");
        assert_eq!(ip.attr("first_usable").unwrap(), "10.0.1.1");
        assert_eq!(ip.attr("last_usable").unwrap(), "10.0.1.254");
        assert_eq!(ip.attr("size").unwrap(), "256");
        assert_eq!(ip.attr("netmask").unwrap(), "255.255.255.0");
        assert_eq!(ip.attr("hex").unwrap(), "0a000105");
        assert_eq!(Ip::parse("10.0.0.1").unwrap().string(), "10.0.0.1");
        assert_eq!(Ip::parse("10.0.0.1:80").unwrap().string(), "10.0.0.1:80");
        assert_eq!(Ip::parse("[::1]:80").unwrap().string(), "[::1]:80");
        let v6 = Ip::parse("2001:db8::5/64").unwrap();
        assert_eq!(v6.string(), "2001:db8::5/64");
        assert_eq!(v6.attr("netmask").unwrap(), "ffff:ffff:ffff:ffff::");
        assert_eq!(v6.attr("size").unwrap(), "18446744073709551616");
        assert_eq!(Ip::parse("::/0").unwrap().attr("size").unwrap().len(), 39);
        assert_eq!(v6_string(0), "::");
        assert_eq!(v6_string(1), "::1");
        assert_eq!(
            v6_string(0x2001_0db8_0000_0001_0000_0000_0000_0001),
            "2001:db8:0:1::1"
        );
        assert_eq!(v6_string(0xffff_0a00_0001), "10.0.0.1");
        assert_eq!(
            v6_string(0x2001_0db8_0000_0000_0001_0000_0000_0001),
            "2001:db8::1:0:0:1"
        );
        assert!(Ip::parse("1.2.3.4/33").is_none());
        assert!(Ip::parse("nope").is_none());
        assert!(Ip::parse("10.0.0.0/8").unwrap().contains(&ip));
        assert!(ip.in_rfc(1918) && !ip.in_rfc(6598));
        assert!(!Ip::parse("127.0.0.1/8").unwrap().forwardable());
    }
}
