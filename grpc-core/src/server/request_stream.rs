//! [`RequestStream`]: the request stream of an async client-streaming or
//! bidi handler.

use std::pin::Pin;
use std::task::{Context, Poll};

use super::context::ServicerContext;
use super::requests::Requests;
use crate::status::Status;
use futures_core::Stream;

/// The client's messages as a [`Stream`] of `Result<T, Status>`, for async
/// handlers (grpc.aio's request iterator; blocking handlers get
/// [`Requests`], an `Iterator`). It ends (`None`) when the client
/// half-closes; an `Err` means the RPC failed (cancelled, deadline, bad
/// message) and is the last item. Waiting for a message never blocks a
/// thread, and `StreamExt`'s methods apply without ambiguity.
///
/// ```
/// use futures_util::StreamExt;
/// use grpc_core::{RequestStream, Status};
///
/// async fn sum(mut numbers: RequestStream<u64>) -> Result<u64, Status> {
///     let mut total = 0;
///     while let Some(n) = numbers.next().await {
///         total += n?;
///     }
///     Ok(total)
/// }
/// ```
pub struct RequestStream<T> {
    /// The queue and decoding state, shared with the blocking face.
    inner: Requests<T>,
}

impl<T> From<Requests<T>> for RequestStream<T> {
    fn from(inner: Requests<T>) -> RequestStream<T> {
        RequestStream { inner }
    }
}

impl<T> RequestStream<T> {
    /// The context of the RPC these requests belong to.
    pub fn context(&self) -> &ServicerContext {
        self.inner.context()
    }
}

impl<T> RequestStream<T> {
    /// The next request (grpc.aio's `context.read()`): `None` once the
    /// client half-closed. The same as `StreamExt::next`.
    ///
    /// ```
    /// # async fn handler(mut requests: grpc_core::RequestStream<u64>) -> Result<u64, grpc_core::Status> {
    /// let mut total = 0;
    /// while let Some(n) = requests.read().await {
    ///     total += n?;
    /// }
    /// # Ok(total) }
    /// ```
    pub async fn read(&mut self) -> Option<Result<T, Status>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Status>>> {
        if self.inner.done {
            return Poll::Ready(None);
        }
        match self.inner.messages.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(received) => Poll::Ready(self.inner.item(received)),
        }
    }
}

impl<T> Stream for RequestStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<T> std::fmt::Debug for RequestStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestStream")
            .field("done", &self.inner.done)
            .finish()
    }
}
