//! The messages of `demo.Squares`, written by hand (what `prost-build`
//! would generate from this, without `protoc`):
//!
//! ```proto
//! syntax = "proto3";
//! package demo;
//! service Squares { rpc Square(SquareRequest) returns (SquareReply); }
//! message SquareRequest { int64 n = 1; }
//! message SquareReply { int64 n = 1; int64 square = 2; string worker = 3; }
//! ```

/// The question.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SquareRequest {
    /// The number.
    #[prost(int64, tag = "1")]
    pub n: i64,
}

/// The answer, with the instance that computed it.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SquareReply {
    /// The number.
    #[prost(int64, tag = "1")]
    pub n: i64,
    /// Its square.
    #[prost(int64, tag = "2")]
    pub square: i64,
    /// The worker instance.
    #[prost(string, tag = "3")]
    pub worker: String,
}

/// The service's full name.
pub const SERVICE_NAME: &str = "demo.Squares";
/// The path of `Square`.
pub const SQUARE_PATH: &str = "/demo.Squares/Square";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn messages_round_trip_in_protobuf_encoding() {
        let reply = SquareReply {
            n: -7,
            square: 49,
            worker: "w1".into(),
        };
        let bytes = reply.encode_to_vec();
        // int64 -7 is a 10-byte varint; 49 one byte; the string 2.
        assert_eq!(bytes.len(), 1 + 10 + 1 + 1 + 1 + 1 + 2);
        assert_eq!(SquareReply::decode(bytes.as_slice()).ok(), Some(reply));
        assert_eq!(SquareRequest { n: 3 }.encode_to_vec(), [0x08, 3]);
    }
}
