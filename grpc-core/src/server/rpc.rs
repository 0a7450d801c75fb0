//! One RPC on the server: check the request, hand it to a worker, and move
//! bytes between the worker and the stream until the status is sent, the
//! deadline passes, the client cancels, or the server stops.

use std::future::Future;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use http::Request;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::context::{Outbound, RpcInfo, ServicerContext};
use super::handler::{Handler, HandlerFuture, Input, MethodEntry};
use super::interceptor::Innermost;
use super::lifecycle::{Phase, RpcPermit, ServerShared};
use super::pool::WorkerPool;
use super::protocol;
use super::responder::{Responder, reject, reject_http};
use crate::client::rpc::ResponseBody;
use crate::codec::Compression;
use crate::codec::compress::parse_accept_encoding;
use crate::runtime::sleep_until;
use crate::security::auth::Peer;
use crate::status::{Code, Status};
use crate::wire::{self, timeout};

/// Responses queued between a handler and the stream: bounded, so a slow
/// reader makes the handler's next send wait; deep enough that a stream of
/// small messages is written in batches rather than one wakeup each.
const OUTBOUND_QUEUE: usize = 16;
/// Queued response messages are coalesced into one write up to this size.
const COALESCE_LIMIT: usize = 32 << 10;
/// Requests decoded ahead of a client-streaming handler.
const INBOUND_QUEUE: usize = 4;

/// Serves one HTTP/2 stream.
pub(crate) async fn serve(
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    peer: Arc<Peer>,
    server: Arc<ServerShared>,
    mut phase: watch::Receiver<Phase>,
    socket: crate::channelz::SocketStats,
) {
    let content_type_ok = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| wire::is_grpc_content_type(value.as_bytes()));
    if !content_type_ok {
        // Connect, gRPC-Web, a CORS preflight, or something to refuse.
        return protocol::serve_h2(request, respond, peer, server, phase, socket).await;
    }
    let call = socket.call_started(); // channelz: counts as failed unless finished below
    let (parts, body) = request.into_parts();
    if parts.method != http::Method::POST {
        return reject_http(respond, http::StatusCode::METHOD_NOT_ALLOWED);
    }
    let path = parts.uri.path();
    let (entry, _permit) = match admission(&server, &phase, path) {
        Ok(admitted) => admitted,
        // A stream that arrived after the GOAWAY was never processed: it is
        // refused, so that the client sends it again on another connection.
        Err(_) if *phase.borrow() != Phase::Serving => {
            let mut respond = respond;
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            return;
        }
        Err(status) => return reject(respond, &status),
    };
    let deadline = match parts.headers.get(wire::GRPC_TIMEOUT) {
        None => None,
        Some(value) => match timeout::parse(value.as_bytes()) {
            Some(timeout) => Instant::now().checked_add(timeout),
            None => {
                let status = Status::internal(format!(
                    "malformed grpc-timeout {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ));
                return reject(respond, &status);
            }
        },
    };
    if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
        // `grpc-timeout: 0n` and the like: the client has already given up.
        return reject(respond, &Status::deadline_exceeded("Deadline Exceeded"));
    }
    let request_encoding = match parts.headers.get(wire::GRPC_ENCODING) {
        None => Compression::Identity,
        Some(value) => match value.to_str().ok().and_then(Compression::from_name) {
            Some(encoding) => encoding,
            None => {
                let status = Status::unimplemented(format!(
                    "Compression algorithm '{}' is not supported",
                    String::from_utf8_lossy(value.as_bytes())
                ));
                return reject(respond, &status);
            }
        },
    };
    let accepted_encodings = parts
        .headers
        .get(wire::GRPC_ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .map(parse_accept_encoding)
        .unwrap_or_default();
    let config = server.config();
    let span = tracing::debug_span!("grpc.server.rpc", method = path, peer = %peer);
    let info = RpcInfo {
        method: Arc::clone(&entry.path),
        peer: Arc::clone(&peer),
        // Parsed into Metadata only if the handler asks for it.
        headers: parts.headers,
        metadata: std::sync::OnceLock::new(),
        deadline,
        request_encoding,
        accepted_encodings,
        response_compression: config.compression,
        max_receive_message_length: config.max_receive_message_length,
        max_send_message_length: config.max_send_message_length,
        socket,
        protocol: protocol::Protocol::Grpc,
    };
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
    let ctx = ServicerContext::new(info, out_tx);
    let started = Instant::now();
    let code = run(&server, &entry, &ctx, body, respond, out_rx, &mut phase)
        .instrument(span.clone())
        .await;
    ctx.terminate(code);
    call.finish(code); // channelz
    span.in_scope(|| {
        tracing::debug!(status = code.name(), duration = ?started.elapsed(), "rpc finished");
    });
}

/// The checks every RPC passes before it runs, whatever its protocol: the
/// method exists, the server is serving, and `maximum_concurrent_rpcs`
/// has room (the permit counts the RPC until dropped).
pub(crate) fn admission<'a>(
    server: &'a ServerShared,
    phase: &watch::Receiver<Phase>,
    path: &str,
) -> Result<(Arc<MethodEntry>, RpcPermit<'a>), Status> {
    let Some(entry) = server.lookup(path) else {
        return Err(Status::unimplemented("Method not found!"));
    };
    if *phase.borrow() != Phase::Serving {
        return Err(Status::unavailable("Server is shutting down"));
    }
    let Some(permit) = server.admit() else {
        return Err(Status::resource_exhausted("Concurrent RPC limit exceeded!"));
    };
    Ok((entry, permit))
}

enum Event {
    Out(Option<Outbound>),
    Capacity(Result<usize, h2::Error>),
    Reset(h2::Reason),
}

/// Drives the RPC; returns the code the client was sent.
async fn run(
    server: &ServerShared,
    entry: &Arc<MethodEntry>,
    ctx: &ServicerContext,
    body: RecvStream,
    respond: SendResponse<Bytes>,
    mut out_rx: mpsc::Receiver<Outbound>,
    phase: &mut watch::Receiver<Phase>,
) -> Code {
    let deadline = ctx.info().deadline;
    let mut responder = Responder::Head(respond);
    let mut body = ResponseBody::new(body, ctx.info().max_receive_message_length);

    // Unary requests are read here, so the worker only runs user code.
    let (input, mut inbound) = if entry.kind.client_streaming() {
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        (Input::Stream(rx), Some(tx))
    } else {
        let read = async {
            match body.next_message().await? {
                None => Err(Status::internal(
                    "Client sent no request message for a unary-request method",
                )),
                Some(message) => match body.next_message().await? {
                    None => Ok(message),
                    Some(_) => Err(Status::internal(
                        "Client sent more than one request message for a unary-request method",
                    )),
                },
            }
        };
        let outcome = tokio::select! {
            result = read => result,
            _ = sleep_until(deadline) => Err(Status::deadline_exceeded("Deadline Exceeded")),
            reason = poll_fn(|cx| responder.poll_reset(cx)) => return cancelled(reason),
            _ = wait_for_phase(phase, Phase::Cancelling) => {
                responder.reset(h2::Reason::CANCEL);
                return Code::Cancelled;
            }
        };
        match outcome {
            Ok(message) => {
                ctx.info().socket.message_received(); // channelz
                (Input::One(message), None)
            }
            Err(status) => {
                responder.finish(&status);
                return status.code();
            }
        }
    };

    let _async_handler = dispatch(server, entry, input, ctx);

    let mut pending: Option<Bytes> = None;
    let mut encoding = Compression::Identity;
    let deadline_sleep = sleep_until(deadline);
    tokio::pin!(deadline_sleep);
    // Armed while a response waits for the peer's flow-control window, so
    // a stream stalled by a slow reader shows up in the logs.
    let stall_timer = tokio::time::sleep(STALL_WARNING);
    tokio::pin!(stall_timer);
    let mut stall_reported = true;
    // An event taken off the queue while coalescing messages, handled next.
    let mut deferred: Option<Outbound> = None;
    loop {
        let next = poll_fn(|cx| {
            if let Poll::Ready(reason) = responder.poll_reset(cx) {
                return Poll::Ready(Event::Reset(reason));
            }
            match (&pending, &mut responder) {
                (Some(_), Responder::Body(stream)) => match stream.poll_capacity(cx) {
                    Poll::Ready(Some(result)) => Poll::Ready(Event::Capacity(result)),
                    Poll::Ready(None) => Poll::Ready(Event::Reset(h2::Reason::CANCEL)),
                    Poll::Pending => Poll::Pending,
                },
                _ => match deferred.take() {
                    Some(event) => Poll::Ready(Event::Out(Some(event))),
                    None => out_rx.poll_recv(cx).map(Event::Out),
                },
            }
        });
        let reading = async {
            match inbound.as_ref() {
                Some(tx) => pump_one(&mut body, tx).await,
                None => std::future::pending().await,
            }
        };
        // The ends of the RPC come first: a handler that keeps the queue
        // full must not keep its deadline or a cancellation from firing.
        let event = tokio::select! {
            biased;
            _ = &mut stall_timer, if pending.is_some() && !stall_reported => {
                stall_reported = true;
                tracing::warn!(
                    method = ctx.method(),
                    peer = ctx.peer(),
                    stalled_for = ?STALL_WARNING,
                    "stream stalled: the client is not reading, so its flow-control window stays closed and the handler's next send waits"
                );
                continue;
            }
            _ = &mut deadline_sleep => {
                let status = Status::deadline_exceeded("Deadline Exceeded");
                ctx.terminate(Code::DeadlineExceeded);
                responder.finish(&status);
                return Code::DeadlineExceeded;
            }
            _ = ctx.cancel_token().cancelled() => {
                ctx.terminate(Code::Cancelled);
                responder.reset(h2::Reason::CANCEL);
                return Code::Cancelled;
            }
            _ = wait_for_phase(phase, Phase::Cancelling) => {
                ctx.terminate(Code::Cancelled);
                responder.reset(h2::Reason::CANCEL);
                return Code::Cancelled;
            }
            event = next => event,
            step = reading => match step {
                ReadStep::More => {
                    ctx.info().socket.message_received(); // channelz
                    continue;
                }
                ReadStep::End => {
                    inbound = None; // the handler's Requests ends
                    continue;
                }
                ReadStep::Failed(status) => {
                    ctx.terminate(status.code());
                    responder.finish(&status);
                    return status.code();
                }
                ReadStep::Reset(reason) => return cancelled(reason),
            },
        };
        match event {
            Event::Reset(reason) => {
                ctx.terminate(Code::Cancelled);
                return cancelled(reason);
            }
            Event::Out(None) => {
                let status = Status::internal("handler ended without a status");
                responder.finish(&status);
                return Code::Internal;
            }
            Event::Out(Some(Outbound::Headers {
                metadata,
                encoding: headers,
            })) => {
                encoding = headers;
                responder.send_headers(metadata, headers);
            }
            Event::Out(Some(Outbound::Message {
                frame,
                encoding: headers,
            })) => {
                if let Responder::Head(_) = responder {
                    encoding = headers;
                }
                let frame = coalesce(frame, &mut out_rx, &mut deferred);
                match responder.body(encoding) {
                    Some(stream) => {
                        stream.reserve_capacity(frame.len());
                        pending = Some(frame);
                        stall_timer
                            .as_mut()
                            .reset(tokio::time::Instant::now() + STALL_WARNING);
                        stall_reported = false;
                    }
                    None => return Code::Cancelled,
                }
            }
            Event::Out(Some(Outbound::Finish(status))) => {
                let code = status.code();
                ctx.terminate(code);
                responder.finish(&status);
                return code;
            }
            Event::Capacity(Err(_)) => {
                ctx.terminate(Code::Cancelled);
                return Code::Cancelled;
            }
            Event::Capacity(Ok(available)) => {
                if let (Some(frame), Responder::Body(stream)) = (&mut pending, &mut responder) {
                    if available > 0 {
                        let chunk = frame.split_to(available.min(frame.len()));
                        if stream.send_data(chunk, false).is_err() {
                            ctx.terminate(Code::Cancelled);
                            return Code::Cancelled;
                        }
                    }
                    if frame.is_empty() {
                        pending = None;
                    } else {
                        stream.reserve_capacity(frame.len());
                    }
                }
            }
        }
    }
}

/// Starts the handler: with no interceptors, a blocking handler's future
/// is polled by the worker pool and an async handler runs as a task of its
/// own (measured faster than polling it inside the RPC loop), aborted when
/// the RPC ends first. Interceptors run on a task of their own around it.
pub(crate) fn dispatch(
    server: &ServerShared,
    entry: &MethodEntry,
    input: Input,
    ctx: &ServicerContext,
) -> Option<AbortOnDrop> {
    let interceptors = &server.config().interceptors;
    if !interceptors.is_empty() {
        let handler = handler_run(server, entry, input);
        let chain = interceptors.clone();
        let chain_ctx = ctx.clone();
        // Not aborted with the RPC: the chain sees how the call ended.
        tokio::spawn(send_final(
            async move { chain.run(chain_ctx, handler).await },
            ctx.clone(),
        ));
        return None;
    }
    let finish_ctx = ctx.clone();
    let placement = Placement::of(server, entry);
    start_handler(&entry.handler, input, ctx, placement, move |status| {
        send_final(async { status }, finish_ctx)
    })
}

/// What a handler needs to know of where it runs.
struct Placement {
    /// Polls blocking handlers.
    pool: WorkerPool,
    /// The method, named in blocked-executor warnings.
    method: Arc<str>,
    /// An async handler's poll longer than this is reported.
    threshold: Duration,
}

impl Placement {
    fn of(server: &ServerShared, entry: &MethodEntry) -> Placement {
        Placement {
            pool: server.pool().clone(),
            method: Arc::clone(&entry.path),
            threshold: server.config().blocking_warning,
        }
    }
}

/// Starts a handler where it runs: a blocking handler's future polled by
/// the worker pool, an async handler as a task of its own (watched for
/// polls that block its thread, aborted when the returned guard drops).
/// `then` receives the status the handler ended with.
fn start_handler<T>(
    handler: &Handler,
    input: Input,
    ctx: &ServicerContext,
    placement: Placement,
    then: impl FnOnce(Status) -> T + Send + 'static,
) -> Option<AbortOnDrop>
where
    T: Future<Output = ()> + Send + 'static,
{
    match handler {
        Handler::Blocking(handler) => {
            let run = on_worker(handler(input, ctx.clone()), ctx.clone());
            placement
                .pool
                .spawn(Box::pin(async move { then(run.await).await }));
            None
        }
        Handler::Async(handler) => {
            let watched = WatchPolls {
                future: handler(input, ctx.clone()),
                method: placement.method,
                threshold: placement.threshold,
            };
            let task = tokio::spawn(async move { then(watched.await).await });
            Some(AbortOnDrop(task.abort_handle()))
        }
    }
}

/// The handler as the end of an interceptor chain: started as without
/// interceptors, its status awaited; if the RPC ends first, the status the
/// client was sent (and the handler is stopped).
fn handler_run(server: &ServerShared, entry: &MethodEntry, input: Input) -> Innermost {
    let handler = entry.handler.clone();
    let placement = Placement::of(server, entry);
    Box::new(move |ctx: ServicerContext| {
        Box::pin(async move {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let _async_handler =
                start_handler(&handler, input, &ctx, placement, move |status| async move {
                    let _ = done_tx.send(status);
                });
            tokio::select! {
                done = done_rx => done.unwrap_or_else(|_| {
                    Status::internal("the handler ended without a status")
                }),
                code = ctx.ended() => Status::new(code, "the RPC ended before its handler returned"),
            }
        })
    })
}

/// Runs a handler (or a chain around it) and queues the status it ended
/// with, unless the RPC has already ended.
async fn send_final(run: impl Future<Output = Status>, ctx: ServicerContext) {
    let status = run.await;
    if ctx.is_active() {
        let _ = ctx.outbound().send(Outbound::Finish(status)).await;
    }
}

/// A blocking handler's run as the pool polls it: skipped when the RPC
/// ended while it waited for a worker, and logged when that wait was long.
fn on_worker(handler: HandlerFuture, ctx: ServicerContext) -> HandlerFuture {
    let queued_at = Instant::now();
    Box::pin(async move {
        let waited = queued_at.elapsed();
        if waited >= QUEUE_WAIT_WARNING {
            tracing::warn!(
                method = ctx.method(),
                waited_ms = waited.as_millis() as u64,
                "RPC waited for a free worker: every worker was busy (raise max_workers or bound the load with maximum_concurrent_rpcs)"
            );
        }
        if !ctx.is_active() {
            return Status::cancelled("the RPC ended before a worker was free");
        }
        handler.await
    })
}

/// How long a response may wait for the peer's window before it is logged.
const STALL_WARNING: Duration = Duration::from_secs(2);
/// How long a blocking RPC may wait for a worker before it is logged.
const QUEUE_WAIT_WARNING: Duration = Duration::from_secs(1);

/// Runs an async handler, reporting every poll that held the executor
/// thread longer than `threshold` (blocking work in async code).
struct WatchPolls<F> {
    future: F,
    method: Arc<str>,
    threshold: Duration,
}

impl<F: Future + Unpin> Future for WatchPolls<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<F::Output> {
        let started = Instant::now();
        let polled = std::pin::Pin::new(&mut self.future).poll(cx);
        let took = started.elapsed();
        if took >= self.threshold {
            tracing::warn!(
                method = &*self.method,
                blocked_ms = took.as_millis() as u64,
                "async handler blocked its executor thread; move blocking work to ServicerContext::run_blocking"
            );
        }
        polled
    }
}

/// Appends the messages already queued behind `first` (up to
/// [`COALESCE_LIMIT`]) so they go out in one write; the first non-message
/// event is kept in `deferred`.
fn coalesce(
    first: Bytes,
    queue: &mut mpsc::Receiver<Outbound>,
    deferred: &mut Option<Outbound>,
) -> Bytes {
    let mut batch: Option<bytes::BytesMut> = None;
    let mut len = first.len();
    while len < COALESCE_LIMIT {
        match queue.try_recv() {
            Ok(Outbound::Message { frame, .. }) => {
                let batch = batch.get_or_insert_with(|| {
                    let mut batch =
                        bytes::BytesMut::with_capacity(COALESCE_LIMIT.max(len + frame.len()));
                    batch.extend_from_slice(&first);
                    batch
                });
                batch.extend_from_slice(&frame);
                len += frame.len();
            }
            Ok(other) => {
                *deferred = Some(other);
                break;
            }
            Err(_) => break,
        }
    }
    match batch {
        Some(batch) => batch.freeze(),
        None => first,
    }
}

/// Aborts an async handler's task when the RPC is over.
pub(crate) struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn cancelled(reason: h2::Reason) -> Code {
    tracing::debug!(?reason, "client reset the stream");
    Code::Cancelled
}

enum ReadStep {
    More,
    End,
    Failed(Status),
    Reset(h2::Reason),
}

/// Moves one request message to the handler. Cancel-safe: room in the
/// queue is reserved before a message is taken off the stream.
async fn pump_one(
    body: &mut ResponseBody,
    tx: &mpsc::Sender<Result<crate::codec::framing::RawMessage, Status>>,
) -> ReadStep {
    let Ok(permit) = tx.reserve().await else {
        // The handler stopped reading requests; leave the rest unread.
        return std::future::pending().await;
    };
    match body.next_message().await {
        Ok(Some(message)) => {
            permit.send(Ok(message));
            ReadStep::More
        }
        Ok(None) => ReadStep::End,
        Err(status) if status.code() == Code::Cancelled => ReadStep::Reset(h2::Reason::CANCEL),
        Err(status) => {
            permit.send(Err(status.clone()));
            ReadStep::Failed(status)
        }
    }
}

pub(crate) async fn wait_for_phase(phase: &mut watch::Receiver<Phase>, wanted: Phase) {
    if phase.wait_for(|current| *current >= wanted).await.is_err() {
        std::future::pending::<()>().await;
    }
}
