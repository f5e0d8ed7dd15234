//! What discovery knows of a service's instances ([`Instance`],
//! [`Instances`]), and how an instance goes into a URL in place of a service
//! name.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::types::{ServiceEntry, Status, Weights};

/// One healthy instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Instance ID.
    pub id: String,
    /// Service name.
    pub service: String,
    /// Node name.
    pub node: String,
    /// Address to dial (service address, else node address).
    pub address: String,
    /// Port.
    pub port: u16,
    /// Tags.
    pub tags: Vec<String>,
    /// Metadata.
    pub meta: std::collections::BTreeMap<String, String>,
    /// Weights.
    pub weights: Weights,
    /// Passing or warning.
    pub status: Status,
    /// Datacenter it was found in.
    pub datacenter: String,
    socket: Option<SocketAddr>,
    /// `host:port` for a URL, made once when the instance is seen, when the
    /// address can go in a URL as it is (an IP, or a plain host name);
    /// `None` when it must go through the URL parser.
    dial: Option<Box<str>>,
}

impl Instance {
    pub(crate) fn from_entry(e: &ServiceEntry) -> Instance {
        let address = e.address().to_string();
        let port = e.service.port;
        Instance {
            socket: socket_of(&address, port),
            dial: dial_of(&address, port),
            id: e.service.id.clone(),
            service: e.service.service.clone(),
            node: e.node.node.clone(),
            address,
            port: e.service.port,
            tags: e.service.tags.clone(),
            meta: e.service.meta.clone(),
            weights: e.service.weights,
            status: e.aggregated_status(),
            datacenter: e.node.datacenter.clone(),
        }
    }

    /// An instance at `address:port`, for tests.
    #[cfg(test)]
    pub(crate) fn for_test(address: &str, port: u16) -> Instance {
        Instance {
            id: format!("{address}:{port}"),
            service: "worker".into(),
            node: "n".into(),
            address: address.into(),
            port,
            tags: Vec::new(),
            meta: Default::default(),
            weights: Weights::default(),
            status: Status::Passing,
            datacenter: "dc1".into(),
            socket: socket_of(address, port),
            dial: dial_of(address, port),
        }
    }

    /// The weight that applies now: `weights.warning` while warning, else
    /// `weights.passing`.
    pub fn weight(&self) -> u32 {
        if self.status == Status::Warning {
            self.weights.warning
        } else {
            self.weights.passing
        }
    }

    /// The socket address, when the address is an IP.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.socket
    }

    /// `host:port` (IPv6 in brackets), for URLs.
    pub fn authority(&self) -> String {
        let mut out = String::with_capacity(self.address.len() + 8);
        push_authority(&mut out, &self.address, self.port);
        out
    }

    /// [`Instance::authority`], made when the instance was seen, if its
    /// address can go in a URL without the URL parser (an IP or a plain
    /// host name).
    pub(crate) fn dial(&self) -> Option<&str> {
        self.dial.as_deref()
    }
}

fn socket_of(address: &str, port: u16) -> Option<SocketAddr> {
    address
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// `host:port` when `address` is an IP or a plain host name (letters,
/// digits, `-` and `.`): what can be put in a URL by concatenation.
fn dial_of(address: &str, port: u16) -> Option<Box<str>> {
    let plain = !address.is_empty()
        && address
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (plain || socket_of(address, port).is_some()).then(|| {
        let mut out = String::with_capacity(address.len() + 8);
        push_authority(&mut out, address, port);
        out.into_boxed_str()
    })
}

/// Appends `address:port` to `out`, an IPv6 address in brackets.
fn push_authority(out: &mut String, address: &str, port: u16) {
    let ipv6 = address.contains(':');
    if ipv6 {
        out.push('[');
    }
    out.push_str(address);
    if ipv6 {
        out.push(']');
    }
    out.push(':');
    out.push_str(itoa::Buffer::new().format(port));
}

/// The healthy instances of a service at one moment.
#[derive(Debug, Default)]
pub struct Instances {
    pub(crate) list: Vec<Arc<Instance>>,
    /// Weighted round-robin order: indexes into `list`.
    pub(crate) order: Vec<u32>,
    pub(crate) datacenter: Option<String>,
    pub(crate) ready: bool,
}

impl Instances {
    /// The instances, in Consul's order.
    pub fn as_slice(&self) -> &[Arc<Instance>] {
        &self.list
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The datacenter they come from (`None`: the local one).
    pub fn datacenter(&self) -> Option<&str> {
        self.datacenter.as_deref()
    }

    /// Whether Consul has answered at least once (else: no data yet).
    pub fn is_ready(&self) -> bool {
        self.ready
    }
}

/// The service name in a URL's host, if it names one.
pub(crate) fn service_host(url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain(d) => service_name(&d.to_ascii_lowercase()).map(str::to_string),
        _ => None,
    }
}

/// The service a lowercase host names, read as Consul's DNS reads it:
/// `worker`, `worker.service.consul`, `worker.service.dc1.consul`, and
/// with a tag `v1.worker.service.consul` or `v1.worker.service.dc1.consul`
/// (a trailing dot allowed on the Consul forms); none for anything else
/// (`localhost`, `www.example.com`). A tagged name comes back as
/// `tag.name`, which [`split_tag`] takes apart.
pub(crate) fn service_name(host: &str) -> Option<&str> {
    if host == "localhost" || host.is_empty() {
        return None;
    }
    if !host.contains('.') {
        return Some(host);
    }
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let mut labels = trimmed.split('.');
    let first = labels.next().filter(|n| !n.is_empty())?;
    let second = labels.next()?;
    let rest = (labels.next(), labels.next(), labels.next(), labels.next());
    match (second, rest) {
        ("service", (Some("consul"), None, _, _)) => Some(first),
        ("service", (Some(_), Some("consul"), None, _)) => Some(first),
        (name, (Some("service"), Some("consul"), None, _))
        | (name, (Some("service"), Some(_), Some("consul"), None))
            if !name.is_empty() =>
        {
            Some(&trimmed[..first.len() + 1 + name.len()])
        }
        _ => None,
    }
}

/// A [`service_name`] apart: the service and its tag, if it has one
/// (`v1.worker` is `worker` tagged `v1`).
pub(crate) fn split_tag(key: &str) -> (&str, Option<&str>) {
    match key.split_once('.') {
        Some((tag, name)) => (name, Some(tag)),
        None => (key, None),
    }
}

/// Puts `inst`'s address and port in `url`, or says why it cannot.
pub(crate) fn rewrite(url: &mut url::Url, inst: &Instance) -> Result<()> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!("cannot set {} as the URL host", inst.address),
        )
    };
    match inst.address.parse::<std::net::IpAddr>() {
        Ok(ip) => url.set_ip_host(ip).map_err(|()| bad())?,
        Err(_) => url.set_host(Some(&inst.address)).map_err(|_| bad())?,
    }
    url.set_port(Some(inst.port))
        .map_err(|()| Error::new(ErrorKind::InvalidInput, "this URL cannot carry a port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_hosts() {
        let host = |u: &str| service_host(&url::Url::parse(u).unwrap());
        assert_eq!(host("http://worker/squares"), Some("worker".into()));
        assert_eq!(host("http://worker:9/x"), Some("worker".into()));
        assert_eq!(
            host("http://worker.service.consul/x"),
            Some("worker".into())
        );
        assert_eq!(
            host("http://worker.service.dc2.consul/x"),
            Some("worker".into())
        );
        assert_eq!(host("http://localhost/x"), None);
        assert_eq!(host("http://127.0.0.1/x"), None);
        assert_eq!(host("http://example.com/x"), None);
        assert_eq!(
            host("http://worker./x"),
            None,
            "a trailing dot is a DNS name"
        );
        assert_eq!(host("http://localhost./x"), None);
        assert_eq!(
            host("http://v1.worker.service.consul/x"),
            Some("v1.worker".into()),
            "a tag, as in Consul's DNS"
        );
        assert_eq!(
            host("http://v1.worker.service.dc2.consul./x"),
            Some("v1.worker".into())
        );
        assert_eq!(host("http://v1.worker.service.dc2.consul.x/x"), None);
        assert_eq!(host("http://a.b.c.service.consul/x"), None);
        assert_eq!(host("http://v1..service.consul/x"), None);
        assert_eq!(split_tag("v1.worker"), ("worker", Some("v1")));
        assert_eq!(split_tag("worker"), ("worker", None));
        assert_eq!(
            host("http://worker.service.consul./x"),
            Some("worker".into())
        );
    }

    #[test]
    fn dial_is_made_for_addresses_that_go_in_a_url_as_they_are() {
        let dial = |a: &str| Instance::for_test(a, 8080).dial().map(str::to_string);
        assert_eq!(dial("127.0.0.1").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(dial("2001:db8::1").as_deref(), Some("[2001:db8::1]:8080"));
        assert_eq!(dial("node-1.dc1").as_deref(), Some("node-1.dc1:8080"));
        for other in ["", "a b", "u@10.0.0.9", "[::1]", "fe80::1%eth0"] {
            assert_eq!(dial(other), None, "{other:?}");
        }
        let inst = Instance::for_test("2001:db8::1", 8080);
        assert_eq!(inst.dial(), Some(inst.authority().as_str()));
    }

    #[test]
    fn rewrite_puts_ip_addresses_in_whole() {
        let mut url = url::Url::parse("http://worker/x").unwrap();
        rewrite(&mut url, &Instance::for_test("2001:db8::1", 8080)).unwrap();
        assert_eq!(url.as_str(), "http://[2001:db8::1]:8080/x");
        let mut url = url::Url::parse("http://worker/x").unwrap();
        assert!(rewrite(&mut url, &Instance::for_test("a/?", 1)).is_err());
    }
}
