//! The messages an interceptor sees: the requests going out and the
//! response coming back, as serialized message bytes (before compression
//! and framing), whatever the method's types.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::stream::inbox::Inbox;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::status::Status;

/// A stream of serialized request messages; an `Err` fails the call.
pub type MessageStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send + 'static>>;

/// The request side of an intercepted call: one message (unary-request
/// methods) or a stream of them (client-streaming methods).
///
/// The messages of an intercepted call are compressed as its final
/// [`ClientCallDetails::compression`](super::ClientCallDetails::compression)
/// says, all alike: a per-message [`WriteOptions`](crate::WriteOptions)
/// choice does not survive interception.
pub enum RequestMessages {
    /// The single request of a unary-request method.
    Unary(Bytes),
    /// The requests of a client-streaming method, drawn as they are sent.
    Stream(MessageStream),
}

impl RequestMessages {
    /// Requests from any stream of serialized messages.
    pub fn from_stream(
        stream: impl Stream<Item = Result<Bytes, Status>> + Send + 'static,
    ) -> RequestMessages {
        RequestMessages::Stream(Box::pin(stream))
    }

    /// True for a client-streaming method's requests.
    pub fn is_stream(&self) -> bool {
        matches!(self, RequestMessages::Stream(_))
    }

    /// A copy of a unary request, to send it again (a retry); `None` for a
    /// stream, which can be drawn only once.
    pub fn try_clone(&self) -> Option<RequestMessages> {
        match self {
            RequestMessages::Unary(message) => Some(RequestMessages::Unary(message.clone())),
            RequestMessages::Stream(_) => None,
        }
    }

    /// Each message replaced by `f(message)`; an `Err` fails the call.
    pub fn map(
        self,
        mut f: impl FnMut(Bytes) -> Result<Bytes, Status> + Send + 'static,
    ) -> Result<RequestMessages, Status> {
        match self {
            RequestMessages::Unary(message) => f(message).map(RequestMessages::Unary),
            RequestMessages::Stream(stream) => Ok(RequestMessages::from_stream(
                stream.map(move |item| item.and_then(&mut f)),
            )),
        }
    }

    /// The requests as a stream (one item for a unary request).
    pub fn into_stream(self) -> MessageStream {
        match self {
            RequestMessages::Unary(message) => Box::pin(futures_util::stream::iter([Ok(message)])),
            RequestMessages::Stream(stream) => stream,
        }
    }
}

impl fmt::Debug for RequestMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestMessages::Unary(message) => write!(f, "Unary({} bytes)", message.len()),
            RequestMessages::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// One event of a response: a message, or the end with the call's status
/// (with its trailing metadata).
#[derive(Debug, Clone)]
pub enum ResponsePart {
    /// A serialized response message.
    Message(Bytes),
    /// The call ended with this status; nothing follows.
    End(Status),
}

/// The response side of an intercepted call (what a continuation returns):
/// the response messages, then the status. An interceptor reads it, wraps
/// it, or makes its own ([`ready`](Self::ready), [`error`](Self::error))
/// to answer without calling the continuation.
pub struct ClientResponse {
    parts: Pin<Box<dyn Stream<Item = ResponsePart> + Send + 'static>>,
    status: Option<Status>,
}

impl ClientResponse {
    /// A response from a stream of parts; a stream that stops without an
    /// [`End`](ResponsePart::End) ends the call with `INTERNAL`.
    pub fn from_stream(parts: impl Stream<Item = ResponsePart> + Send + 'static) -> ClientResponse {
        ClientResponse {
            parts: Box::pin(parts),
            status: None,
        }
    }

    /// A response that is already complete: these messages, then `status`.
    pub fn ready(messages: impl IntoIterator<Item = Bytes>, status: Status) -> ClientResponse {
        let parts: Vec<ResponsePart> = messages
            .into_iter()
            .map(ResponsePart::Message)
            .chain([ResponsePart::End(status)])
            .collect();
        ClientResponse::from_stream(futures_util::stream::iter(parts))
    }

    /// A call that failed with `status` and sent no message.
    pub fn error(status: Status) -> ClientResponse {
        ClientResponse::ready([], status)
    }

    /// The next response message; `None` once the call has ended (then
    /// [`status`](Self::status) tells how).
    pub async fn message(&mut self) -> Option<Bytes> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.status.is_some() {
            return Poll::Ready(None);
        }
        match self.parts.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(ResponsePart::Message(message))) => Poll::Ready(Some(message)),
            Poll::Ready(Some(ResponsePart::End(status))) => {
                self.status = Some(status);
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                self.status = Some(Status::internal(
                    "an interceptor's response ended without a status",
                ));
                Poll::Ready(None)
            }
        }
    }

    /// The status, once [`message`](Self::message) has returned `None`.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// Reads the response to its end: every message, and the status.
    pub async fn collect(mut self) -> (Vec<Bytes>, Status) {
        let mut messages = Vec::new();
        while let Some(message) = self.message().await {
            messages.push(message);
        }
        let status = self.status.take().unwrap_or_else(Status::ok);
        (messages, status)
    }

    /// The response as a stream of parts, ending with its `End`.
    pub fn into_stream(self) -> impl Stream<Item = ResponsePart> + Send + 'static {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut response = state?;
            match response.message().await {
                Some(message) => Some((ResponsePart::Message(message), Some(response))),
                None => {
                    let status = response.status.take().unwrap_or_else(Status::ok);
                    Some((ResponsePart::End(status), None))
                }
            }
        })
    }

    /// Each message replaced by `f(message)`; an `Err` ends the call with
    /// that status.
    pub fn map_messages(
        self,
        mut f: impl FnMut(Bytes) -> Result<Bytes, Status> + Send + 'static,
    ) -> ClientResponse {
        let mut failed = false;
        ClientResponse::from_stream(self.into_stream().filter_map(move |part| {
            let mapped = match part {
                _ if failed => None,
                ResponsePart::Message(message) => Some(match f(message) {
                    Ok(message) => ResponsePart::Message(message),
                    Err(status) => {
                        failed = true;
                        ResponsePart::End(status)
                    }
                }),
                end => Some(end),
            };
            std::future::ready(mapped)
        }))
    }

    /// The final status replaced by `f(status)` (called once, at the end).
    pub fn map_status(self, f: impl FnOnce(Status) -> Status + Send + 'static) -> ClientResponse {
        let mut f = Some(f);
        ClientResponse::from_stream(self.into_stream().map(move |part| match part {
            ResponsePart::End(status) => match f.take() {
                Some(f) => ResponsePart::End(f(status)),
                None => ResponsePart::End(status),
            },
            message => message,
        }))
    }

    /// The response of a call on the wire: messages arrive on `messages`
    /// while `driver` (the exchange) runs; its status ends the response.
    pub(crate) fn driven(
        driver: impl Future<Output = Status> + Send + 'static,
        messages: Inbox<Bytes>,
    ) -> ClientResponse {
        ClientResponse::from_stream(Driven {
            driver: Some(Box::pin(driver)),
            messages,
            status: None,
        })
    }
}

impl fmt::Debug for ClientResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponse")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Received messages, then the status of the exchange that delivers them,
/// polled by whoever reads the response (no task of its own).
struct Driven {
    driver: Option<Pin<Box<dyn Future<Output = Status> + Send + 'static>>>,
    messages: Inbox<Bytes>,
    status: Option<Status>,
}

impl Stream for Driven {
    type Item = ResponsePart;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ResponsePart>> {
        let this = &mut *self;
        if let Some(driver) = this.driver.as_mut()
            && let Poll::Ready(status) = driver.as_mut().poll(cx)
        {
            this.driver = None;
            this.status = Some(status);
        }
        match this.messages.poll_recv(cx) {
            Poll::Ready(Some(message)) => return Poll::Ready(Some(ResponsePart::Message(message))),
            Poll::Pending if this.driver.is_some() => return Poll::Pending,
            // The driver ended (it held the sender): drain, then the status.
            Poll::Pending | Poll::Ready(None) => {}
        }
        if this.driver.is_some() {
            return Poll::Pending;
        }
        Poll::Ready(this.status.take().map(ResponsePart::End))
    }
}
