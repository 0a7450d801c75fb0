//! Typed handlers turned into one erased shape: a function that runs on a
//! worker thread, decodes the input, calls the user's code, and sends every
//! response and the final status to the RPC task.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::context::{Outbound, ServicerContext};
use super::requests::Requests;
use crate::codec::framing::RawMessage;
use crate::codec::proto::{decode_message, encode_frame};
use crate::runtime::wait;
use crate::status::{Code, Status};

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

/// Runs one RPC to completion on a worker thread.
pub(crate) type Handler = Arc<dyn Fn(Input, ServicerContext) + Send + Sync + 'static>;

/// A registered method.
pub(crate) struct MethodEntry {
    pub(crate) kind: MethodKind,
    pub(crate) handler: Handler,
}

fn decode_one<Req: prost::Message + Default>(
    input: Input,
    ctx: &ServicerContext,
) -> Result<Req, Status> {
    match input {
        Input::One(raw) => {
            let info = ctx.info();
            decode_message(raw, info.request_encoding, info.max_receive_message_length).map_err(
                |status| match status.code() {
                    Code::Internal => Status::internal("Exception deserializing request!"),
                    _ => status,
                },
            )
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

/// Encodes and queues one response; `Ok(false)` when the RPC is already over.
fn send_message<Resp: prost::Message>(
    ctx: &ServicerContext,
    message: &Resp,
) -> Result<bool, Status> {
    let (encoding, headers) = ctx.next_message_encoding();
    let frame = encode_frame(message, encoding, ctx.info().max_send_message_length)?;
    let sent = wait(ctx.outbound().send(Outbound::Message {
        frame,
        encoding: headers,
    }));
    Ok(sent.is_ok())
}

/// Draws a response iterator, stopping as soon as the RPC is over.
fn send_all<Resp, I>(ctx: &ServicerContext, responses: I) -> Result<(), Status>
where
    Resp: prost::Message,
    I: Iterator<Item = Result<Resp, Status>>,
{
    for item in responses {
        if !ctx.is_active() {
            return Ok(());
        }
        if !send_message(ctx, &item?)? {
            return Ok(());
        }
    }
    Ok(())
}

/// Runs `body`, turning a panic into `UNKNOWN` as grpcio turns exceptions,
/// then sends the final status.
fn run_and_finish(ctx: &ServicerContext, body: impl FnOnce() -> Result<(), Status>) {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        tracing::error!(method = ctx.method(), %message, "handler panicked");
        Err(Status::unknown(format!(
            "Exception calling application: {message}"
        )))
    });
    if !ctx.is_active() {
        return; // deadline, cancellation or stop already answered the client
    }
    let status = ctx.final_status(result);
    let _ = wait(ctx.outbound().send(Outbound::Finish(status)));
}

pub(crate) fn unary_unary<Req, Resp, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    F: Fn(Req, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
{
    Arc::new(move |input, ctx| {
        run_and_finish(&ctx, || {
            let response = f(decode_one(input, &ctx)?, &ctx)?;
            send_message(&ctx, &response).map(drop)
        })
    })
}

pub(crate) fn unary_stream<Req, Resp, I, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(Req, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
{
    Arc::new(move |input, ctx| {
        run_and_finish(&ctx, || {
            let responses = f(decode_one(input, &ctx)?, &ctx)?;
            send_all(&ctx, responses)
        })
    })
}

pub(crate) fn stream_unary<Req, Resp, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    F: Fn(Requests<Req>, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
{
    Arc::new(move |input, ctx| {
        run_and_finish(&ctx, || {
            let response = f(requests(input, &ctx), &ctx)?;
            send_message(&ctx, &response).map(drop)
        })
    })
}

pub(crate) fn stream_stream<Req, Resp, I, F>(f: F) -> Handler
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
    I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(Requests<Req>, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
{
    Arc::new(move |input, ctx| {
        run_and_finish(&ctx, || {
            let responses = f(requests(input, &ctx), &ctx)?;
            send_all(&ctx, responses)
        })
    })
}
