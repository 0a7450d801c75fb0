//! [`ResponseStream`]: the async stream of a server-streaming or bidi
//! response, which is also the RPC's call object.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

use super::call::Call;
use crate::codec::message::DecodeFn;
use crate::metadata::Metadata;
use crate::status::{Code, RpcError, Status};
use crate::stream::reader::decode_response;

/// Response messages as a `futures::Stream` of `Result<T, RpcError>`; an
/// RPC failure is the last item. Also answers grpc.aio's call methods
/// (`initial_metadata().await`, `code().await`, `cancel()`, ...). Dropping
/// it before the end cancels the RPC on the wire.
///
/// ```no_run
/// # async fn demo(chat: grpc_core::StreamStream<String, String>) -> Result<(), grpc_core::RpcError> {
/// use futures_util::StreamExt;
/// let requests = futures_util::stream::iter(vec!["a".to_string(), "b".to_string()]);
/// let mut replies = chat.call_async(requests).await?;
/// println!("{:?}", replies.initial_metadata().await);
/// while let Some(reply) = replies.next().await {
///     println!("{}", reply?);
/// }
/// println!("{:?}", replies.code().await);
/// # Ok(()) }
/// ```
pub struct ResponseStream<T> {
    pub(super) call: Call,
    messages: mpsc::Receiver<Bytes>,
    finished: bool,
    /// The call's codec, for this message type.
    decode: DecodeFn<T>,
}

impl<T> ResponseStream<T> {
    pub(crate) fn new(
        call: Call,
        messages: mpsc::Receiver<Bytes>,
        decode: DecodeFn<T>,
    ) -> ResponseStream<T> {
        ResponseStream {
            call,
            messages,
            finished: false,
            decode,
        }
    }

    /// Ends the stream with `status`, failing the RPC: the error is the
    /// stream's last item.
    pub(super) fn fail(&mut self, status: Status) -> RpcError {
        self.finished = true;
        self.call.shared().fail(status.clone());
        self.call.shared().error(status)
    }

    /// The server's initial metadata, once it arrives.
    pub async fn initial_metadata(&self) -> Metadata {
        self.call.shared().initial_metadata_async().await
    }

    /// The server's trailing metadata, once the RPC ends.
    pub async fn trailing_metadata(&self) -> Metadata {
        self.call.shared().status_async().await.metadata().clone()
    }

    /// The status code, once the RPC ends.
    pub async fn code(&self) -> Code {
        self.call.shared().status_async().await.code()
    }

    /// The status details, once the RPC ends.
    pub async fn details(&self) -> String {
        self.call.shared().status_async().await.details().to_owned()
    }

    /// Waits until the RPC is under way on a connection (its request
    /// headers went out): `Err` when it failed before (no server reachable,
    /// deadline, cancellation), as grpc.aio's `wait_for_connection` raises.
    pub async fn wait_for_connection(&self) -> Result<(), RpcError> {
        let shared = self.call.shared();
        let opened = std::future::poll_fn(|cx| shared.poll_opened(cx)).await;
        super::unary_call::connection_outcome(&self.call, opened, shared.status_async()).await
    }

    /// True while the RPC has not ended.
    pub fn is_active(&self) -> bool {
        self.call.is_active()
    }

    /// Time left before the deadline, if there is one.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.call.time_remaining()
    }

    /// Cancels the RPC; the stream then ends with a `CANCELLED` error.
    pub fn cancel(&self) {
        self.call.cancel();
    }

    /// Runs `callback` when the RPC ends; false if it already has.
    pub fn add_callback(&self, callback: impl FnOnce() + Send + 'static) -> bool {
        self.call.add_callback(callback)
    }

    /// The blocking [`Call`] view of the same RPC.
    pub fn call(&self) -> &Call {
        &self.call
    }
}

impl<T> ResponseStream<T> {
    /// The next response (grpc.aio's `read()`): `None` after the last; an
    /// RPC failure is the last item. The same as `StreamExt::next`.
    pub async fn read(&mut self) -> Option<Result<T, RpcError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<T> Stream for ResponseStream<T> {
    type Item = Result<T, RpcError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        match this.messages.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(payload)) => Poll::Ready(Some(
                decode_response(payload, &this.decode).map_err(|status| this.fail(status)),
            )),
            Poll::Ready(None) => match this.call.shared().poll_status(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(status) => {
                    this.finished = true;
                    if status.is_ok() {
                        Poll::Ready(None)
                    } else {
                        Poll::Ready(Some(Err(this.call.shared().error(status))))
                    }
                }
            },
        }
    }
}

impl<T> Drop for ResponseStream<T> {
    fn drop(&mut self) {
        self.call.cancel();
    }
}

impl<T> std::fmt::Debug for ResponseStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("call", &self.call)
            .finish()
    }
}
