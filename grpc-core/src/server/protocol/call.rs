//! One Connect or gRPC-Web call: admission (the same checks as a gRPC
//! RPC), the handler input, and the handler's output (taken from the
//! RPC's [`Outbox`](crate::stream::outbox::Outbox)) turned into the
//! protocol's response, until the status is sent, the deadline passes, the
//! client goes away, or the server stops.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::channelz::SocketStats;
use crate::security::auth::Peer;

use http::{HeaderValue, Request, Response, StatusCode};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::body::{Part, RequestBody, Sink};
use super::get;
use super::reader::RequestReader;
use super::wire::{Codec, Params, Unsupported, Wire, strip_protocol_headers};
use crate::codec::Compression;
use crate::codec::framing::RawMessage;
use crate::codec::proto::unpack;
use crate::runtime::sleep_until;
use crate::server::context::{RpcInfo, ServicerContext};
use crate::server::dispatch::dispatch;
use crate::server::handler::{Input, MethodEntry, MethodKind};
use crate::server::lifecycle::{Phase, RpcPermit, ServerShared};
use crate::server::rpc::{admission, wait_for_phase};
use crate::status::{Code, Status};
use crate::stream::head::RequestHead;
use crate::stream::outbox::{End, Taken};
use crate::wire::json::{JsonCodec, has_no_side_effects};

/// Requests decoded ahead of a client-streaming handler.
const INBOUND_QUEUE: usize = 4;
/// How long the last part of a response may wait for a client that does
/// not read before the call gives up on it.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// The response side of a call: the writer of its protocol, and the
/// queue of parts not yet taken by the connection.
struct Responder {
    sink: Sink,
    wire: Wire,
    /// `Access-Control-Allow-Origin` for a browser on an allowed origin.
    origin: Option<HeaderValue>,
    server: Arc<ServerShared>,
    queue: VecDeque<Part>,
}

impl Responder {
    fn push(&mut self, parts: Vec<Part>) {
        for mut part in parts {
            if let (Part::Head(head), Some(origin)) = (&mut part, &self.origin) {
                self.server
                    .config()
                    .cors
                    .decorate(origin, head.headers_mut());
            }
            self.queue.push_back(part);
        }
    }

    /// Sends everything queued; false when the client is gone.
    async fn flush(&mut self) -> bool {
        while let Some(part) = self.queue.pop_front() {
            if self.sink.send(part).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Ends the call with `status`, waiting a bounded time for the client.
    async fn finish(&mut self, status: &Status) -> Code {
        let parts = self.wire.finish(status);
        self.push(parts);
        let _ = tokio::time::timeout(FINAL_FLUSH, self.flush()).await;
        status.code()
    }

    /// Makes the client see the call fail (stream reset / connection closed).
    fn abort(&mut self) {
        self.queue.clear();
        let _ = self.sink.try_send(Part::Abort);
    }

    /// Answers with a bare HTTP status (no RPC took place).
    async fn plain(self, status: StatusCode) {
        plain(&self.sink, &self.server, self.origin, status).await;
    }
}

/// Why a request is answered without running its method.
enum Refusal {
    /// With a bare HTTP status.
    Http(StatusCode),
    /// With a status in the protocol's terms.
    Rpc(Status),
}

/// Serves one request that is not gRPC over HTTP/2.
pub(crate) async fn serve(
    request: Request<RequestBody>,
    sink: Sink,
    peer: Arc<Peer>,
    socket: SocketStats,
    server: Arc<ServerShared>,
    phase: watch::Receiver<Phase>,
) {
    let cors = &server.config().cors;
    let origin = cors.allow_origin(request.headers());
    if request.method() == http::Method::OPTIONS {
        let _ = sink
            .send(Part::Head(cors.preflight(request.headers())))
            .await;
        return;
    }
    let (request, get) = match as_post(request) {
        Ok(posted) => posted,
        Err(status) => return plain(&sink, &server, origin, status).await,
    };
    let (mut parts, body) = request.into_parts();
    let wire = match wire_of(&parts) {
        Ok(wire) => wire,
        Err(status) => return plain(&sink, &server, origin, status).await,
    };
    let counted = socket.call_started(); // channelz: counts as failed unless finished below
    let mut responder = Responder {
        sink,
        wire,
        origin,
        server: Arc::clone(&server),
        queue: VecDeque::new(),
    };
    let path = parts.uri.path().to_owned();
    let (entry, _permit, params) = match accept(&server, &phase, &mut responder.wire, &parts, get) {
        Ok(accepted) => accepted,
        Err(Refusal::Http(status)) => return responder.plain(status).await,
        Err(Refusal::Rpc(status)) => {
            responder.finish(&status).await;
            return;
        }
    };
    if params.timeout == Some(Duration::ZERO) {
        let status = Status::deadline_exceeded("Deadline Exceeded");
        responder.finish(&status).await;
        return;
    }
    strip_protocol_headers(&mut parts.headers);
    let head = RequestHead {
        deadline: params
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout)),
        encoding: params.request_encoding,
        accepted: params.accepted_encodings,
    };
    let protocol = responder.wire.protocol();
    let info = RpcInfo::new(&server, &entry, peer, socket, parts.headers, head, protocol);
    let reader = RequestReader::new(
        body,
        info.max_receive_message_length,
        responder.wire.is_text(),
    );
    let call = Call {
        server: &server,
        entry: &entry,
        ctx: &ServicerContext::new(info),
        responder,
        reader,
        inbound: None,
        phase,
    };
    let code = run_call(call, &path).await;
    counted.finish(code); // channelz
}

/// Runs an admitted call to its end, traced; its status code.
async fn run_call(mut call: Call<'_>, path: &str) -> Code {
    let ctx = call.ctx.clone();
    let info = ctx.info();
    let span = tracing::debug_span!("grpc.server.rpc", method = %path, peer = %info.peer, protocol = %info.protocol);
    let started = Instant::now();
    let code = call.run().instrument(span.clone()).await;
    ctx.terminate(code);
    ctx.outbox().close();
    span.in_scope(|| {
        tracing::debug!(status = code.name(), duration = ?started.elapsed(), "rpc finished");
    });
    code
}

/// A Connect GET as the POST it stands for (served once the method is
/// known to be free of side effects, in [`accept`]); true when it was one.
fn as_post(request: Request<RequestBody>) -> Result<(Request<RequestBody>, bool), StatusCode> {
    if request.method() != http::Method::GET {
        return Ok((request, false));
    }
    let (parts, _) = request.into_parts();
    match get::as_post(parts) {
        Ok(request) => Ok((request, true)),
        Err(status) => {
            tracing::debug!(%status, "not a Connect GET");
            Err(StatusCode::BAD_REQUEST)
        }
    }
}

/// The protocol of a POST, from its content type.
fn wire_of(parts: &http::request::Parts) -> Result<Wire, StatusCode> {
    if parts.method != http::Method::POST {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    match parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .map(Wire::for_content_type)
    {
        Some(Ok(wire)) => Ok(wire),
        Some(Err(Unsupported)) | None => Err(StatusCode::UNSUPPORTED_MEDIA_TYPE),
    }
}

/// Admits the call: its parameters, the method, and what the method
/// allows (Connect unary only for unary methods, GET only without side
/// effects, JSON only with a descriptor).
fn accept<'a>(
    server: &'a ServerShared,
    phase: &watch::Receiver<Phase>,
    wire: &mut Wire,
    parts: &http::request::Parts,
    get: bool,
) -> Result<(Arc<MethodEntry>, RpcPermit<'a>, Params), Refusal> {
    let path = parts.uri.path();
    let mut params = wire.params(&parts.headers).map_err(Refusal::Rpc)?;
    let (entry, permit) = admission(server, phase, path).map_err(Refusal::Rpc)?;
    // The handler gets protobuf (Connect's JSON transcoded), or Connect's
    // JSON as it is when the method itself speaks JSON.
    let json_method = wire.codec() == Codec::Json && entry.accepts(b"json").is_ok();
    if !json_method {
        entry.accepts(b"proto").map_err(Refusal::Rpc)?;
    }
    if wire.is_unary() && entry.kind != MethodKind::UnaryUnary {
        return Err(Refusal::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let method = server.descriptors().method(path);
    if get && !method.as_ref().is_some_and(has_no_side_effects) {
        // Only methods marked `idempotency_level = NO_SIDE_EFFECTS`.
        return Err(Refusal::Http(StatusCode::METHOD_NOT_ALLOWED));
    }
    if wire.codec() == Codec::Json && !json_method {
        let Some(method) = method else {
            tracing::debug!(
                method = %path,
                "JSON request for a method without a registered descriptor (Server::add_file_descriptor_set)"
            );
            return Err(Refusal::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        };
        wire.set_json(JsonCodec::new(&method));
    }
    if wire.codec() == Codec::Json {
        // JSON responses are sent uncompressed.
        params.accepted_encodings = Default::default();
    }
    Ok((entry, permit, params))
}

/// Answers with a bare HTTP status (no RPC took place).
async fn plain(
    sink: &Sink,
    server: &ServerShared,
    origin: Option<HeaderValue>,
    status: StatusCode,
) {
    let mut response = Response::new(());
    *response.status_mut() = status;
    if let Some(origin) = origin {
        server
            .config()
            .cors
            .decorate(&origin, response.headers_mut());
    }
    let _ = sink.send(Part::Head(response)).await;
}

/// One admitted call.
struct Call<'a> {
    server: &'a ServerShared,
    entry: &'a Arc<MethodEntry>,
    ctx: &'a ServicerContext,
    responder: Responder,
    reader: RequestReader,
    /// The client-streaming handler's requests, until they end.
    inbound: Option<mpsc::Sender<Result<RawMessage, Status>>>,
    phase: watch::Receiver<Phase>,
}

/// What woke the call's loop.
enum Step<'a> {
    Deadline,
    /// Cancelled by the handler or the server stopping.
    Abort,
    /// The client went away.
    Gone,
    Write(mpsc::Permit<'a, Part>),
    Output(Taken),
    Read(ReadStep),
}

enum ReadStep {
    More,
    End,
    Failed(Status),
}

impl Call<'_> {
    /// Drives the call; returns the code the client was sent.
    async fn run(&mut self) -> Code {
        let input = if self.entry.kind.client_streaming() {
            let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
            self.inbound = Some(tx);
            Input::Stream(rx)
        } else {
            match self.read_unary().await {
                Ok(message) => Input::One(message),
                Err(status) if status.code() == Code::Cancelled => return Code::Cancelled,
                Err(status) => return self.responder.finish(&status).await,
            }
        };
        let _async_handler = dispatch(self.server, self.entry, input, self.ctx);
        let deadline = sleep_until(self.ctx.info().deadline);
        tokio::pin!(deadline);
        // A handle of our own, so a reserved slot does not borrow the responder.
        let sink = self.responder.sink.clone();
        loop {
            let step = self.next_step(&sink, deadline.as_mut()).await;
            if let Some(code) = self.on_step(step).await {
                return code;
            }
        }
    }

    /// The request of a unary-request method, bounded by the deadline, the
    /// client going away (`CANCELLED`) and the server stopping.
    async fn read_unary(&mut self) -> Result<RawMessage, Status> {
        let read = read_one(
            &mut self.reader,
            self.responder.wire.is_unary(),
            self.responder.wire.json(),
            self.ctx,
        );
        tokio::select! {
            result = read => result,
            _ = sleep_until(self.ctx.info().deadline) => Err(Status::deadline_exceeded("Deadline Exceeded")),
            _ = self.responder.sink.closed() => Err(Status::cancelled("the client went away")),
            _ = wait_for_phase(&mut self.phase, Phase::Cancelling) => {
                Err(Status::unavailable("Server is shutting down"))
            }
        }
    }

    /// Waits for what the call must act on next; the ends of the call first.
    async fn next_step<'s>(
        &mut self,
        sink: &'s Sink,
        deadline: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> Step<'s> {
        let (encoding, limit) = (
            self.ctx.info().request_encoding,
            self.ctx.info().max_receive_message_length,
        );
        let json = self.responder.wire.json().cloned();
        let (reader, inbound) = (&mut self.reader, &self.inbound);
        let reading = async {
            match inbound {
                Some(tx) => {
                    let json = json.as_ref();
                    pump_one(reader, tx, |raw| transcode(raw, json, encoding, limit)).await
                }
                None => std::future::pending().await,
            }
        };
        let outbox = self.ctx.outbox();
        let queued = !self.responder.queue.is_empty();
        tokio::select! {
            biased;
            _ = deadline => Step::Deadline,
            _ = self.ctx.cancel_token().cancelled() => Step::Abort,
            _ = wait_for_phase(&mut self.phase, Phase::Cancelling) => Step::Abort,
            _ = sink.closed() => Step::Gone,
            permit = sink.reserve(), if queued => match permit {
                Ok(permit) => Step::Write(permit),
                Err(_) => Step::Gone,
            },
            taken = poll_fn(|cx| outbox.poll_take(cx)), if !queued => Step::Output(taken),
            step = reading => Step::Read(step),
        }
    }

    /// Acts on one step; `Some(code)` when it ended the call.
    async fn on_step(&mut self, step: Step<'_>) -> Option<Code> {
        let responder = &mut self.responder;
        match step {
            Step::Deadline => {
                self.ctx.terminate(Code::DeadlineExceeded);
                let status = Status::deadline_exceeded("Deadline Exceeded");
                Some(responder.finish(&status).await)
            }
            Step::Abort => {
                self.ctx.terminate(Code::Cancelled);
                responder.abort();
                Some(Code::Cancelled)
            }
            Step::Gone => {
                tracing::debug!("client went away");
                self.ctx.terminate(Code::Cancelled);
                Some(Code::Cancelled)
            }
            Step::Write(permit) => {
                if let Some(part) = responder.queue.pop_front() {
                    permit.send(part);
                }
                None
            }
            Step::Output(taken) => self.on_output(taken).await,
            Step::Read(ReadStep::More) => None,
            Step::Read(ReadStep::End) => {
                self.inbound = None; // the handler's Requests ends
                None
            }
            Step::Read(ReadStep::Failed(status)) if status.code() == Code::Cancelled => {
                self.ctx.terminate(Code::Cancelled);
                Some(Code::Cancelled)
            }
            Step::Read(ReadStep::Failed(status)) => Some(self.end(&status).await),
        }
    }

    /// The handler's headers, messages and end, in the protocol's terms.
    async fn on_output(&mut self, taken: Taken) -> Option<Code> {
        self.ctx.info().socket.sent_messages(taken.messages); // channelz
        let responder = &mut self.responder;
        if let Some((metadata, encoding)) = taken.headers {
            let parts = responder.wire.headers(metadata, encoding);
            responder.push(parts);
        }
        if let Some((frames, encoding)) = taken.data {
            match responder.wire.message(frames, encoding) {
                Ok(parts) => responder.push(parts),
                Err(status) => return Some(self.end(&status).await),
            }
        }
        match taken.end? {
            End::Finished(status) => Some(self.end(&status).await),
            End::HandlerGone => {
                let status = Status::internal("handler ended without a status");
                Some(self.end(&status).await)
            }
        }
    }

    /// Ends the call with `status`.
    async fn end(&mut self, status: &Status) -> Code {
        self.ctx.terminate(status.code());
        self.responder.finish(status).await
    }
}

/// The single request of a unary-request method: the whole body for
/// Connect unary, else exactly one envelope.
async fn read_one(
    reader: &mut RequestReader,
    whole_body: bool,
    json: Option<&JsonCodec>,
    ctx: &ServicerContext,
) -> Result<RawMessage, Status> {
    let info = ctx.info();
    let raw = if whole_body {
        let payload = reader.read_all(info.max_receive_message_length).await?;
        RawMessage {
            compressed: info.request_encoding.is_compressing(),
            payload,
        }
    } else {
        reader.only_message().await?
    };
    transcode(
        raw,
        json,
        info.request_encoding,
        info.max_receive_message_length,
    )
}

/// A request message in JSON as the protobuf bytes handlers decode.
fn transcode(
    raw: RawMessage,
    json: Option<&JsonCodec>,
    encoding: Compression,
    limit: usize,
) -> Result<RawMessage, Status> {
    let Some(json) = json else {
        return Ok(raw);
    };
    let payload = unpack(raw, encoding, limit)?;
    Ok(RawMessage {
        compressed: false,
        payload: json.request_to_proto(&payload)?,
    })
}

/// Moves one request message to the handler. Cancel-safe: room in the
/// queue is reserved before a message is taken off the body.
async fn pump_one(
    reader: &mut RequestReader,
    tx: &mpsc::Sender<Result<RawMessage, Status>>,
    transcode: impl FnOnce(RawMessage) -> Result<RawMessage, Status>,
) -> ReadStep {
    let Ok(permit) = tx.reserve().await else {
        // The handler stopped reading requests; leave the rest unread.
        return std::future::pending().await;
    };
    let next = reader.next_message().await;
    match next.and_then(|message| message.map(transcode).transpose()) {
        Ok(Some(message)) => {
            permit.send(Ok(message));
            ReadStep::More
        }
        Ok(None) => ReadStep::End,
        Err(status) => {
            permit.send(Err(status.clone()));
            ReadStep::Failed(status)
        }
    }
}
