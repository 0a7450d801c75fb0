//! grpc.aio's call objects for client-streaming and bidi RPCs started
//! without a request stream: the caller feeds them with awaited `write()`s
//! and ends the requests with `done_writing()`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

use super::call::Call;
use super::response_stream::ResponseStream;
use super::unary_call::UnaryCall;
use super::write::{WithOptions, WriteOptions};
use crate::status::{RpcError, Status};

/// Written messages waiting for the connection: one, so a `write()`
/// returns only once the previous message is on its way (HTTP/2 flow
/// control pushes back on the writer).
const WRITE_QUEUE: usize = 1;

/// The sending end of the queue to the RPC.
pub(super) type RequestSender = mpsc::Sender<Result<Bytes, Status>>;

/// The queue to the RPC; `None` after `done_writing`.
type SenderSlot = Arc<Mutex<Option<RequestSender>>>;

/// Frames one request with the call's codec and options.
pub(super) type EncodeFn<Req> =
    Arc<dyn Fn(&Req, WriteOptions) -> Result<Bytes, Status> + Send + Sync>;

/// The request side of a call started with `start_async`: awaited
/// `write()`s, then `done_writing()`. Cheap to clone, so one task can write
/// while another reads the responses; every clone writes to the same RPC.
pub struct RequestWriter<Req> {
    encode: EncodeFn<Req>,
    call: Call,
    sender: SenderSlot,
}

impl<Req> RequestWriter<Req> {
    /// The queue between the writers and the RPC.
    pub(super) fn queue() -> (RequestSender, mpsc::Receiver<Result<Bytes, Status>>) {
        mpsc::channel(WRITE_QUEUE)
    }

    /// A writer for `call`, whose RPC draws its requests from `sender`'s queue.
    pub(super) fn new(
        encode: EncodeFn<Req>,
        call: Call,
        sender: RequestSender,
    ) -> RequestWriter<Req> {
        RequestWriter {
            encode,
            call,
            sender: Arc::new(Mutex::new(Some(sender))),
        }
    }

    /// The queue to the RPC, unless writing is done.
    fn sender(&self) -> Option<RequestSender> {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Ends the requests (half-close): the server's request stream ends
    /// once the messages written so far are sent. Idempotent; a `write()`
    /// after it fails.
    pub fn done_writing(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Why a write found the RPC over.
    async fn ended(&self) -> RpcError {
        let status = self.call.shared().status_async().await;
        if status.is_ok() {
            RpcError::from(Status::failed_precondition(
                "write after the RPC had already ended",
            ))
        } else {
            self.call.shared().error(status)
        }
    }
}

impl<Req> RequestWriter<Req> {
    /// Sends one request message (or a [`WithOptions`] for per-message
    /// options), waiting while HTTP/2 flow control holds the previous one
    /// back. Fails with the RPC's status when the RPC has ended, and with
    /// `FAILED_PRECONDITION` after [`done_writing`](Self::done_writing).
    pub async fn write(&self, message: impl Into<WithOptions<Req>>) -> Result<(), RpcError> {
        let Some(sender) = self.sender() else {
            return Err(RpcError::from(Status::failed_precondition(
                "write after done_writing",
            )));
        };
        let (message, options) = message.into().into_parts();
        let frame = match (self.encode)(&message, options) {
            Ok(frame) => frame,
            Err(status) => {
                // A message that cannot be sent fails the RPC, as a failing
                // request iterator does.
                let _ = sender.send(Err(status.clone())).await;
                return Err(self.call.shared().error(status));
            }
        };
        // A cancelled RPC takes no more messages, even while its task has
        // not yet seen the cancellation.
        if self.call.shared().cancel_token().is_cancelled() || sender.send(Ok(frame)).await.is_err()
        {
            return Err(self.ended().await);
        }
        Ok(())
    }
}

impl<Req> Clone for RequestWriter<Req> {
    fn clone(&self) -> Self {
        RequestWriter {
            encode: Arc::clone(&self.encode),
            call: self.call.clone(),
            sender: Arc::clone(&self.sender),
        }
    }
}

impl<Req> std::fmt::Debug for RequestWriter<Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestWriter")
            .field("call", &self.call)
            .field("done_writing", &self.sender().is_none())
            .finish()
    }
}

/// The write side every `start_async` call object shares.
macro_rules! writer_methods {
    () => {
        /// Sends one request message; see [`RequestWriter::write`].
        pub async fn write(
            &self,
            message: impl Into<$crate::WithOptions<Req>>,
        ) -> Result<(), $crate::RpcError> {
            self.writer.write(message).await
        }

        /// Ends the requests (half-close); see [`RequestWriter::done_writing`].
        pub fn done_writing(&self) {
            self.writer.done_writing();
        }

        /// A handle that writes to this call from elsewhere (another task).
        pub fn writer(&self) -> RequestWriter<Req> {
            self.writer.clone()
        }
    };
}

/// The call methods, answered by the call object in `$field`.
macro_rules! call_methods {
    ($field:ident) => {
        /// The server's initial metadata, once it arrives.
        pub async fn initial_metadata(&self) -> $crate::Metadata {
            self.$field.initial_metadata().await
        }

        /// The server's trailing metadata, once the RPC ends.
        pub async fn trailing_metadata(&self) -> $crate::Metadata {
            self.$field.trailing_metadata().await
        }

        /// The status code, once the RPC ends.
        pub async fn code(&self) -> $crate::Code {
            self.$field.code().await
        }

        /// The status details, once the RPC ends.
        pub async fn details(&self) -> String {
            self.$field.details().await
        }

        /// Waits until the RPC is under way on a connection; `Err` when it
        /// failed before (grpc.aio's `wait_for_connection`).
        pub async fn wait_for_connection(&self) -> Result<(), $crate::RpcError> {
            self.$field.wait_for_connection().await
        }

        /// True while the RPC has not ended.
        pub fn is_active(&self) -> bool {
            self.$field.is_active()
        }

        /// Time left before the deadline, if there is one.
        pub fn time_remaining(&self) -> Option<std::time::Duration> {
            self.$field.time_remaining()
        }

        /// Cancels the RPC: it ends with `CANCELLED` on both sides.
        pub fn cancel(&self) {
            self.$field.cancel();
        }

        /// Runs `callback` when the RPC ends; false if it already has.
        pub fn add_callback(&self, callback: impl FnOnce() + Send + 'static) -> bool {
            self.$field.add_callback(callback)
        }

        /// The blocking [`Call`] view of the same RPC.
        pub fn call(&self) -> &Call {
            self.$field.call()
        }
    };
}

/// A client-streaming RPC fed by `write()`s (grpc.aio's
/// `StreamUnaryCall` started without a request iterator). Awaiting it
/// gives the response; dropping it before the end cancels the RPC.
///
/// ```no_run
/// # async fn demo(record: grpc_core::StreamUnary<String, String>) -> Result<(), grpc_core::RpcError> {
/// let call = record.start_async();
/// call.write("a".to_string()).await?;
/// call.write(grpc_core::WithOptions::uncompressed("b".to_string())).await?;
/// call.done_writing();
/// let summary = call.await?;
/// # Ok(()) }
/// ```
pub struct StreamUnaryCall<Req, Resp> {
    response: UnaryCall<Resp>,
    writer: RequestWriter<Req>,
}

impl<Req, Resp> StreamUnaryCall<Req, Resp> {
    pub(super) fn new(response: UnaryCall<Resp>, writer: RequestWriter<Req>) -> Self {
        StreamUnaryCall { response, writer }
    }

    call_methods!(response);
}

impl<Req, Resp> StreamUnaryCall<Req, Resp> {
    writer_methods!();
}

impl<Req, Resp> Future for StreamUnaryCall<Req, Resp> {
    type Output = Result<Resp, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().response).poll(cx)
    }
}

impl<Req, Resp> std::fmt::Debug for StreamUnaryCall<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamUnaryCall")
            .field("call", self.response.call())
            .finish()
    }
}

/// A bidi RPC fed by `write()`s (grpc.aio's `StreamStreamCall` started
/// without a request iterator): a [`Stream`] of the responses (or
/// `read().await`) that also writes. Dropping it before the end cancels
/// the RPC.
///
/// ```no_run
/// # async fn demo(chat: grpc_core::StreamStream<String, String>) -> Result<(), grpc_core::RpcError> {
/// let mut call = chat.start_async();
/// call.write("hello".to_string()).await?;
/// let reply = call.read().await;
/// call.done_writing();
/// while let Some(reply) = call.read().await {
///     println!("{}", reply?);
/// }
/// # Ok(()) }
/// ```
pub struct StreamStreamCall<Req, Resp> {
    responses: ResponseStream<Resp>,
    writer: RequestWriter<Req>,
}

impl<Req, Resp> StreamStreamCall<Req, Resp> {
    pub(super) fn new(responses: ResponseStream<Resp>, writer: RequestWriter<Req>) -> Self {
        StreamStreamCall { responses, writer }
    }

    call_methods!(responses);
}

impl<Req, Resp> StreamStreamCall<Req, Resp> {
    writer_methods!();
}

impl<Req, Resp> StreamStreamCall<Req, Resp> {
    /// The next response (grpc.aio's `read()`): `None` after the last; an
    /// RPC failure is the last item.
    pub async fn read(&mut self) -> Option<Result<Resp, RpcError>> {
        self.responses.read().await
    }
}

impl<Req, Resp> Stream for StreamStreamCall<Req, Resp> {
    type Item = Result<Resp, RpcError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().responses).poll_next(cx)
    }
}

impl<Req, Resp> std::fmt::Debug for StreamStreamCall<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamStreamCall")
            .field("call", self.responses.call())
            .finish()
    }
}
