//! One Connect or gRPC-Web call: admission (the same checks as a gRPC
//! RPC), the handler input, and the handler's [`Outbound`] events turned
//! into the protocol's response, until the status is sent, the deadline
//! passes, the client goes away, or the server stops.

use std::collections::VecDeque;
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
use super::wire::{Codec, Unsupported, Wire, strip_protocol_headers};
use crate::codec::Compression;
use crate::codec::framing::RawMessage;
use crate::codec::proto::unpack;
use crate::runtime::sleep_until;
use crate::server::context::{Outbound, RpcInfo, ServicerContext};
use crate::server::handler::{Input, MethodEntry, MethodKind};
use crate::server::lifecycle::{Phase, ServerShared};
use crate::server::rpc::{admission, dispatch, wait_for_phase};
use crate::status::{Code, Status};
use crate::wire::json::{JsonCodec, has_no_side_effects};

/// Responses queued between a handler and the call.
const OUTBOUND_QUEUE: usize = 16;
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
}

/// Serves one request that is not gRPC over HTTP/2.
pub(crate) async fn serve(
    request: Request<RequestBody>,
    sink: Sink,
    peer: Arc<Peer>,
    socket: SocketStats,
    server: Arc<ServerShared>,
    mut phase: watch::Receiver<Phase>,
) {
    let cors = &server.config().cors;
    let origin = cors.allow_origin(request.headers());
    if request.method() == http::Method::OPTIONS {
        let _ = sink
            .send(Part::Head(cors.preflight(request.headers())))
            .await;
        return;
    }
    // A Connect GET is served as the POST it stands for, once the method
    // is known to be free of side effects (below).
    let get = request.method() == http::Method::GET;
    let request = if get {
        let (parts, _) = request.into_parts();
        match get::as_post(parts) {
            Ok(request) => request,
            Err(status) => {
                tracing::debug!(%status, "not a Connect GET");
                return plain(&sink, &server, origin, StatusCode::BAD_REQUEST).await;
            }
        }
    } else {
        request
    };
    let (mut parts, body) = request.into_parts();
    if parts.method != http::Method::POST {
        return plain(&sink, &server, origin, StatusCode::METHOD_NOT_ALLOWED).await;
    }
    let content_type = parts.headers.get(http::header::CONTENT_TYPE);
    let wire = match content_type.map(Wire::for_content_type) {
        Some(Ok(wire)) => wire,
        Some(Err(Unsupported)) | None => {
            return plain(&sink, &server, origin, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        }
    };
    let counted = socket.call_started(); // channelz: counts as failed unless finished below
    let mut responder = Responder {
        sink,
        wire,
        origin,
        server: Arc::clone(&server),
        queue: VecDeque::new(),
    };
    let mut params = match responder.wire.params(&parts.headers) {
        Ok(params) => params,
        Err(status) => {
            responder.finish(&status).await;
            return;
        }
    };
    let path = parts.uri.path().to_owned();
    let (entry, _permit) = match admission(&server, &phase, &path) {
        Ok(admitted) => admitted,
        Err(status) => {
            responder.finish(&status).await;
            return;
        }
    };
    if responder.wire.is_unary() && entry.kind != MethodKind::UnaryUnary {
        let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return plain(&responder.sink, &server, responder.origin, status).await;
    }
    if get
        && !server
            .descriptors()
            .method(&path)
            .is_some_and(|method| has_no_side_effects(&method))
    {
        // Only methods marked `idempotency_level = NO_SIDE_EFFECTS`.
        let status = StatusCode::METHOD_NOT_ALLOWED;
        return plain(&responder.sink, &server, responder.origin, status).await;
    }
    if responder.wire.codec() == Codec::Json {
        let Some(method) = server.descriptors().method(&path) else {
            tracing::debug!(
                method = %path,
                "JSON request for a method without a registered descriptor (Server::add_file_descriptor_set)"
            );
            let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return plain(&responder.sink, &server, responder.origin, status).await;
        };
        responder.wire.set_json(JsonCodec::new(&method));
        // JSON responses are sent uncompressed.
        params.accepted_encodings = Default::default();
    }
    let deadline = params
        .timeout
        .and_then(|timeout| Instant::now().checked_add(timeout));
    if params.timeout == Some(Duration::ZERO) {
        responder
            .finish(&Status::deadline_exceeded("Deadline Exceeded"))
            .await;
        return;
    }
    strip_protocol_headers(&mut parts.headers);
    let config = server.config();
    let protocol = responder.wire.protocol();
    let info = RpcInfo {
        method: Arc::clone(&entry.path),
        peer: Arc::clone(&peer),
        socket,
        headers: parts.headers,
        metadata: std::sync::OnceLock::new(),
        deadline,
        request_encoding: params.request_encoding,
        accepted_encodings: params.accepted_encodings,
        response_compression: config.compression,
        max_receive_message_length: config.max_receive_message_length,
        max_send_message_length: config.max_send_message_length,
        protocol,
    };
    let reader = RequestReader::new(
        body,
        config.max_receive_message_length,
        responder.wire.is_text(),
    );
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
    let ctx = ServicerContext::new(info, out_tx);
    let span = tracing::debug_span!("grpc.server.rpc", method = %path, peer = %peer, %protocol);
    let started = Instant::now();
    let mut call = Call {
        server: &server,
        entry: &entry,
        ctx: &ctx,
        responder,
        reader,
        out_rx,
    };
    let code = call.run(&mut phase).instrument(span.clone()).await;
    ctx.terminate(code);
    counted.finish(code); // channelz
    span.in_scope(|| {
        tracing::debug!(status = code.name(), duration = ?started.elapsed(), "rpc finished");
    });
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

struct Call<'a> {
    server: &'a ServerShared,
    entry: &'a Arc<MethodEntry>,
    ctx: &'a ServicerContext,
    responder: Responder,
    reader: RequestReader,
    out_rx: mpsc::Receiver<Outbound>,
}

/// What woke the call's loop.
enum Step<'a> {
    Deadline,
    /// Cancelled by the handler or the server stopping.
    Abort,
    /// The client went away.
    Gone,
    Write(mpsc::Permit<'a, Part>),
    Event(Option<Outbound>),
    Read(ReadStep),
}

enum ReadStep {
    More,
    End,
    Failed(Status),
}

impl Call<'_> {
    /// Drives the call; returns the code the client was sent.
    async fn run(&mut self, phase: &mut watch::Receiver<Phase>) -> Code {
        let deadline = self.ctx.info().deadline;
        let (input, mut inbound) = if self.entry.kind.client_streaming() {
            let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
            (Input::Stream(rx), Some(tx))
        } else {
            let read = read_one(
                &mut self.reader,
                self.responder.wire.is_unary(),
                self.responder.wire.json(),
                self.ctx,
            );
            let outcome = tokio::select! {
                result = read => result,
                _ = sleep_until(deadline) => Err(Status::deadline_exceeded("Deadline Exceeded")),
                _ = self.responder.sink.closed() => return Code::Cancelled,
                _ = wait_for_phase(phase, Phase::Cancelling) => {
                    Err(Status::unavailable("Server is shutting down"))
                }
            };
            match outcome {
                Ok(message) => (Input::One(message), None),
                Err(status) if status.code() == Code::Cancelled => return Code::Cancelled,
                Err(status) => return self.responder.finish(&status).await,
            }
        };
        let _async_handler = dispatch(self.server, self.entry, input, self.ctx);
        let deadline_sleep = sleep_until(deadline);
        tokio::pin!(deadline_sleep);
        // A handle of our own, so a reserved slot does not borrow the responder.
        let sink = self.responder.sink.clone();
        let json = self.responder.wire.json().cloned();
        let (encoding, limit) = (
            self.ctx.info().request_encoding,
            self.ctx.info().max_receive_message_length,
        );
        loop {
            let reader = &mut self.reader;
            let json = json.as_ref();
            let reading = async {
                match inbound.as_ref() {
                    Some(tx) => {
                        pump_one(reader, tx, |raw| transcode(raw, json, encoding, limit)).await
                    }
                    None => std::future::pending().await,
                }
            };
            let responder = &mut self.responder;
            let step = tokio::select! {
                biased;
                _ = &mut deadline_sleep => Step::Deadline,
                _ = self.ctx.cancel_token().cancelled() => Step::Abort,
                _ = wait_for_phase(phase, Phase::Cancelling) => Step::Abort,
                _ = sink.closed() => Step::Gone,
                permit = sink.reserve(), if !responder.queue.is_empty() => {
                    match permit {
                        Ok(permit) => Step::Write(permit),
                        Err(_) => Step::Gone,
                    }
                }
                event = self.out_rx.recv(), if responder.queue.is_empty() => Step::Event(event),
                step = reading => Step::Read(step),
            };
            let event = match step {
                Step::Deadline => {
                    self.ctx.terminate(Code::DeadlineExceeded);
                    let status = Status::deadline_exceeded("Deadline Exceeded");
                    return responder.finish(&status).await;
                }
                Step::Abort => {
                    self.ctx.terminate(Code::Cancelled);
                    responder.abort();
                    return Code::Cancelled;
                }
                Step::Gone => {
                    tracing::debug!("client went away");
                    self.ctx.terminate(Code::Cancelled);
                    return Code::Cancelled;
                }
                Step::Write(permit) => {
                    if let Some(part) = responder.queue.pop_front() {
                        permit.send(part);
                    }
                    continue;
                }
                Step::Event(event) => event,
                Step::Read(ReadStep::More) => continue,
                Step::Read(ReadStep::End) => {
                    inbound = None; // the handler's Requests ends
                    continue;
                }
                Step::Read(ReadStep::Failed(status)) if status.code() == Code::Cancelled => {
                    self.ctx.terminate(Code::Cancelled);
                    return Code::Cancelled;
                }
                Step::Read(ReadStep::Failed(status)) => {
                    self.ctx.terminate(status.code());
                    return responder.finish(&status).await;
                }
            };
            match event {
                None => {
                    let status = Status::internal("handler ended without a status");
                    return responder.finish(&status).await;
                }
                Some(Outbound::Headers { metadata, encoding }) => {
                    let parts = responder.wire.headers(metadata, encoding);
                    responder.push(parts);
                }
                Some(Outbound::Message { frame, encoding }) => {
                    match responder.wire.message(frame, encoding) {
                        Ok(parts) => responder.push(parts),
                        Err(status) => {
                            self.ctx.terminate(status.code());
                            return responder.finish(&status).await;
                        }
                    }
                }
                Some(Outbound::Finish(status)) => {
                    self.ctx.terminate(status.code());
                    return responder.finish(&status).await;
                }
            }
        }
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
