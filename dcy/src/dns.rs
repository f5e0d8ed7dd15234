//! Lookups of `*.service.consul` through Consul's DNS interface, with
//! hickory-resolver: SRV records to socket addresses, A/AAAA records, and
//! the tag and datacenter forms.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! let dns = dcy::dns::ConsulDns::new("127.0.0.1:8600".parse().unwrap());
//! let workers = dns.service("worker", None, None).await?;
//! let tagged = dns.service("worker", Some("v2"), Some("dc1")).await?;
//! # Ok(())
//! # }
//! ```

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::error::{Error, ErrorKind, Result};

/// A resolver pointed at Consul's DNS server.
#[derive(Clone, Debug)]
pub struct ConsulDns {
    resolver: TokioResolver,
    domain: String,
}

/// The DNS name of a service: `[tag.]name.service[.dc].consul.`.
pub fn service_name(name: &str, tag: Option<&str>, dc: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(t) = tag {
        s.push_str(t);
        s.push('.');
    }
    s.push_str(name);
    s.push_str(".service.");
    if let Some(dc) = dc {
        s.push_str(dc);
        s.push('.');
    }
    s.push_str("consul.");
    s
}

fn map_err(name: &str, e: hickory_resolver::ResolveError) -> Error {
    let kind = if e.is_no_records_found() {
        ErrorKind::NotFound
    } else {
        ErrorKind::Dns
    };
    Error::caused_by(kind, format!("DNS lookup of {name}"), &e)
}

impl ConsulDns {
    /// A resolver for the Consul DNS server at `addr` (UDP, then TCP for large answers).
    pub fn new(addr: SocketAddr) -> ConsulDns {
        let group = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
        let mut opts = ResolverOpts::default();
        // Consul answers with TTL 0 and shuffles: caching would defeat both.
        opts.cache_size = 0;
        opts.attempts = 2;
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, vec![], group),
            TokioConnectionProvider::default(),
        );
        *builder.options_mut() = opts;
        ConsulDns {
            resolver: builder.build(),
            domain: "consul.".into(),
        }
    }

    /// A resolver for the DNS address in the client configuration (`DCY_DNS_ADDR`).
    pub fn from_config(cfg: &crate::Config) -> ConsulDns {
        ConsulDns::new(cfg.dns_addr)
    }

    /// The healthy instances of a service as socket addresses, from SRV records
    /// and the A/AAAA records of their targets.
    pub async fn service(
        &self,
        name: &str,
        tag: Option<&str>,
        dc: Option<&str>,
    ) -> Result<Vec<SocketAddr>> {
        self.srv(&service_name(name, tag, dc)).await
    }

    /// SRV lookup of any name, resolved to socket addresses.
    pub async fn srv(&self, fqdn: &str) -> Result<Vec<SocketAddr>> {
        let lookup = self
            .resolver
            .srv_lookup(fqdn)
            .await
            .map_err(|e| map_err(fqdn, e))?;
        let mut glue: Vec<(String, IpAddr)> = Vec::new();
        for rec in lookup.as_lookup().records() {
            match rec.data() {
                RData::A(a) => glue.push((rec.name().to_ascii(), IpAddr::V4(a.0))),
                RData::AAAA(a) => glue.push((rec.name().to_ascii(), IpAddr::V6(a.0))),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for srv in lookup.iter() {
            let target = srv.target().to_ascii();
            let mut ips: Vec<IpAddr> = glue
                .iter()
                .filter(|(n, _)| *n == target)
                .map(|(_, ip)| *ip)
                .collect();
            ips.sort_unstable();
            ips.dedup();
            if ips.is_empty() {
                ips = self
                    .resolver
                    .lookup_ip(srv.target().clone())
                    .await
                    .map_err(|e| map_err(&target, e))?
                    .iter()
                    .collect();
            }
            out.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, srv.port())));
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// A and AAAA records of a service.
    pub async fn addresses(
        &self,
        name: &str,
        tag: Option<&str>,
        dc: Option<&str>,
    ) -> Result<Vec<IpAddr>> {
        let fqdn = service_name(name, tag, dc);
        let ips = self
            .resolver
            .lookup_ip(fqdn.as_str())
            .await
            .map_err(|e| map_err(&fqdn, e))?;
        Ok(ips.iter().collect())
    }

    /// The domain answered (`consul.`).
    pub fn domain(&self) -> &str {
        &self.domain
    }
}
