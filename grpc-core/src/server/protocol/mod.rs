//! The protocols besides gRPC over HTTP/2 that every server port speaks:
//! Connect and gRPC-Web, over HTTP/1.1 (hyper) and HTTP/2, plus CORS for
//! browsers. Each request is turned into the same [`RpcInfo`] +
//! [`ServicerContext`] + handler input as a gRPC one, so every servicer
//! (blocking or async) serves all three protocols unchanged; only the
//! framing of requests and responses differs.
//!
//! [`RpcInfo`]: super::context::RpcInfo
//! [`ServicerContext`]: super::ServicerContext

pub(crate) mod base64_stream;
pub(crate) mod body;
mod call;
mod connect;
mod cors;
mod detect;
mod get;
mod grpc_web;
mod http1;
mod http1_limits;
pub(crate) mod reader;
mod wire;

pub(crate) use crate::wire::json::Descriptors;
pub use cors::Cors;
pub(crate) use detect::{Detected, detect};
pub(crate) use http1::serve_http1;
pub(crate) use http1_limits::{Http1Limits, Http1Slots};

use std::sync::Arc;

use crate::channelz::SocketStats;
use crate::security::auth::Peer;

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use http::Request;
use tokio::sync::watch;

use super::lifecycle::{Phase, ServerShared};

/// The protocol an RPC arrived in, as [`ServicerContext::protocol`] reports it.
///
/// [`ServicerContext::protocol`]: super::ServicerContext::protocol
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC (`application/grpc`), over HTTP/2.
    Grpc,
    /// gRPC-Web (`application/grpc-web`, `application/grpc-web-text`),
    /// over HTTP/1.1 or HTTP/2.
    GrpcWeb,
    /// Connect (`application/proto`, `application/connect+proto`, ...),
    /// over HTTP/1.1 or HTTP/2.
    Connect,
}

impl Protocol {
    /// A short lowercase name: `grpc`, `grpc-web` or `connect`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc-web",
            Protocol::Connect => "connect",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Serves a request that came in on an HTTP/2 connection but is not gRPC
/// (Connect, gRPC-Web, a CORS preflight, or something to refuse).
pub(crate) async fn serve_h2(
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    peer: Arc<Peer>,
    server: Arc<ServerShared>,
    phase: watch::Receiver<Phase>,
    socket: SocketStats,
) {
    let request = request.map(body::h2_body);
    let (sink, parts) = body::channel();
    let rpc = call::serve(request, sink, peer, socket, server, phase);
    tokio::join!(rpc, body::pump_h2(respond, parts));
}
