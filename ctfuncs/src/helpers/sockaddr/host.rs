//! This machine's interfaces and default route, as Go's `net.Interfaces`
//! and go-sockaddr's route lookup see them: every address of every
//! interface (by interface index, IPv4 before IPv6 as the kernel lists
//! them) from `getifaddrs(3)`, the MTU from `/sys/class/net`, and the
//! interface of the first `default via ...` route of the main IPv4 table
//! (`/proc/net/route`, what `ip route` prints).

use std::collections::BTreeMap;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

use super::ifaddr::{
    IfAddr, Interface, FLAG_BROADCAST, FLAG_LOOPBACK, FLAG_MULTICAST, FLAG_POINT_TO_POINT,
    FLAG_RUNNING, FLAG_UP,
};
use super::ip::Ip;
use super::Host;

/// The host this process runs on.
#[derive(Debug, Default, Clone, Copy)]
pub struct System;

/// At most this many addresses are read (a host with more is unusual).
const MAX_ADDRESSES: usize = 4096;

fn flags_of(f: InterfaceFlags) -> u32 {
    let mut out = 0;
    for (nix_flag, go_flag) in [
        (InterfaceFlags::IFF_UP, FLAG_UP),
        (InterfaceFlags::IFF_BROADCAST, FLAG_BROADCAST),
        (InterfaceFlags::IFF_LOOPBACK, FLAG_LOOPBACK),
        (InterfaceFlags::IFF_POINTOPOINT, FLAG_POINT_TO_POINT),
        (InterfaceFlags::IFF_MULTICAST, FLAG_MULTICAST),
        (InterfaceFlags::IFF_RUNNING, FLAG_RUNNING),
    ] {
        if f.contains(nix_flag) {
            out |= go_flag;
        }
    }
    out
}

fn mtu(name: &str) -> i64 {
    if name.contains('/') || name.starts_with('.') {
        return 0;
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

impl Host for System {
    fn interfaces(&self) -> Result<Vec<IfAddr>, String> {
        struct Link {
            index: i64,
            hw: Vec<u8>,
            flags: u32,
            addrs: Vec<Ip>,
        }
        let mut links: BTreeMap<String, Link> = BTreeMap::new();
        let all = getifaddrs().map_err(|e| format!("route ip+net: getifaddrs: {e}"))?;
        for ifa in all.take(MAX_ADDRESSES) {
            let link = links
                .entry(ifa.interface_name.clone())
                .or_insert_with(|| Link {
                    index: 0,
                    hw: Vec::new(),
                    flags: flags_of(ifa.flags),
                    addrs: Vec::new(),
                });
            let Some(addr) = ifa.address else { continue };
            if let Some(ll) = addr.as_link_addr() {
                link.index = i64::try_from(ll.ifindex()).unwrap_or(0);
                // Go reports an all-zero hardware address (loopback) as none.
                if let Some(mac) = ll.addr().filter(|m| m.iter().any(|b| *b != 0)) {
                    link.hw = mac.to_vec();
                }
            } else if let Some(v4) = addr.as_sockaddr_in() {
                let bits = ifa
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in())
                    .map_or(32, |m| u32::from(m.ip()).leading_ones());
                link.addrs.push(Ip::v4(u32::from(v4.ip()), bits as u8));
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                let bits = ifa
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in6())
                    .map_or(128, |m| u128::from(m.ip()).leading_ones());
                link.addrs.push(Ip::v6(u128::from(v6.ip()), bits as u8));
            }
        }
        let mut by_index: Vec<(String, Link)> = links.into_iter().collect();
        for (name, link) in &mut by_index {
            if link.index == 0 {
                link.index = nix::net::if_::if_nametoindex(name.as_str()).map_or(0, i64::from);
            }
        }
        by_index.sort_by_key(|(_, l)| l.index);
        let mut out = Vec::new();
        for (name, link) in by_index {
            let iface = Interface {
                index: link.index,
                mtu: mtu(&name),
                name,
                hardware_addr: link.hw,
                flags: link.flags,
            };
            for ip in link.addrs {
                out.push(IfAddr {
                    ip,
                    iface: iface.clone(),
                });
            }
        }
        Ok(out)
    }

    fn default_interface(&self) -> Result<String, String> {
        let table = std::fs::read_to_string("/proc/net/route")
            .map_err(|e| format!("reading /proc/net/route: {e}"))?;
        default_from_route_table(&table)
    }
}

/// The interface of the first default route with a gateway in a
/// `/proc/net/route` table.
pub fn default_from_route_table(table: &str) -> Result<String, String> {
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [iface, dest, gateway, _, _, _, _, mask, ..] = f.as_slice() {
            if *dest == "00000000" && *mask == "00000000" && *gateway != "00000000" {
                return Ok((*iface).to_string());
            }
        }
    }
    Err("No default interface found".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_route_from_the_kernel_table() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
            tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
        assert_eq!(default_from_route_table(table).unwrap(), "eth0");
        assert!(default_from_route_table("Iface\n").is_err());
    }

    /// This machine: every address has an interface with an index, a
    /// name and an MTU; loopback is there, up, with 127.0.0.1/8.
    #[test]
    fn this_hosts_interfaces_have_go_s_shape() {
        let all = System.interfaces().unwrap();
        assert!(!all.is_empty());
        let mut last = 0;
        for a in &all {
            assert!(a.iface.index >= last, "by index: {all:?}");
            last = a.iface.index;
            assert!(!a.iface.name.is_empty() && a.iface.mtu > 0, "{a:?}");
        }
        let lo = all
            .iter()
            .find(|a| a.iface.flags & FLAG_LOOPBACK != 0 && a.ip.kind() == 2)
            .expect("a loopback IPv4 address");
        assert_eq!(lo.ip.string(), "127.0.0.1/8");
        assert!(lo.iface.hardware_addr.is_empty());
        assert!(lo.iface.flags & FLAG_UP != 0);
    }
}
