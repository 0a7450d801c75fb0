//! The HTTP exchange under a gRPC-Web or Connect call: HTTP/2 streams on
//! the channel's own connection, or HTTP/1.1 connections (hyper) from a
//! small pool, one call at a time each. Both give a request-body sink and
//! a response with an [`http_body::Body`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use crate::channel::{Channel, backoff};
use crate::server::protocol::body::{RequestBody, h2_body};
use crate::status::Status;
use crate::transport::flow::send_with_capacity;
use crate::wire::status_map;

/// The HTTP version of a channel's gRPC-Web and Connect calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1: one call per connection at a time; no bidi streaming.
    Http1,
    /// HTTP/2, on the channel's multiplexed connection (the default).
    #[default]
    Http2,
}

/// An HTTP/1.1 request body.
type OutBody = UnsyncBoxBody<Bytes, Infallible>;

/// Request-body chunks queued ahead of an HTTP/1.1 connection.
const BODY_QUEUE: usize = 4;

/// Idle HTTP/1.1 connections kept for later calls.
const MAX_IDLE: usize = 16;

/// Idle HTTP/1.1 connections of one channel.
#[derive(Default)]
pub(crate) struct Http1Pool {
    idle: Mutex<Vec<http1::SendRequest<OutBody>>>,
}

impl std::fmt::Debug for Http1Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http1Pool(..)")
    }
}

/// What a request carries.
pub(crate) enum Body {
    /// Nothing (a Connect GET).
    Empty,
    /// One whole body (Connect unary).
    Whole(Bytes),
    /// Chunks sent through the returned [`Sink`] (streaming).
    Streamed,
}

/// Where a streaming request's body goes.
pub(crate) enum Sink {
    /// Nothing more to send.
    Done,
    H2(h2::SendStream<Bytes>),
    Http1(mpsc::Sender<Bytes>),
}

impl Sink {
    /// Sends one chunk, waiting for room; `Err` when the peer is gone.
    pub(crate) async fn send(&mut self, chunk: Bytes) -> Result<(), ()> {
        match self {
            Sink::Done => Err(()),
            Sink::H2(send) => send_with_capacity(send, chunk).await.map_err(drop),
            Sink::Http1(sender) => sender.send(chunk).await.map_err(drop),
        }
    }

    /// Ends the request body.
    pub(crate) fn finish(&mut self) {
        if let Sink::H2(send) = self {
            let _ = send.send_data(Bytes::new(), true);
        }
        *self = Sink::Done;
    }
}

/// The response on its way.
pub(crate) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<RequestBody>, Status>> + Send>>;

/// A request that went out: its response to come, the sink for the rest
/// of its body, and (HTTP/1.1) the connection to give back once the
/// response body is read.
pub(crate) struct Pending {
    pub(crate) response: ResponseFuture,
    pub(crate) sink: Sink,
    pub(crate) connection: Option<http1::SendRequest<OutBody>>,
}

/// Sends `request` (a head; the URI in absolute form) on the channel's
/// HTTP/2 connection.
pub(crate) async fn open_h2(
    channel: &Channel,
    wait_for_ready: bool,
    request: Request<()>,
    body: Body,
) -> Result<Pending, Status> {
    let picked = channel.ready_sender(wait_for_ready).await?;
    let ended = matches!(body, Body::Empty);
    let (response, mut send) = match picked.sender.ready().await {
        Ok(mut sender) => sender.send_request(request, ended),
        Err(error) => Err(error),
    }
    .map_err(|error| {
        picked.subchannel.connection_failed();
        unavailable(status_map::from_h2_error(error))
    })?;
    if let Body::Whole(bytes) = body {
        // h2 buffers what the window does not admit yet.
        let _ = send.send_data(bytes, true);
    }
    let response = async move {
        let response = response.await.map_err(status_map::from_h2_error)?;
        Ok(response.map(h2_body))
    };
    Ok(Pending {
        response: Box::pin(response),
        // Kept (even when the body was sent whole) so the stream stays ours
        // until the response is read.
        sink: Sink::H2(send),
        connection: None,
    })
}

fn unavailable(status: Status) -> Status {
    if status.code() == crate::Code::Unavailable {
        return status;
    }
    Status::unavailable(format!("connection failed: {}", status.details()))
}

impl Http1Pool {
    /// Sends `request` (a head; the URI in origin form, `Host` set) on an
    /// idle HTTP/1.1 connection or a new one.
    pub(crate) async fn open(
        &self,
        channel: &Channel,
        wait_for_ready: bool,
        request: Request<()>,
        body: Body,
    ) -> Result<Pending, Status> {
        let mut connection = self.connection(channel, wait_for_ready).await?;
        let (sink, out): (Sink, OutBody) = match body {
            Body::Empty => (Sink::Done, Full::new(Bytes::new()).boxed_unsync()),
            Body::Whole(bytes) => (Sink::Done, Full::new(bytes).boxed_unsync()),
            Body::Streamed => {
                let (sender, receiver) = mpsc::channel(BODY_QUEUE);
                (Sink::Http1(sender), streamed(receiver))
            }
        };
        let response = connection.send_request(request.map(|()| out));
        let response = async move {
            let response = response.await.map_err(|error| {
                Status::unavailable(format!("HTTP/1.1 request failed: {error}"))
            })?;
            Ok(response.map(|body| body.map_err(Into::into).boxed_unsync()))
        };
        Ok(Pending {
            response: Box::pin(response),
            sink,
            connection: Some(connection),
        })
    }

    /// An idle connection that is still usable, or a new one. With
    /// `wait_for_ready`, failed attempts are retried with the channel's
    /// reconnect backoff until one succeeds (the call's deadline or
    /// cancellation ends the wait), as HTTP/2 calls wait for a ready
    /// connection.
    async fn connection(
        &self,
        channel: &Channel,
        wait_for_ready: bool,
    ) -> Result<http1::SendRequest<OutBody>, Status> {
        loop {
            let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(mut connection) = idle else { break };
            if connection.ready().await.is_ok() {
                return Ok(connection);
            }
        }
        let mut delay = channel.config().initial_backoff;
        loop {
            let status = match new_connection(channel).await {
                Ok(connection) => return Ok(connection),
                Err(status) if !wait_for_ready => return Err(status),
                Err(status) => status,
            };
            let (wait, next) = backoff::step(delay, channel.config().max_backoff);
            delay = next;
            tracing::debug!(target = %channel.target(), %status, ?wait, "HTTP/1.1 connect failed; waiting for ready");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = channel.closed_token().cancelled() => {
                    return Err(Status::unavailable("Channel is closed"));
                }
            }
        }
    }

    /// Keeps a connection whose exchange ended cleanly for the next call.
    pub(crate) fn release(&self, connection: http1::SendRequest<OutBody>) {
        if connection.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
    }
}

/// A new HTTP/1.1 connection to the channel's target, driven by a task.
async fn new_connection(channel: &Channel) -> Result<http1::SendRequest<OutBody>, Status> {
    let io = channel.open_io().await.map_err(|error| {
        Status::unavailable(format!(
            "failed to connect to {}: {error}",
            channel.target()
        ))
    })?;
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|error| Status::unavailable(format!("HTTP/1.1 handshake failed: {error}")))?;
    let closed = channel.closed_token().clone();
    channel.handle().spawn(async move {
        tokio::select! {
            result = connection => if let Err(error) = result {
                tracing::debug!(%error, "HTTP/1.1 connection ended");
            },
            _ = closed.cancelled() => {}
        }
    });
    Ok(sender)
}

/// A request body fed by a queue.
fn streamed(receiver: mpsc::Receiver<Bytes>) -> OutBody {
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), receiver))
    });
    StreamBody::new(chunks).boxed_unsync()
}
