//! One gRPC RPC on the server, as an explicit state machine: [`ServerRpc`]
//! waits for the next [`Event`] (a request message, the end of the
//! requests, handler output, the peer's window, the deadline, a
//! cancellation, a reset) and handles it in one method per event, until one
//! of them ends the RPC with the code the client was sent.
//!
//! Nothing here waits on a channel whose sender might live on: the handler
//! side ends through its [`HandlerEnd`](crate::stream::outbox::HandlerEnd),
//! which reports a handler that vanished without a status, so the RPC ends
//! `INTERNAL` instead of hanging.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use http::Request;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Sleep, sleep_until};
use tracing::Instrument;

use super::context::{RpcInfo, ServicerContext};
use super::dispatch::{AbortOnDrop, dispatch};
use super::handler::{Input, MethodEntry};
use super::lifecycle::{Phase, RpcPermit, ServerShared};
use super::protocol;
use crate::codec::framing::RawMessage;
use crate::codec::message::content_subtype;
use crate::security::auth::Peer;
use crate::stats::WireMessage;
use crate::stats::server::CallTrace;
use crate::status::{Code, Status};
use crate::stream::head::RequestHead;
use crate::stream::outbox::{End, Taken};
use crate::stream::reader::{MessageReader, NotOne, OnlyMessage};
use crate::stream::responder::{reject, reject_http};
use crate::stream::writer::{StreamWriter, WriterEvent};
use crate::wire;

/// Requests decoded ahead of a client-streaming handler.
const INBOUND_QUEUE: usize = 4;

/// Serves one HTTP/2 stream.
pub(crate) async fn serve(
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    peer: Arc<Peer>,
    server: Arc<ServerShared>,
    phase: watch::Receiver<Phase>,
    socket: crate::channelz::SocketStats,
) {
    let content_type_ok = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| wire::is_grpc_content_type(value.as_bytes()));
    if !content_type_ok {
        // Connect, gRPC-Web, a CORS preflight, or something to refuse.
        // Boxed: the other protocols' state machine is some 5 KiB, which
        // every gRPC call's future would otherwise carry (and copy).
        return Box::pin(protocol::serve_h2(
            request, respond, peer, server, phase, socket,
        ))
        .await;
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
    let content_type = parts.headers.get(http::header::CONTENT_TYPE);
    let subtype = content_type.and_then(|value| content_subtype(value.as_bytes()));
    let json = match entry.negotiate(subtype.unwrap_or_default(), server.descriptors()) {
        Ok(json) => json,
        Err(status) => return reject(respond, &status),
    };
    let head = match RequestHead::parse(&parts.headers) {
        Ok(head) => head,
        Err(status) => return reject(respond, &status),
    };
    let span = tracing::debug_span!("grpc.server.rpc", method = path, peer = %peer);
    let protocol = protocol::Protocol::Grpc;
    let mut info = RpcInfo::new(&server, &entry, peer, socket, parts.headers, head, protocol);
    info.json = json;
    let ctx = ServicerContext::new(info);
    let started = Instant::now();
    let rpc = ServerRpc::new(&server, &entry, ctx.clone(), body, respond);
    let code = rpc.run(phase).instrument(span.clone()).await;
    ctx.terminate(code);
    ctx.outbox().close();
    call.finish(code); // channelz
    span.in_scope(|| {
        tracing::debug!(status = code.name(), duration = ?started.elapsed(), "rpc finished");
    });
}

/// The method's content type, or JSON's for a call transcoded to it.
fn response_content_type(entry: &MethodEntry, info: &RpcInfo) -> http::HeaderValue {
    match info.json {
        Some(_) => crate::codec::message::content_type("json"),
        None => entry.content_type.clone(),
    }
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

/// Where the request side stands.
enum RequestSide {
    /// A unary-request method: its one message is collected; the handler
    /// starts when the requests end.
    Unary(OnlyMessage),
    /// A client-streaming method: messages go to the running handler.
    Streaming(mpsc::Sender<Result<RawMessage, Status>>),
    /// Nothing more to read (all read, or the handler stopped reading).
    Done,
}

/// What happened to the RPC.
enum Event {
    /// A request message for a unary-request method.
    RequestMessage(RawMessage),
    /// A request message went to the client-streaming handler.
    RequestForwarded(WireMessage),
    /// The client half-closed.
    RequestEnd,
    /// The request stream failed (bad framing, over the limit, reset).
    RequestFailed(Status),
    /// The writer has something to act on.
    Writer(WriterEvent),
    Deadline,
    /// Cancelled on the server (`ServicerContext::cancel`, server stop).
    Cancel,
}

/// One RPC's state.
struct ServerRpc<'a> {
    server: &'a ServerShared,
    entry: &'a Arc<MethodEntry>,
    ctx: ServicerContext,
    reader: MessageReader<RecvStream>,
    requests: RequestSide,
    writer: StreamWriter,
    /// Armed only when the client sent a deadline.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Aborts an async handler when the RPC ends first.
    _handler: Option<AbortOnDrop>,
    /// The call's tracers (none unless registered).
    trace: CallTrace,
}

impl<'a> ServerRpc<'a> {
    fn new(
        server: &'a ServerShared,
        entry: &'a Arc<MethodEntry>,
        ctx: ServicerContext,
        body: RecvStream,
        respond: SendResponse<Bytes>,
    ) -> ServerRpc<'a> {
        let info = ctx.info();
        ServerRpc {
            server,
            entry,
            reader: MessageReader::new(body, info.max_receive_message_length),
            requests: RequestSide::Unary(OnlyMessage::default()),
            writer: StreamWriter::new(respond, response_content_type(entry, info)),
            deadline: info
                .deadline
                .map(|deadline| Box::pin(sleep_until(deadline))),
            _handler: None,
            trace: CallTrace::start(&server.config().tracers, &ctx),
            ctx,
        }
    }

    /// Runs the RPC until the server's `phase` or an event ends it;
    /// returns the code the client was sent.
    async fn run(mut self, mut phase: watch::Receiver<Phase>) -> Code {
        if self.entry.kind.client_streaming() {
            // Unary requests are read first, so the worker only runs user code.
            let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
            self.requests = RequestSide::Streaming(tx);
            self.start_handler(Input::Stream(rx));
        }
        // Registered once for the whole RPC, not again for every event.
        let ctx = self.ctx.clone();
        let mut cancelled = pin!(async {
            tokio::select! {
                _ = ctx.cancel_token().cancelled() => {}
                _ = wait_for_phase(&mut phase, Phase::Cancelling) => {}
            }
        });
        loop {
            let event = self.next_event(cancelled.as_mut()).await;
            if let Some(code) = self.on_event(event) {
                self.trace.ended(code);
                return code;
            }
        }
    }

    /// Waits for the next event. The ends of the RPC come first: a handler
    /// that keeps the buffer full must not keep its deadline or a
    /// cancellation (`cancelled`: by the server or its stop) from firing.
    async fn next_event(&mut self, cancelled: Pin<&mut impl Future<Output = ()>>) -> Event {
        let ServerRpc {
            ctx,
            reader,
            requests,
            writer,
            deadline,
            ..
        } = self;
        let reading = !matches!(requests, RequestSide::Done);
        tokio::select! {
            biased;
            _ = poll_deadline(deadline) => Event::Deadline,
            _ = cancelled => Event::Cancel,
            event = poll_fn(|cx| writer.poll_event(ctx.outbox(), cx)) => Event::Writer(event),
            event = read_request(reader, requests), if reading => event,
        }
    }

    /// Handles one event; `Some(code)` when it ended the RPC.
    fn on_event(&mut self, event: Event) -> Option<Code> {
        match event {
            Event::RequestMessage(message) => self.on_request_message(message),
            Event::RequestForwarded(message) => {
                self.trace.received(message);
                self.ctx.info().socket.message_received(); // channelz
                None
            }
            Event::RequestEnd => self.on_request_end(),
            Event::RequestFailed(status) => self.on_request_failed(status),
            Event::Writer(WriterEvent::Taken(taken)) => self.on_output(taken),
            Event::Writer(WriterEvent::Capacity(available)) => self.on_capacity(available),
            Event::Writer(WriterEvent::Stalled) => {
                self.on_stalled();
                None
            }
            Event::Writer(WriterEvent::Reset(reason)) => Some(self.on_peer_reset(reason)),
            Event::Deadline => Some(self.on_deadline()),
            Event::Cancel => Some(self.on_cancel()),
        }
    }

    fn on_request_message(&mut self, message: RawMessage) -> Option<Code> {
        self.trace.received(WireMessage::of(&message));
        self.ctx.info().socket.message_received(); // channelz
        let RequestSide::Unary(only) = &mut self.requests else {
            return None;
        };
        match only.push(message) {
            Ok(()) => None,
            Err(_) => Some(self.fail(Status::internal(
                "Client sent more than one request message for a unary-request method",
            ))),
        }
    }

    fn on_request_end(&mut self) -> Option<Code> {
        match std::mem::replace(&mut self.requests, RequestSide::Done) {
            RequestSide::Unary(only) => match only.end() {
                Ok(message) => {
                    self.start_handler(Input::One(message));
                    None
                }
                Err(NotOne::None | NotOne::More) => Some(self.fail(Status::internal(
                    "Client sent no request message for a unary-request method",
                ))),
            },
            // Dropping the sender ends the handler's requests.
            RequestSide::Streaming(_) | RequestSide::Done => None,
        }
    }

    fn on_request_failed(&mut self, status: Status) -> Option<Code> {
        if status.code() == Code::Cancelled {
            return Some(self.on_peer_reset(h2::Reason::CANCEL));
        }
        if let RequestSide::Streaming(tx) = &self.requests {
            let _ = tx.try_send(Err(status.clone()));
        }
        Some(self.fail(status))
    }

    /// The handler's headers, messages and status.
    fn on_output(&mut self, taken: Taken) -> Option<Code> {
        self.ctx.info().socket.sent_messages(taken.messages); // channelz
        self.trace.taken(&taken);
        match self.writer.write(taken) {
            Err(_) => Some(self.on_peer_reset(h2::Reason::CANCEL)),
            Ok(None) => None,
            Ok(Some(End::Finished(status))) => Some(self.fail(status)),
            Ok(Some(End::HandlerGone)) => {
                tracing::warn!(method = self.ctx.method(), "handler ended without a status");
                Some(self.fail(Status::internal("handler ended without a status")))
            }
        }
    }

    fn on_capacity(&mut self, available: usize) -> Option<Code> {
        match self.writer.write_pending(available) {
            Ok(()) => None,
            Err(_) => Some(self.on_peer_reset(h2::Reason::CANCEL)),
        }
    }

    fn on_stalled(&self) {
        tracing::warn!(
            method = self.ctx.method(),
            peer = self.ctx.peer(),
            "stream stalled: the client is not reading, so its flow-control window stays closed and the handler's next send waits"
        );
    }

    fn on_deadline(&mut self) -> Code {
        self.fail(Status::deadline_exceeded("Deadline Exceeded"))
    }

    fn on_cancel(&mut self) -> Code {
        self.ctx.terminate(Code::Cancelled);
        self.writer.reset(h2::Reason::CANCEL);
        Code::Cancelled
    }

    fn on_peer_reset(&mut self, reason: h2::Reason) -> Code {
        tracing::debug!(?reason, "client reset the stream");
        self.ctx.terminate(Code::Cancelled);
        Code::Cancelled
    }

    /// Ends the RPC with `status` (which may be OK: the handler's own).
    fn fail(&mut self, status: Status) -> Code {
        let code = status.code();
        self.ctx.terminate(code);
        self.writer.finish(&status);
        code
    }

    fn start_handler(&mut self, input: Input) {
        self._handler = dispatch(self.server, self.entry, input, &self.ctx);
    }
}

/// The next request event. Cancel-safe: for a streaming handler, room in
/// its queue is reserved before a message is taken off the stream.
async fn read_request(reader: &mut MessageReader<RecvStream>, requests: &RequestSide) -> Event {
    let permit = match requests {
        RequestSide::Streaming(tx) => match tx.reserve().await {
            Ok(permit) => Some(permit),
            // The handler stopped reading requests; leave the rest unread.
            Err(_) => return std::future::pending().await,
        },
        _ => None,
    };
    match (reader.next_message().await, permit) {
        (Ok(Some(message)), Some(permit)) => {
            let wire = WireMessage::of(&message);
            permit.send(Ok(message));
            Event::RequestForwarded(wire)
        }
        (Ok(Some(message)), None) => Event::RequestMessage(message),
        (Ok(None), _) => Event::RequestEnd,
        (Err(status), _) => Event::RequestFailed(status),
    }
}

/// Fires at the deadline; never without one.
async fn poll_deadline(deadline: &mut Option<Pin<Box<Sleep>>>) {
    match deadline {
        Some(sleep) => sleep.await,
        None => std::future::pending().await,
    }
}

pub(crate) async fn wait_for_phase(phase: &mut watch::Receiver<Phase>, wanted: Phase) {
    if phase.wait_for(|current| *current >= wanted).await.is_err() {
        std::future::pending::<()>().await;
    }
}
