//! One RPC on the wire, as an async exchange: open a stream, send the
//! request messages, read headers, messages and trailers, all bounded by the
//! call's deadline and cancellation. Both faces run this same code.

use bytes::Bytes;
use h2::RecvStream;
use h2::client::ResponseFuture;
use http::{HeaderMap, HeaderValue, Request};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use super::call::CallShared;
use super::options::CallOptions;
use crate::channel::Channel;
use crate::codec::Compression;
use crate::codec::compress::ACCEPT_ENCODING;
use crate::codec::framing::RawMessage;
use crate::codec::proto::unpack;
use crate::metadata::Metadata;
use crate::runtime::sleep_until;
use crate::stats::WireMessage;
use crate::stats::client::{AttemptNumber, AttemptTrace};
use crate::status::Status;
use crate::stream::head::message_encoding;
use crate::stream::inbox::InboxSender;
/// The DATA and trailers of a response: the stream layer's reader.
pub(crate) use crate::stream::reader::MessageReader as ResponseBody;
use crate::transport::client_watch::LastStreamId;
use crate::transport::flow::send_with_capacity;
use crate::wire::{self, status_map, timeout, trailers};

/// Request messages, already framed.
pub(crate) enum Outgoing {
    /// One message, sent with END_STREAM at once.
    One(Bytes),
    /// Messages produced elsewhere (a request iterator); an `Err` fails the call.
    Stream(mpsc::Receiver<Result<Bytes, Status>>),
    /// Messages from an async stream, encoded as they are drawn.
    Async(RequestStream),
}

/// An async request stream, already mapped to framed messages.
pub(crate) type RequestStream =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<Bytes, Status>> + Send + 'static>>;

impl Outgoing {
    /// The next framed request; `None` after the last.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, Status>> {
        match self {
            Outgoing::One(_) => None,
            Outgoing::Stream(requests) => requests.recv().await,
            Outgoing::Async(requests) => futures_util::StreamExt::next(requests).await,
        }
    }
}

/// Where received message payloads (already decompressed) go.
pub(crate) enum Delivery<'a> {
    /// Exactly one message is expected; it is stored here.
    Single(&'a mut Option<Bytes>),
    /// Any number; each is forwarded (waiting for room, so a slow consumer
    /// pushes back through HTTP/2 flow control).
    Forward(InboxSender<Bytes>),
}

impl Delivery<'_> {
    /// Hands on one received message: fails for a second message of a
    /// unary response, or when the consumer has gone.
    pub(crate) async fn deliver(&mut self, payload: Bytes) -> Result<(), Status> {
        self.stage(payload)?;
        self.flush().await
    }

    /// Takes one received message without waiting: kept (a unary
    /// response), or staged for the next [`flush`](Self::flush).
    fn stage(&mut self, payload: Bytes) -> Result<(), Status> {
        match self {
            Delivery::Single(slot) => {
                if slot.is_some() {
                    return Err(Status::internal(
                        "Received more than one message for a unary-response RPC",
                    ));
                }
                **slot = Some(payload);
            }
            Delivery::Forward(sink) => sink.stage(payload),
        }
        Ok(())
    }

    /// Hands the staged messages on, waiting for room; fails when the
    /// consumer has gone.
    async fn flush(&mut self) -> Result<(), Status> {
        match self {
            Delivery::Single(_) => Ok(()),
            Delivery::Forward(sink) => sink
                .flush()
                .await
                .map_err(|_| Status::cancelled("Locally cancelled by application!")),
        }
    }

    /// The final status, unless an OK one left a unary response without
    /// its message.
    pub(crate) fn check_end(&self, status: Status) -> Status {
        if status.is_ok()
            && let Delivery::Single(None) = self
        {
            return Status::internal("Server sent no message for a unary-response RPC");
        }
        status
    }
}

/// What a call needs to know about its method.
pub(crate) struct Invocation<'a> {
    pub(crate) channel: &'a Channel,
    pub(crate) path: &'a str,
    pub(crate) options: &'a CallOptions,
    /// The content-subtype of the call's codec (`proto`, `json`).
    pub(crate) codec: &'static str,
}

impl Invocation<'_> {
    pub(crate) fn compression(&self) -> Compression {
        self.options
            .compression
            .unwrap_or(self.channel.config().compression)
    }

    /// The call's `wait_for_ready`, or its method config's.
    fn wait_for_ready(&self) -> bool {
        self.options.wait_for_ready
            || self
                .channel
                .method_config(self.path)
                .and_then(|method| method.wait_for_ready)
                .unwrap_or(false)
    }

    /// The largest response message: the channel's limit, or the method
    /// config's when smaller.
    fn max_response_message(&self) -> usize {
        let channel = self.channel.config().max_receive_message_length;
        self.channel
            .method_config(self.path)
            .and_then(|method| method.max_response_message_bytes)
            .map_or(channel, |limit| limit.min(channel))
    }
}

/// The header that tells the server how many attempts came before.
const PREVIOUS_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

/// Runs the RPC to its end and returns its status. Initial metadata is
/// published on `call` as soon as it arrives; the caller records the final
/// status (after its own decoding) with `call.finish`.
pub(crate) async fn run(
    invocation: Invocation<'_>,
    call: &std::sync::Arc<CallShared>,
    outgoing: Outgoing,
    delivery: Delivery<'_>,
) -> Status {
    if let Some(interceptors) = &invocation.channel.interceptors {
        let interceptors = interceptors.clone();
        return super::interceptor::run(&interceptors, invocation, call, outgoing, delivery).await;
    }
    run_direct(invocation, call, outgoing, delivery).await
}

/// [`run`] past the channel's interceptors: the call on the wire.
pub(crate) async fn run_direct(
    invocation: Invocation<'_>,
    call: &CallShared,
    outgoing: Outgoing,
    delivery: Delivery<'_>,
) -> Status {
    let counted = invocation.channel.inner().channelz.call_started(); // channelz
    let status = run_counted(invocation, call, outgoing, delivery).await;
    counted.finish(status.code()); // channelz
    status
}

/// [`run`] without the channelz count.
async fn run_counted(
    invocation: Invocation<'_>,
    call: &CallShared,
    outgoing: Outgoing,
    delivery: Delivery<'_>,
) -> Status {
    // A deadline that has already passed fails the call without sending it
    // (the timer below only fires on the next tick, by which time a fast
    // exchange could have completed).
    if call
        .deadline()
        .is_some_and(|deadline| deadline <= Instant::now())
    {
        return Status::deadline_exceeded("Deadline Exceeded");
    }
    let _active = invocation.channel.inner().activity.enter(); // idle timeout, keepalive
    let started = Instant::now();
    let span = tracing::debug_span!(
        "grpc.client.call",
        method = invocation.path,
        target = invocation.channel.target()
    );
    let exchange = async {
        match &invocation.channel.config().protocol {
            // gRPC-Web or Connect, over HTTP/1.1 or HTTP/2 (no retry
            // policies: those are gRPC's).
            Some(protocol) => {
                protocol
                    .exchange(&invocation, call, outgoing, delivery)
                    .await
            }
            None => super::retry::exchange(&invocation, call, outgoing, delivery).await,
        }
    };
    let status = tokio::select! {
        biased;
        status = exchange.instrument(span.clone()) => status,
        _ = call.cancel_token().cancelled() => Status::cancelled("Locally cancelled by application!"),
        _ = invocation.channel.closed_token().cancelled() => Status::cancelled("Channel closed!"),
        _ = sleep_until(call.deadline()) => Status::deadline_exceeded("Deadline Exceeded"),
    };
    span.in_scope(|| {
        tracing::debug!(status = status.code().name(), details = status.details(), duration = ?started.elapsed(), "call finished");
    });
    status
}

/// How one attempt at the RPC ended.
pub(crate) enum Attempt {
    /// With this status, before any response headers (a Trailers-Only
    /// response, or no response at all): it may be retried.
    Ended(Status),
    /// With this status, after the response headers or a request stream
    /// error: final.
    Committed(Status),
    /// Refused by the server before it processed the request.
    Refused(Status),
}

impl Attempt {
    /// The status the attempt ended with.
    pub(crate) fn status(&self) -> &Status {
        match self {
            Attempt::Ended(status) | Attempt::Committed(status) | Attempt::Refused(status) => {
                status
            }
        }
    }
}

/// One attempt, observed by the channel's tracers; `number.previous`
/// attempts were made before it (sent to the server as
/// `grpc-previous-rpc-attempts`).
pub(crate) async fn attempt(
    invocation: &Invocation<'_>,
    call: &CallShared,
    requests: &mut super::retry::Replayable,
    delivery: &mut Delivery<'_>,
    number: AttemptNumber,
) -> Attempt {
    let trace = AttemptTrace::start(invocation, number, call.deadline());
    let (send, response, goaway) = match open(invocation, call.deadline(), number.previous).await {
        Ok(opened) => opened,
        Err(status) => {
            trace.ended(&status);
            return Attempt::Ended(status);
        }
    };
    call.set_opened();
    let outcome = {
        let sending = send_requests(send, requests, &trace);
        let receiving = receive(response, &goaway, invocation, &trace, call, delivery);
        tokio::select! {
            biased;
            attempt = receiving => attempt,
            Some(status) = sending => Attempt::Committed(status),
        }
    };
    trace.ended(outcome.status());
    outcome
}

/// Sends the attempt's requests; ends only with the status of a failed
/// request stream (the response decides every other end).
async fn send_requests(
    mut send: h2::SendStream<Bytes>,
    requests: &mut super::retry::Replayable,
    trace: &AttemptTrace,
) -> Option<Status> {
    match requests.one() {
        Some(frame) => {
            trace.sent(&frame);
            // One message: h2 buffers what the window does not admit yet.
            let _ = send.send_data(frame, true);
            // Keep the send half alive until the response is complete.
            std::future::pending::<Option<Status>>().await
        }
        None => {
            while let Some(item) = requests.next().await {
                match item {
                    Ok(frame) => {
                        trace.sent(&frame);
                        if send_with_capacity(&mut send, frame).await.is_err() {
                            // The server ended the stream; its status tells why.
                            return std::future::pending().await;
                        }
                    }
                    Err(status) => return Some(status),
                }
            }
            let _ = send.send_data(Bytes::new(), true);
            std::future::pending().await
        }
    }
}

/// Whether `error`, failing stream `stream_id` before any response, means
/// the server never processed it: a GOAWAY whose last stream id is below
/// it, or REFUSED_STREAM.
fn refused_unprocessed(error: &h2::Error, stream_id: u32, goaway: &LastStreamId) -> bool {
    error.is_remote()
        && ((error.is_go_away() && goaway.refused(stream_id))
            || (error.is_reset() && error.reason() == Some(h2::Reason::REFUSED_STREAM)))
}

/// Waits for a connection and opens a stream with the request headers.
async fn open(
    invocation: &Invocation<'_>,
    deadline: Option<Instant>,
    previous: u32,
) -> Result<(h2::SendStream<Bytes>, ResponseFuture, LastStreamId), Status> {
    let channel = invocation.channel;
    let auth = call_credentials_metadata(invocation).await?;
    // A stream that never left this process can be retried on a fresh
    // connection: the old one may have just been closed (GOAWAY, idle drop).
    let mut attempts_left = 2;
    loop {
        attempts_left -= 1;
        let mut request = build_request(invocation, deadline)?;
        if let Some(auth) = &auth {
            auth.write_headers(request.headers_mut());
        }
        if previous > 0 {
            request
                .headers_mut()
                .insert(PREVIOUS_ATTEMPTS, HeaderValue::from(previous));
        }
        let picked = channel.ready_sender(invocation.wait_for_ready()).await?;
        let result = match picked.sender.ready().await {
            Ok(mut sender) => sender.send_request(request, false),
            Err(error) => Err(error),
        };
        match result {
            Ok((response, send)) => return Ok((send, response, picked.goaway)),
            Err(error) => {
                picked.subchannel.connection_failed();
                if attempts_left == 0 {
                    return Err(unavailable(error));
                }
                tracing::debug!(%error, "connection unusable, retrying on a new one");
            }
        }
    }
}

/// The metadata of the channel's and the call's credentials, if any. They
/// only travel over TLS or local channels; a plugin's error fails the call
/// with `UNAVAILABLE` and its message, as in grpcio.
pub(crate) async fn call_credentials_metadata(
    invocation: &Invocation<'_>,
) -> Result<Option<Metadata>, Status> {
    let config = invocation.channel.config();
    let credentials: Vec<_> = config
        .call_credentials
        .iter()
        .chain(invocation.options.credentials.iter())
        .cloned()
        .collect();
    let Some(credentials) = crate::client::compose(credentials) else {
        return Ok(None);
    };
    if matches!(config.security, crate::security::ChannelSecurity::Insecure) {
        return Err(Status::unavailable(
            "Established channel does not have a sufficient security level to transfer call credential.",
        ));
    }
    let context = crate::client::AuthMetadataContext::for_call(
        config.scheme,
        invocation.channel.inner().authority.as_str(),
        invocation.path,
    );
    match credentials.metadata(&context).await {
        Ok(metadata) => Ok(Some(metadata)),
        Err(status) => Err(Status::unavailable(format!(
            "Getting metadata from plugin failed with error: {}",
            status.details()
        ))
        .with_source(status)),
    }
}

fn unavailable(error: h2::Error) -> Status {
    let mut status = status_map::from_h2_error(error);
    if status.code() != crate::Code::Unavailable {
        status = Status::unavailable(format!("connection failed: {}", status.details()));
    }
    status
}

fn build_request(
    invocation: &Invocation<'_>,
    deadline: Option<Instant>,
) -> Result<Request<()>, Status> {
    let channel = invocation.channel;
    let uri = http::Uri::builder()
        .scheme(channel.config().scheme)
        .authority(channel.inner().authority.clone())
        .path_and_query(invocation.path)
        .build()
        .map_err(|error| {
            Status::internal(format!("invalid method path {:?}", invocation.path))
                .with_source(error)
        })?;
    let mut request = Request::post(uri)
        .body(())
        .map_err(|error| Status::internal("failed to build request").with_source(error))?;
    let headers = request.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        crate::codec::message::content_type(invocation.codec),
    );
    headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
    headers.insert(
        wire::GRPC_ACCEPT_ENCODING,
        HeaderValue::from_static(ACCEPT_ENCODING),
    );
    let compression = invocation.compression();
    if compression.is_compressing() {
        headers.insert(
            wire::GRPC_ENCODING,
            HeaderValue::from_static(compression.name()),
        );
    }
    if let Some(deadline) = deadline {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if let Ok(value) = HeaderValue::from_str(&timeout::format(remaining)) {
            headers.insert(wire::GRPC_TIMEOUT, value);
        }
    }
    write_call_metadata(invocation, headers);
    Ok(request)
}

/// The user agent and the call's metadata, as request headers (the same
/// for every protocol).
pub(crate) fn write_call_metadata(invocation: &Invocation<'_>, headers: &mut HeaderMap) {
    let channel = invocation.channel;
    let metadata = &invocation.options.metadata;
    let user_agent = match metadata.get("user-agent") {
        Some(custom) => HeaderValue::from_str(&format!(
            "{custom} {}",
            channel.config().user_agent.to_str().unwrap_or("")
        ))
        .unwrap_or_else(|_| channel.config().user_agent.clone()),
        None => channel.config().user_agent.clone(),
    };
    headers.insert(http::header::USER_AGENT, user_agent);
    let mut user = HeaderMap::new();
    metadata.write_headers(&mut user);
    user.remove(http::header::USER_AGENT);
    headers.extend(user);
}

/// Reads the response: headers (or Trailers-Only), messages, trailers.
async fn receive(
    response: ResponseFuture,
    goaway: &LastStreamId,
    invocation: &Invocation<'_>,
    trace: &AttemptTrace,
    call: &CallShared,
    delivery: &mut Delivery<'_>,
) -> Attempt {
    let stream_id = u32::from(response.stream_id());
    let response = match response.await {
        Ok(response) => response,
        Err(error) if refused_unprocessed(&error, stream_id, goaway) => {
            return Attempt::Refused(status_map::from_h2_error(error));
        }
        Err(error) => return Attempt::Ended(status_map::from_h2_error(error)),
    };
    let (parts, body) = response.into_parts();
    match classify_head(&parts) {
        Head::TrailersOnly(status) => Attempt::Ended(status),
        Head::Body { initial, encoding } => {
            trace.headers(&initial);
            call.set_initial_metadata(initial);
            let received = receive_messages(body, encoding, invocation, trace, delivery).await;
            Attempt::Committed(received)
        }
    }
}

/// Reads the messages and trailers of a response whose headers arrived.
async fn receive_messages(
    body: RecvStream,
    encoding: Compression,
    invocation: &Invocation<'_>,
    trace: &AttemptTrace,
    delivery: &mut Delivery<'_>,
) -> Status {
    let max = invocation.max_response_message();
    let mut body = ResponseBody::new(body, max);
    loop {
        let first = match body.next_message().await {
            Ok(Some(raw)) => raw,
            Ok(None) => break,
            Err(status) => return status,
        };
        // Every message already received goes to the consumer in one batch
        // (those before a bad one too, as they would one by one).
        let staged = stage_buffered(first, &mut body, encoding, max, trace, delivery);
        if let Err(status) = delivery.flush().await.and(staged) {
            return status;
        }
    }
    delivery.check_end(body.status().await)
}

/// Stages `first` and the messages buffered behind it.
fn stage_buffered(
    first: RawMessage,
    body: &mut ResponseBody<RecvStream>,
    encoding: Compression,
    max: usize,
    trace: &AttemptTrace,
    delivery: &mut Delivery<'_>,
) -> Result<(), Status> {
    let mut raw = first;
    loop {
        trace.received(WireMessage::of(&raw));
        delivery.stage(unpack(raw, encoding, max)?)?;
        match body.next_buffered()? {
            Some(next) => raw = next,
            None => return Ok(()),
        }
    }
}

enum Head {
    /// A Trailers-Only response, or a non-gRPC one mapped to a status.
    TrailersOnly(Status),
    /// A normal response: messages and trailers follow.
    Body {
        initial: Metadata,
        encoding: Compression,
    },
}

fn classify_head(parts: &http::response::Parts) -> Head {
    if let Some(status) = trailers::read_status(&parts.headers) {
        return Head::TrailersOnly(status);
    }
    if parts.status != http::StatusCode::OK {
        return Head::TrailersOnly(status_map::from_http_status(parts.status));
    }
    let grpc = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| wire::is_grpc_content_type(value.as_bytes()));
    if !grpc {
        let mut status = status_map::from_http_status(parts.status);
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none");
        status = Status::new(
            status.code(),
            format!(
                "{} (content-type {content_type:?} is not gRPC)",
                status.details()
            ),
        );
        return Head::TrailersOnly(status);
    }
    let encoding = match message_encoding(parts.headers.get(wire::GRPC_ENCODING)) {
        Ok(encoding) => encoding,
        Err(name) => {
            return Head::TrailersOnly(Status::internal(format!(
                "server used unsupported grpc-encoding {name:?}"
            )));
        }
    };
    Head::Body {
        initial: Metadata::from_headers(&parts.headers),
        encoding,
    }
}
