//! Typed handlers turned into one erased shape: a future that decodes the
//! input with the method's codec, calls the user's code, and encodes every
//! response into the RPC's send buffer. One constructor ([`handler`])
//! serves every pattern, face and codec: the request side is an
//! [`Intake`] (one message, [`Requests`], [`RequestStream`]), the response
//! side an [`Answer`] (one message, or a stream of them), and a blocking
//! handler is the same future as an async one, polled on the worker pool
//! (it runs user code that may block) instead of as a task.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures_core::Stream;
use futures_util::{FutureExt, StreamExt};

use std::future::poll_fn;

use tokio::sync::mpsc;

use super::context::ServicerContext;
use super::request_stream::RequestStream;
use super::requests::Requests;
use crate::codec::framing::RawMessage;
use crate::codec::message::{PROTO, decode_fn};
use crate::codec::{Codec, Decoder, Encoder};
use crate::status::Status;
use crate::stream::reader::decode_request;
use crate::wire::json::{Descriptors, JsonCodec as JsonTranscoder};

/// The request side of an RPC as the handler receives it.
pub(crate) enum Input {
    /// The single request of a unary-request method.
    One(RawMessage),
    /// The request stream of a client-streaming method.
    Stream(mpsc::Receiver<Result<RawMessage, Status>>),
}

/// Which of the four patterns a method follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MethodKind {
    UnaryUnary,
    UnaryStream,
    StreamUnary,
    StreamStream,
}

impl MethodKind {
    pub(crate) fn client_streaming(self) -> bool {
        matches!(self, MethodKind::StreamUnary | MethodKind::StreamStream)
    }
}

/// One handler run: its output is the final status the handler produced.
pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = Status> + Send + 'static>>;

/// Runs one RPC to completion.
#[derive(Clone)]
pub(crate) enum Handler {
    /// Its future runs user code, so it is polled on the worker pool.
    Blocking(Arc<dyn Fn(Input, ServicerContext) -> HandlerFuture + Send + Sync + 'static>),
    /// Its future is spawned as a task.
    Async(Arc<dyn Fn(Input, ServicerContext) -> HandlerFuture + Send + Sync + 'static>),
}

/// A registered method.
pub(crate) struct MethodEntry {
    pub(crate) kind: MethodKind,
    pub(crate) handler: Handler,
    /// `/package.Service/Method`, shared with every RPC's context.
    pub(crate) path: Arc<str>,
    /// The content-subtype its codec reads and writes (`proto`, `json`).
    pub(crate) codec: &'static str,
    /// The content type its gRPC responses are sent with.
    pub(crate) content_type: http::HeaderValue,
}

impl MethodEntry {
    /// How a gRPC call whose messages are in `subtype` is served: with the
    /// method's codec (`None`); for a protobuf method called with
    /// `application/grpc+json`, transcoded by the descriptors the server
    /// was given (`Server::add_file_descriptor_set`); else not at all.
    pub(crate) fn negotiate(
        &self,
        subtype: &[u8],
        descriptors: &Descriptors,
    ) -> Result<Option<JsonTranscoder>, Status> {
        let Err(status) = self.accepts(subtype) else {
            return Ok(None);
        };
        let json = self.codec == PROTO && subtype.eq_ignore_ascii_case(b"json");
        match descriptors.method(&self.path) {
            Some(method) if json => Ok(Some(JsonTranscoder::new(&method))),
            _ => Err(status),
        }
    }

    /// Whether a call whose messages are in `subtype` (`application/grpc+<subtype>`;
    /// `proto` for Connect and gRPC-Web) can be served: the method's codec
    /// must be the same, else `UNIMPLEMENTED` saying which it speaks.
    pub(crate) fn accepts(&self, subtype: &[u8]) -> Result<(), Status> {
        if subtype.eq_ignore_ascii_case(self.codec.as_bytes()) {
            return Ok(());
        }
        Err(Status::unimplemented(format!(
            "{} takes {:?} messages, not {:?} (content-subtype)",
            self.path,
            self.codec,
            String::from_utf8_lossy(subtype)
        )))
    }
}

/// Where a handler's user code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Face {
    /// On the worker pool: the code may block.
    Blocking,
    /// As a task: the code is a future.
    Async,
}

/// The request side of a handler, made from the RPC's [`Input`].
pub(crate) trait Intake<C>: Sized + Send + 'static {
    fn take(input: Input, ctx: &ServicerContext, codec: &C) -> Result<Self, Status>;
}

/// The single request of a unary-request method.
pub(crate) struct One<T>(pub(crate) T);

impl<C: Decoder<T>, T: Send + 'static> Intake<C> for One<T> {
    fn take(input: Input, ctx: &ServicerContext, codec: &C) -> Result<Self, Status> {
        let Input::One(raw) = input else {
            return Err(Status::internal("expected a single request message"));
        };
        ctx.note_request_compressed(raw.compressed);
        let info = ctx.info();
        let limit = info.max_receive_message_length;
        let decode = |bytes| codec.decode(info.request_bytes(bytes)?);
        decode_request(raw, info.request_encoding, limit, decode).map(One)
    }
}

impl<C: Decoder<T>, T: Send + 'static> Intake<C> for Requests<T> {
    fn take(input: Input, ctx: &ServicerContext, codec: &C) -> Result<Self, Status> {
        Ok(Requests::new(
            messages(input),
            ctx.clone(),
            decode_fn(codec),
        ))
    }
}

impl<C: Decoder<T>, T: Send + 'static> Intake<C> for RequestStream<T> {
    fn take(input: Input, ctx: &ServicerContext, codec: &C) -> Result<Self, Status> {
        <Requests<T> as Intake<C>>::take(input, ctx, codec).map(RequestStream::from)
    }
}

/// The request queue of a client-streaming method.
fn messages(input: Input) -> mpsc::Receiver<Result<RawMessage, Status>> {
    match input {
        Input::Stream(messages) => messages,
        Input::One(raw) => {
            // Not reached: client-streaming methods always get a stream.
            let (tx, rx) = mpsc::channel(1);
            let _ = tx.try_send(Ok(raw));
            rx
        }
    }
}

/// The response side of a handler: what it sends before its status.
pub(crate) trait Answer<C>: Send + 'static {
    fn send(
        self,
        ctx: &ServicerContext,
        codec: &C,
    ) -> impl Future<Output = Result<(), Status>> + Send;
}

/// The single response of a unary-response method.
pub(crate) struct Single<T>(pub(crate) T);

impl<C: Encoder<T>, T: Send + Sync + 'static> Answer<C> for Single<T> {
    async fn send(self, ctx: &ServicerContext, codec: &C) -> Result<(), Status> {
        send_message(ctx, codec, &self.0).await.map(drop)
    }
}

/// The responses of a server-streaming method. A blocking handler's
/// iterator comes here as a stream that is always ready: drawn on a
/// worker, it gives the worker back whenever the send buffer is full (a
/// client that does not read), and is drawn again once it has room.
pub(crate) struct Many<S>(pub(crate) S);

impl<C, T, S> Answer<C> for Many<S>
where
    C: Encoder<T>,
    T: Send + Sync + 'static,
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    async fn send(self, ctx: &ServicerContext, codec: &C) -> Result<(), Status> {
        let mut responses = std::pin::pin!(self.0);
        while let Some(item) = responses.next().await {
            if !ctx.is_active() || !send_message(ctx, codec, &item?).await? {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Encodes one response straight into the RPC's send buffer, once it has
/// room; `Ok(false)` when the RPC is already over. Messages pushed while
/// the writer is busy join one batch in the buffer.
async fn send_message<C: Encoder<T>, T>(
    ctx: &ServicerContext,
    codec: &C,
    message: &T,
) -> Result<bool, Status> {
    let outbox = ctx.outbox();
    if !poll_fn(|cx| outbox.poll_ready(cx)).await {
        return Ok(false);
    }
    let (encoding, headers) = ctx.next_message_encoding();
    let limit = ctx.info().max_send_message_length;
    match &ctx.info().json {
        None => outbox.push(codec, message, encoding, headers, limit),
        Some(json) => {
            let codec = ToJson {
                inner: codec.clone(),
                json: json.clone(),
            };
            outbox.push(&codec, message, encoding, headers, limit)
        }
    }
}

/// A method's codec, its output transcoded to JSON (a protobuf method
/// answering `application/grpc+json`).
#[derive(Clone)]
struct ToJson<C> {
    inner: C,
    json: JsonTranscoder,
}

impl<C: Codec> Codec for ToJson<C> {
    fn name(&self) -> &'static str {
        "json"
    }
}

impl<C: Encoder<T>, T> Encoder<T> for ToJson<C> {
    fn encode(&self, message: &T, buf: &mut bytes::BytesMut) -> Result<(), Status> {
        let mut proto = bytes::BytesMut::new();
        self.inner.encode(message, &mut proto)?;
        buf.extend_from_slice(&self.json.response_to_json(&proto)?);
        Ok(())
    }
}

/// A handler panic as grpcio reports an exception: `UNKNOWN`.
fn panic_status(ctx: &ServicerContext, panic: Box<dyn std::any::Any + Send>) -> Status {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    tracing::error!(method = ctx.method(), %message, "handler panicked");
    Status::unknown(format!("Exception calling application: {message}"))
}

/// Runs `body`, turning a panic into `UNKNOWN` as grpcio turns exceptions;
/// the future's output is the status the handler ended with (what the RPC
/// sends, unless it ended first).
fn run_and_finish<B>(ctx: ServicerContext, body: B) -> HandlerFuture
where
    B: Future<Output = Result<(), Status>> + Send + 'static,
{
    Box::pin(async move {
        let result = AssertUnwindSafe(body)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(panic_status(&ctx, panic)));
        ctx.final_status(result)
    })
}

/// The one handler constructor: every RPC decodes its [`Intake`] with
/// `codec`, runs `user` (inside the handler's future, so a blocking
/// handler's code runs on a worker), and sends its [`Answer`].
pub(crate) fn handler<C, In, Out, F, Fut>(face: Face, codec: C, user: F) -> Handler
where
    C: Codec,
    In: Intake<C>,
    Out: Answer<C>,
    F: Fn(In, ServicerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Out, Status>> + Send + 'static,
{
    let user = Arc::new(user);
    let run = Arc::new(move |input: Input, ctx: ServicerContext| {
        let user = Arc::clone(&user);
        let codec = codec.clone();
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let intake = In::take(input, &body_ctx, &codec)?;
            let answer = user(intake, body_ctx.clone()).await?;
            answer.send(&body_ctx, &codec).await
        })
    });
    match face {
        Face::Blocking => Handler::Blocking(run),
        Face::Async => Handler::Async(run),
    }
}
