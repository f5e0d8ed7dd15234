//! Forwarding questions outside `consul.` to the recursors.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};

use super::{Answer, DnsHandler};

impl DnsHandler {
    /// Sends a question outside `consul.` to the recursors in turn.
    pub(super) async fn forward(&self, query: &Query, rd: bool) -> Answer {
        if self.cfg.recursors.is_empty() {
            return Answer {
                rcode: ResponseCode::Refused,
                ..Answer::default()
            };
        }
        let mut msg = Message::new();
        msg.set_id(fastrand::u16(..))
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(rd)
            .add_query(query.clone());
        let Ok(bytes) = msg.to_vec() else {
            return servfail(true);
        };
        for upstream in &self.cfg.recursors {
            let reply = tokio::time::timeout(self.cfg.recursor_timeout, async {
                let bind: SocketAddr = if upstream.is_ipv4() {
                    (Ipv4Addr::UNSPECIFIED, 0).into()
                } else {
                    (Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let sock = tokio::net::UdpSocket::bind(bind).await?;
                sock.send_to(&bytes, upstream).await?;
                let mut buf = vec![0u8; 4096];
                loop {
                    let (n, from) = sock.recv_from(&mut buf).await?;
                    if from == *upstream {
                        return Ok::<_, std::io::Error>(buf[..n].to_vec());
                    }
                }
            })
            .await;
            let Ok(Ok(raw)) = reply else { continue };
            let Ok(mut m) = Message::from_vec(&raw) else {
                continue;
            };
            if m.id() != msg.id() {
                continue;
            }
            return Answer {
                rcode: m.response_code(),
                answers: m.take_answers(),
                authority: m.take_name_servers(),
                additionals: m.take_additionals(),
                authoritative: false,
                recursion_available: true,
            };
        }
        servfail(true)
    }
}

fn servfail(ra: bool) -> Answer {
    Answer {
        rcode: ResponseCode::ServFail,
        recursion_available: ra,
        ..Answer::default()
    }
}
