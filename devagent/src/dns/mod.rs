//! The DNS interface: `*.service.consul`, `*.node.consul` and `*.addr.consul`
//! answered from the catalog the way Consul answers them (health-filtered,
//! shuffled, TTL 0, SRV with additional A records, UDP answers limited),
//! NXDOMAIN with the SOA for unknown names, and REFUSED (or forwarding to
//! recursors) for names outside `consul.`.
//!
//! `names` parses the question, `answer` builds the answers from the catalog
//! (records for only as many instances as could be sent), `forward` asks the
//! recursors about other names, `limits` fits every reply to what the client
//! can take in one pass, and `server` runs all of it on threads of its own.

mod answer;
mod forward;
mod limits;
mod names;
mod prepared;
mod server;
#[cfg(test)]
mod tests;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, Record};
use hickory_server::authority::MessageResponseBuilder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};

pub(crate) use server::spawn as spawn_server;

use crate::metrics::Metrics;
use crate::state::Store;

/// DNS settings, as Consul's `dns_config` and `recursors`.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// A/AAAA answers in a UDP reply without EDNS (Consul: 3, at most 8).
    pub udp_answer_limit: usize,
    /// Caps A/AAAA answers on every transport (0: no cap).
    pub a_record_limit: usize,
    /// Drop instances with a warning too, not only critical ones.
    pub only_passing: bool,
    /// Set TC when records were dropped to fit.
    pub enable_truncate: bool,
    /// Upstream servers for names outside `consul.`.
    pub recursors: Vec<SocketAddr>,
    /// Timeout per recursor.
    pub recursor_timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            udp_answer_limit: 3,
            a_record_limit: 0,
            only_passing: false,
            enable_truncate: false,
            recursors: Vec::new(),
            recursor_timeout: Duration::from_secs(2),
        }
    }
}

/// What to send back for one question.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub(crate) rcode: ResponseCode,
    pub(crate) answers: Vec<Record>,
    pub(crate) authority: Vec<Record>,
    pub(crate) additionals: Vec<Record>,
    pub(crate) authoritative: bool,
    pub(crate) recursion_available: bool,
}

/// Queries being answered at once; past that a query gets SERVFAIL at once
/// (a client retries), so that a flood never queues unbounded work.
const MAX_IN_FLIGHT: usize = 256;

/// The request handler given to hickory's server.
#[derive(Clone, Debug)]
pub(crate) struct DnsHandler {
    store: Arc<Store>,
    cfg: DnsConfig,
    metrics: Arc<Metrics>,
    domain: Name,
    /// Answers carry what the `dns` (else `default`, else anonymous) token may read.
    acl: Arc<crate::acl::Acl>,
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Prepared answers of service lookups.
    answers: Arc<prepared::AnswerCache>,
    /// Prepared queries, for `<name>.query.consul`.
    queries: Option<Arc<crate::extra::Extra>>,
}

impl DnsHandler {
    pub(crate) fn new(
        store: Arc<Store>,
        cfg: DnsConfig,
        metrics: Arc<Metrics>,
        acl: Arc<crate::acl::Acl>,
    ) -> DnsHandler {
        DnsHandler {
            store,
            cfg,
            metrics,
            acl,
            domain: Name::from_ascii("consul.").unwrap_or_else(|_| Name::root()),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            answers: Arc::new(prepared::AnswerCache::default()),
            queries: None,
        }
    }

    /// Answers `<name>.query.consul` from these prepared queries.
    pub(crate) fn with_queries(mut self, extra: Arc<crate::extra::Extra>) -> Self {
        self.queries = Some(extra);
        self
    }

    /// Answers a UDP query from a prepared answer, writing the reply into
    /// `out`; false when the query is not a plain service question whose
    /// answer is prepared and current (the general path answers it).
    /// `lower` is scratch space.
    pub(crate) fn answer_fast(
        &self,
        packet: &[u8],
        lower: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(q) = wire::parse(packet, lower) else {
            return false;
        };
        let Some(p) = self.answers.get(lower) else {
            return false;
        };
        if !p.current(&self.store, &self.acl.dns_authz()) {
            return false;
        }
        let answered = wire::answer(&q, &p, &self.cfg, !self.cfg.recursors.is_empty(), out);
        if answered {
            self.metrics.dns_queries.inc();
        }
        answered
    }

    fn dc(&self) -> String {
        self.store.config().datacenter.clone()
    }
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        self.metrics.dns_queries.inc();
        let mut header = Header::response_from_request(request.header());
        let builder = MessageResponseBuilder::from_message_request(request);
        let Some(lower) = request.queries().first() else {
            header.set_response_code(ResponseCode::FormErr);
            return send(&mut response, builder.build_no_records(header)).await;
        };
        if request.op_code() != OpCode::Query || request.message_type() != MessageType::Query {
            header.set_response_code(ResponseCode::NotImp);
            return send(&mut response, builder.build_no_records(header)).await;
        }
        let Ok(_permit) = self.in_flight.try_acquire() else {
            header.set_response_code(ResponseCode::ServFail);
            return send(&mut response, builder.build_no_records(header)).await;
        };
        let query = lower.original().clone();
        let budget = limits::Budget::new(
            request.protocol(),
            request.edns().map(Edns::max_payload),
            query.query_type(),
            self.cfg.udp_answer_limit,
        );
        let (mut out, built_all) = if self.domain.zone_of(query.name()) {
            self.answer_consul(&query, budget.build_cap())
        } else if let Some(a) = self.reverse(&query) {
            (a, true)
        } else {
            let a = self
                .forward(&query, request.header().recursion_desired())
                .await;
            (a, true)
        };
        if !self.cfg.recursors.is_empty() {
            out.recursion_available = true;
        }
        let edns = request.edns().map(|e| {
            let mut reply = Edns::new();
            reply.set_max_payload(e.max_payload().max(512));
            reply
        });
        let trimmed = limits::fit(&query, &mut out, &budget, built_all);
        if trimmed && self.cfg.enable_truncate {
            header.set_truncated(true);
        }
        header.set_response_code(out.rcode);
        header.set_authoritative(out.authoritative);
        header.set_recursion_available(out.recursion_available);
        let mut builder = builder;
        if let Some(e) = edns {
            builder.edns(e);
        }
        let resp = builder.build(
            header,
            out.answers.iter(),
            out.authority.iter(),
            std::iter::empty(),
            out.additionals.iter(),
        );
        send(&mut response, resp).await
    }
}

async fn send<'a, R: ResponseHandler>(
    response: &mut R,
    msg: hickory_server::authority::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    let header = *msg.header();
    match response.send_response(msg).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "sending DNS response failed");
            let mut h = header;
            h.set_response_code(ResponseCode::ServFail);
            h.into()
        }
    }
}
