//! The `demo.Squares` client, over any tonic transport: a plain
//! `Channel`, or dcy's balanced [`dcy::grpc::GrpcChannel`].

use http::uri::PathAndQuery;
use tonic::client::GrpcService;

use crate::proto::{SquareReply, SquareRequest, SQUARE_PATH};

/// A `demo.Squares` client. Cheap to clone when the transport is.
#[derive(Clone, Debug)]
pub struct SquaresClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> SquaresClient<T>
where
    T: GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    /// A client over `transport`.
    pub fn new(transport: T) -> SquaresClient<T> {
        SquaresClient {
            inner: tonic::client::Grpc::new(transport),
        }
    }

    /// `n²`, from whichever worker the transport reaches.
    pub async fn square(&mut self, n: i64) -> Result<SquareReply, tonic::Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("not ready: {}", e.into())))?;
        let codec = tonic_prost::ProstCodec::<SquareRequest, SquareReply>::default();
        let path = PathAndQuery::from_static(SQUARE_PATH);
        let reply = self
            .inner
            .unary(tonic::Request::new(SquareRequest { n }), path, codec)
            .await?;
        Ok(reply.into_inner())
    }
}
