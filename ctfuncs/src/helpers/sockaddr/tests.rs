//! `sockaddr` over a fixed host (the one `tests/helpers_golden/gen.go`
//! gives Go) for what golden files cannot hold, and over this machine for
//! the shape of what the host-reading functions return.

use std::sync::Arc;

use gotemplate::{Funcs, Options, Template, Value};

use super::*;

fn ifa(cidr: &str, name: &str, index: i64, flags: u32, hw: &[u8]) -> IfAddr {
    IfAddr {
        ip: Ip::parse(cidr).unwrap(),
        iface: Interface {
            index,
            mtu: 1500,
            name: name.into(),
            hardware_addr: hw.to_vec(),
            flags,
        },
    }
}

/// The interfaces of gen.go.
pub(crate) fn fixture() -> Fixed {
    let (up, lo, bc, mc) = (FLAG_UP, FLAG_LOOPBACK, FLAG_BROADCAST, FLAG_MULTICAST);
    let mac = |n: u8| [0x02, 0x42, 0xac, 0x11, 0x00, n];
    Fixed {
        addrs: vec![
            ifa("127.0.0.1/8", "lo", 1, up | lo, &[]),
            ifa("::1/128", "lo", 1, up | lo, &[]),
            ifa("10.0.1.5/24", "eth0", 2, up | bc | mc, &mac(2)),
            ifa("192.168.7.9/16", "eth1", 3, up | bc | mc, &mac(3)),
            ifa("203.0.113.20/28", "eth2", 4, up | bc, &mac(4)),
            ifa("fe80::42:acff:fe11:2/64", "eth0", 2, up | bc | mc, &mac(2)),
            ifa("2001:db8::5/64", "eth0", 2, up | bc | mc, &mac(2)),
            ifa("172.16.0.1/12", "docker0", 5, bc | mc, &mac(5)),
        ],
        default: Some("eth0".into()),
    }
}

fn render(host: Arc<dyn Host>, text: &str) -> Result<String, String> {
    let mut f = Funcs::new();
    install(&mut f, host);
    Template::parse("t", text, &f, &Options::default())
        .and_then(|t| t.execute(&Value::Missing))
        .map_err(|e| e.to_string())
}

/// The functions that read the host's default route (the golden cases,
/// evaluated by Go with a fixed default of eth0, cover the rest).
#[test]
fn default_interfaces_or_the_error_without_a_default_route() {
    let h: Arc<dyn Host> = Arc::new(fixture());
    let r = |t: &str| render(Arc::clone(&h), t).unwrap();
    assert_eq!(
        r(r#"{{ sockaddr "GetDefaultInterfaces | attr \"name\"" }}"#),
        "eth0"
    );
    let none: Arc<dyn Host> = Arc::new(Fixed {
        default: None,
        ..fixture()
    });
    let e = render(none, r#"{{ sockaddr "GetDefaultInterfaces" }}"#).unwrap_err();
    assert!(e.contains("No default interface found"), "{e}");
}

#[test]
fn unsupported_things_are_named() {
    let h: Arc<dyn Host> = Arc::new(fixture());
    for (t, want) in [
        (
            r#"{{ sockaddr "GetNothing" }}"#,
            r#"function "GetNothing" not defined"#,
        ),
        (
            r#"{{ sockaddr "GetAllInterfaces | include \"color\" \"red\"" }}"#,
            r#"invalid include selector "color""#,
        ),
        (
            r#"{{ sockaddr "GetAllInterfaces | sort \"speed\"" }}"#,
            r#"unknown sort type: "speed""#,
        ),
        (
            r#"{{ sockaddr "GetAllInterfaces | attr \"color\"" }}"#,
            r#"unsupported attribute name "color""#,
        ),
        (
            r#"{{ sockaddr "GetAllInterfaces | include \"flag\" \"shiny\"" }}"#,
            r#"Unknown interface flag: "shiny""#,
        ),
        (
            r#"{{ sockaddr "GetAllInterfaces | include \"rfc\" \"1\"" }}"#,
            "unsupported RFC 1",
        ),
        (
            r#"{{ sockaddr "range GetAllInterfaces }}{{ .Color }}{{ end" }}"#,
            "can't evaluate field Color",
        ),
    ] {
        let e = render(Arc::clone(&h), t).unwrap_err();
        assert!(e.contains(want), "{t}: {want:?} in {e}");
    }
}

#[test]
fn fields_and_methods_of_an_address() {
    let h: Arc<dyn Host> = Arc::new(fixture());
    let out = render(
        h,
        r#"{{ sockaddr "with index (GetAllInterfaces | include \"name\" \"eth1\") 0 }}{{ .Name }} {{ .Index }} {{ .MTU }} {{ .HardwareAddr }} {{ .Flags }} {{ .SockAddr }} {{ .Attr \"network\" }} {{ .Interface }} {{ . }}{{ end" }}"#,
    )
    .unwrap();
    assert_eq!(
        out,
        "eth1 3 1500 02:42:ac:11:00:03 up|broadcast|multicast 192.168.7.9/16 192.168.0.0 \
         {3 1500 eth1 02:42:ac:11:00:03 up|broadcast|multicast} \
         192.168.7.9/16 {3 1500 eth1 02:42:ac:11:00:03 up|broadcast|multicast}"
    );
}

/// This machine: the host-reading functions give addresses in the shapes
/// go-sockaddr gives (dotted or colon IPs, interface names that exist).
#[test]
fn this_hosts_addresses_have_go_sockaddr_s_shapes() {
    let h: Arc<dyn Host> = Arc::new(System);
    let names: Vec<String> = System
        .interfaces()
        .unwrap()
        .into_iter()
        .map(|a| a.iface.name)
        .collect();
    let r = |t: &str| render(Arc::clone(&h), t).unwrap();
    let lo = r(
        r#"{{ sockaddr "GetAllInterfaces | include \"flags\" \"loopback\" | include \"type\" \"ipv4\" | attr \"address\"" }}"#,
    );
    assert_eq!(lo, "127.0.0.1");
    for t in [
        r#"{{ sockaddr "GetPrivateIPs" }}"#,
        r#"{{ sockaddr "GetPublicIPs" }}"#,
        r#"{{ sockaddr "GetPrivateIP" }}"#,
        r#"{{ sockaddr "GetPublicIP" }}"#,
    ] {
        for ip in r(t).split_whitespace() {
            assert!(Ip::parse(ip).is_some(), "{t}: {ip}");
        }
    }
    let all = r(r#"{{ sockaddr "GetAllInterfaces | join \"name\" \" \"" }}"#);
    assert!(
        all.split(' ').all(|n| names.iter().any(|m| m == n)),
        "{all}"
    );
    let lo_ips = r(r#"{{ sockaddr "GetInterfaceIPs \"^lo$\"" }}"#);
    assert!(lo_ips.starts_with("127.0.0.1"), "{lo_ips}");
    match System.default_interface() {
        Ok(name) => {
            let d = r(r#"{{ sockaddr "GetDefaultInterfaces | attr \"name\"" }}"#);
            assert!(d.is_empty() || d == name, "{d} vs {name}");
        }
        Err(e) => assert!(e.contains("No default interface"), "{e}"),
    }
}
