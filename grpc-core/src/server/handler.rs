//! Typed handlers turned into one erased shape: a future that decodes the
//! input, calls the user's code, and sends every response and the final
//! status to the RPC task. A blocking handler's future is polled on the
//! worker pool (it runs user code that may block), an async handler's as a
//! task; both are the same code and speak to the RPC task the same way.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures_core::Stream;
use futures_util::{FutureExt, StreamExt};

use std::future::poll_fn;

use tokio::sync::mpsc;

use super::bursts::send_bursts;
use super::context::ServicerContext;
use super::request_stream::RequestStream;
use super::requests::Requests;
use crate::codec::framing::RawMessage;
use crate::status::Status;
use crate::stream::reader::decode_request;

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
}

fn decode_one<Req: prost::Message + Default>(
    input: Input,
    ctx: &ServicerContext,
) -> Result<Req, Status> {
    match input {
        Input::One(raw) => {
            ctx.note_request_compressed(raw.compressed);
            let info = ctx.info();
            decode_request(raw, info.request_encoding, info.max_receive_message_length)
        }
        Input::Stream(_) => Err(Status::internal("expected a single request message")),
    }
}

fn requests<Req>(input: Input, ctx: &ServicerContext) -> Requests<Req> {
    match input {
        Input::Stream(messages) => Requests::new(messages, ctx.clone()),
        Input::One(raw) => {
            // Not reached: client-streaming methods always get a stream.
            let (tx, rx) = mpsc::channel(1);
            let _ = tx.try_send(Ok(raw));
            Requests::new(rx, ctx.clone())
        }
    }
}

/// [`requests`] for async handlers.
fn request_stream<Req>(input: Input, ctx: &ServicerContext) -> RequestStream<Req> {
    match input {
        Input::Stream(messages) => RequestStream::new(messages, ctx.clone()),
        Input::One(raw) => {
            // Not reached: client-streaming methods always get a stream.
            let (tx, rx) = mpsc::channel(1);
            let _ = tx.try_send(Ok(raw));
            RequestStream::new(rx, ctx.clone())
        }
    }
}

/// Encodes one response straight into the RPC's send buffer, once it has
/// room; `Ok(false)` when the RPC is already over.
async fn send_message<Resp: prost::Message>(
    ctx: &ServicerContext,
    message: &Resp,
) -> Result<bool, Status> {
    let outbox = ctx.outbox();
    let (encoding, headers) = ctx.next_message_encoding();
    let max_len = ctx.info().max_send_message_length;
    poll_fn(|cx| outbox.poll_push(cx, message, encoding, headers, max_len)).await
}

/// A response stream drawn until it ends or the RPC is over. A blocking
/// handler's iterator comes here as a stream that is always ready: drawn
/// on a worker, it gives the worker back whenever the send buffer is full
/// (a client that does not read), and is drawn again once it has room.
/// Messages drawn while the writer is busy join one batch in the buffer.
async fn send_all<Resp, S>(ctx: &ServicerContext, responses: S) -> Result<(), Status>
where
    Resp: prost::Message,
    S: Stream<Item = Result<Resp, Status>>,
{
    let mut responses = std::pin::pin!(responses);
    while let Some(item) = responses.next().await {
        if !ctx.is_active() || !send_message(ctx, &item?).await? {
            return Ok(());
        }
    }
    Ok(())
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

pub(crate) fn unary_unary<Req, Resp, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    F: Fn(Req, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Handler::Blocking(Arc::new(move |input, ctx| {
        let f = Arc::clone(&f);
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let response = f(decode_one(input, &body_ctx)?, &body_ctx)?;
            send_message(&body_ctx, &response).await.map(drop)
        })
    }))
}

pub(crate) fn unary_stream<Req, Resp, I, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(Req, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Handler::Blocking(Arc::new(move |input, ctx| {
        let f = Arc::clone(&f);
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let responses = f(decode_one(input, &body_ctx)?, &body_ctx)?;
            send_all(&body_ctx, futures_util::stream::iter(responses)).await
        })
    }))
}

pub(crate) fn stream_unary<Req, Resp, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    F: Fn(Requests<Req>, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Handler::Blocking(Arc::new(move |input, ctx| {
        let f = Arc::clone(&f);
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let response = f(requests(input, &body_ctx), &body_ctx)?;
            send_message(&body_ctx, &response).await.map(drop)
        })
    }))
}

pub(crate) fn stream_stream<Req, Resp, I, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(Requests<Req>, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Handler::Blocking(Arc::new(move |input, ctx| {
        let f = Arc::clone(&f);
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let responses = f(requests(input, &body_ctx), &body_ctx)?;
            send_all(&body_ctx, futures_util::stream::iter(responses)).await
        })
    }))
}

pub(crate) fn unary_unary_async<Req, Resp, F, Fut>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    F: Fn(Req, ServicerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    Handler::Async(Arc::new(move |input, ctx| {
        let call = decode_one(input, &ctx).map(|request| f(request, ctx.clone()));
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let response = call?.await?;
            send_message(&body_ctx, &response).await.map(drop)
        })
    }))
}

pub(crate) fn unary_stream_async<Req, Resp, S, F, Fut>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(Req, ServicerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, Status>> + Send + 'static,
{
    Handler::Async(Arc::new(move |input, ctx| {
        let call = decode_one(input, &ctx).map(|request| f(request, ctx.clone()));
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let responses = call?.await?;
            send_bursts(&body_ctx, responses).await
        })
    }))
}

pub(crate) fn stream_unary_async<Req, Resp, F, Fut>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    F: Fn(RequestStream<Req>, ServicerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    Handler::Async(Arc::new(move |input, ctx| {
        let call = f(request_stream(input, &ctx), ctx.clone());
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let response = call.await?;
            send_message(&body_ctx, &response).await.map(drop)
        })
    }))
}

pub(crate) fn stream_stream_async<Req, Resp, S, F, Fut>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(RequestStream<Req>, ServicerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, Status>> + Send + 'static,
{
    Handler::Async(Arc::new(move |input, ctx| {
        let call = f(request_stream(input, &ctx), ctx.clone());
        let body_ctx = ctx.clone();
        run_and_finish(ctx, async move {
            let responses = call.await?;
            send_bursts(&body_ctx, responses).await
        })
    }))
}
