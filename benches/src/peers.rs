//! Peer servers for the Connect and gRPC-Web rows
//! (`scripts/bench-protocols.sh`), with the same handler work as
//! [`crate::servers`]: `Unary` echoes the request.
//!
//! - `tonic-web`: tonic's server with `accept_http1` and tonic-web's
//!   `GrpcWebLayer` (gRPC-Web over HTTP/1.1 and HTTP/2; no Connect).
//! - `connect-rust`: connect-rust (crate `connectrpc`) with its own hyper
//!   server: Connect (proto and JSON), gRPC-Web and gRPC, HTTP/1.1 and
//!   HTTP/2 on one port.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use connectrpc::{
    InboundStream, RequestContext, Response, ServiceRequest, ServiceResult, ServiceStream,
};
use futures_util::StreamExt;

use crate::pb::{cr, tn};
use crate::servers::{RunningServer, TonicBench, run_tonic};

/// Starts tonic with the gRPC-Web layer on `addr`.
pub fn start_tonic_web(addr: SocketAddr) -> io::Result<RunningServer> {
    run_tonic(addr, |incoming| {
        tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(tonic_web::GrpcWebLayer::new())
            .add_service(tn::bench_server::BenchServer::new(TonicBench))
            .serve_with_incoming(incoming)
    })
}

/// Starts connect-rust's server on `addr`.
pub fn start_connect_rust(addr: SocketAddr) -> io::Result<RunningServer> {
    let runtime = tokio::runtime::Runtime::new()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
    let port = listener.local_addr()?.port();
    let router = connectrpc::Router::new().add_service(Arc::new(ConnectBench));
    runtime.spawn(async move {
        if let Err(error) = connectrpc::Server::from_listener(listener)
            .serve(router)
            .await
        {
            eprintln!("connect-rust server: {error}");
        }
    });
    Ok(RunningServer::detached(port, runtime))
}

/// The connect-rust servicer.
struct ConnectBench;

// The trait's `impl Encodable` results, named here as the concrete types.
#[allow(refining_impl_trait)]
impl cr::bench::Bench for ConnectBench {
    async fn unary(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, cr::bench::Payload>,
    ) -> ServiceResult<cr::bench::Payload> {
        Response::ok(request.to_owned_message())
    }

    async fn server_stream(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, cr::bench::StreamRequest>,
    ) -> ServiceResult<ServiceStream<cr::bench::Payload>> {
        let size = request.size as usize;
        let messages = (0..request.count).map(move |_| {
            Ok(cr::bench::Payload {
                body: vec![0; size],
                ..Default::default()
            })
        });
        Response::ok(Box::pin(futures_util::stream::iter(messages)) as ServiceStream<_>)
    }

    async fn ping_pong(
        &self,
        _ctx: RequestContext,
        requests: InboundStream<cr::bench::Payload>,
    ) -> ServiceResult<ServiceStream<cr::bench::Payload>> {
        let echoes = requests.map(|message| message.map(|message| message.to_owned_message()));
        Response::ok(Box::pin(echoes) as ServiceStream<_>)
    }
}
