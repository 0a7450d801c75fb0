//! HTTP/1.1 connections (hyper): every request is a Connect or gRPC-Web
//! call (or a CORS preflight) served by its own task, so a slow client
//! holds only its connection, never a worker.

use std::convert::Infallible;
use std::sync::Arc;

use crate::channelz::SocketStats;
use crate::security::auth::Peer;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::body::{self, BoxError, ChannelBody, Part};
use super::{call, http1_limits};
use crate::server::lifecycle::{Phase, ServerShared};
use crate::server::rpc::wait_for_phase;

/// Serves one HTTP/1.1 connection until the client closes it or the
/// server stops (draining: the connection closes after the response in
/// progress; cancelling: at once).
pub(crate) async fn serve_http1<T>(
    io: T,
    peer: Arc<Peer>,
    server: Arc<ServerShared>,
    socket: SocketStats,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = server.config().http1;
    let Some(_slot) = server.http1_slots().take() else {
        tracing::debug!(%peer, "HTTP/1.1 connection refused: {} served already", limits.max_connections);
        return http1_limits::refuse(io, limits.idle_timeout, limits.max_connections).await;
    };
    let service_server = Arc::clone(&server);
    let service = service_fn(move |request: Request<Incoming>| {
        handle(
            request,
            Arc::clone(&peer),
            socket.clone(),
            Arc::clone(&service_server),
        )
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that never finishes its request head, or sits idle
        // between requests, holds the socket no longer than this.
        .header_read_timeout(limits.idle_timeout)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut phase = server.phase();
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "HTTP/1.1 connection ended");
            }
            return;
        }
        _ = wait_for_phase(&mut phase, Phase::Draining) => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = wait_for_phase(&mut phase, Phase::Cancelling) => {}
    }
}

/// Starts the call as a task and answers once its response head is ready.
async fn handle(
    request: Request<Incoming>,
    peer: Arc<Peer>,
    socket: SocketStats,
    server: Arc<ServerShared>,
) -> Result<Response<ChannelBody>, Infallible> {
    let (sink, mut parts) = body::channel();
    let request = request.map(|incoming| {
        incoming
            .map_err(|error| -> BoxError { Box::new(error) })
            .boxed_unsync()
    });
    let guard = server.task_guard();
    let phase = server.phase();
    tokio::spawn(async move {
        call::serve(request, sink, peer, socket, Arc::clone(&server), phase).await;
        drop(guard);
    });
    Ok(match parts.recv().await {
        Some(Part::Head(head)) => head.map(|()| ChannelBody(parts)),
        _ => {
            let mut response = Response::new(ChannelBody(parts));
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    })
}
