//! The `demo.Squares` server: what `tonic-build` generates for one unary
//! method, by hand.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::server::NamedService;

use crate::proto::{SquareReply, SquareRequest, SERVICE_NAME, SQUARE_PATH};

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// `demo.Squares`, answering as instance `id`.
#[derive(Clone, Debug)]
pub struct SquaresServer {
    id: Arc<str>,
}

impl SquaresServer {
    /// The service, answering as `id`.
    pub fn new(id: impl Into<Arc<str>>) -> SquaresServer {
        SquaresServer { id: id.into() }
    }
}

impl NamedService for SquaresServer {
    const NAME: &'static str = SERVICE_NAME;
}

/// `n²`, or `OUT_OF_RANGE` when it overflows.
pub fn square(n: i64, worker: &str) -> Result<SquareReply, tonic::Status> {
    let square = n.checked_mul(n).ok_or_else(|| {
        tonic::Status::out_of_range(format!("{n} squared overflows: use |n| < 3037000499"))
    })?;
    Ok(SquareReply {
        n,
        square,
        worker: worker.to_string(),
    })
}

struct Square(Arc<str>);

impl tonic::server::UnaryService<SquareRequest> for Square {
    type Response = SquareReply;
    type Future = BoxFuture<tonic::Response<SquareReply>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<SquareRequest>) -> Self::Future {
        let id = Arc::clone(&self.0);
        Box::pin(async move { square(request.into_inner().n, &id).map(tonic::Response::new) })
    }
}

impl<B> tower_service::Service<http::Request<B>> for SquaresServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != SQUARE_PATH {
            return Box::pin(async move {
                let mut response = http::Response::new(Body::default());
                let headers = response.headers_mut();
                headers.insert(
                    tonic::Status::GRPC_STATUS,
                    (tonic::Code::Unimplemented as i32).into(),
                );
                headers.insert(
                    http::header::CONTENT_TYPE,
                    tonic::metadata::GRPC_CONTENT_TYPE,
                );
                Ok(response)
            });
        }
        let id = Arc::clone(&self.id);
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<SquareReply, SquareRequest>::default();
            let mut grpc = tonic::server::Grpc::new(codec);
            Ok(grpc.unary(Square(id), req).await)
        })
    }
}
