// gen.go evaluates `sockaddr` over these interfaces (its `ifAddrs`), with
// eth0 as the default route's interface; so does this fixed host.
fn golden_sockaddr(f: &mut Funcs) {
    use ctfuncs::helpers::sockaddr::{
        Fixed, IfAddr, Interface, Ip, FLAG_BROADCAST, FLAG_LOOPBACK, FLAG_MULTICAST, FLAG_UP,
    };
    let ifa = |cidr: &str, name: &str, index: i64, flags: u32, hw: u8| IfAddr {
        ip: Ip::parse(cidr).unwrap(),
        iface: Interface {
            index,
            mtu: 1500,
            name: name.into(),
            hardware_addr: if hw == 0 {
                Vec::new()
            } else {
                vec![0x02, 0x42, 0xac, 0x11, 0x00, hw]
            },
            flags,
        },
    };
    let (up, lo, bc, mc) = (FLAG_UP, FLAG_LOOPBACK, FLAG_BROADCAST, FLAG_MULTICAST);
    let host = Fixed {
        addrs: vec![
            ifa("127.0.0.1/8", "lo", 1, up | lo, 0),
            ifa("::1/128", "lo", 1, up | lo, 0),
            ifa("10.0.1.5/24", "eth0", 2, up | bc | mc, 2),
            ifa("192.168.7.9/16", "eth1", 3, up | bc | mc, 3),
            ifa("203.0.113.20/28", "eth2", 4, up | bc, 4),
            ifa("fe80::42:acff:fe11:2/64", "eth0", 2, up | bc | mc, 2),
            ifa("2001:db8::5/64", "eth0", 2, up | bc | mc, 2),
            ifa("172.16.0.1/12", "docker0", 5, bc | mc, 5),
        ],
        default: Some("eth0".into()),
    };
    ctfuncs::helpers::sockaddr::install(f, Arc::new(host));
}
