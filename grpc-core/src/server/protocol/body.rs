//! Bodies in both directions, the same for HTTP/1.1 (hyper) and HTTP/2
//! (h2): requests as an [`http_body::Body`], responses as a bounded queue
//! of [`Part`]s that the connection's writer drains at the peer's pace.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::RecvStream;
use h2::server::SendResponse;
use http::Response;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::mpsc;

/// Errors a request body can fail with.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body from either HTTP version.
pub(crate) type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// Response chunks queued ahead of the writer: bounded, so a client that
/// does not read makes the RPC wait instead of buffering.
const RESPONSE_QUEUE: usize = 4;

/// One piece of a response.
#[derive(Debug)]
pub(crate) enum Part {
    /// The status line and headers; always first.
    Head(Response<()>),
    /// Body bytes.
    Data(Bytes),
    /// Abandon the response (HTTP/2: reset the stream; HTTP/1.1: close the
    /// connection) so the client sees the call fail.
    Abort,
}

/// The sending end of a response.
pub(crate) type Sink = mpsc::Sender<Part>;

/// The receiving end, drained by the connection.
pub(crate) type Parts = mpsc::Receiver<Part>;

/// A response queue.
pub(crate) fn channel() -> (Sink, Parts) {
    mpsc::channel(RESPONSE_QUEUE)
}

/// An h2 request stream as a body; flow-control credit is returned as the
/// RPC takes each chunk, so the client sends only as fast as the RPC reads.
pub(crate) fn h2_body(stream: RecvStream) -> RequestBody {
    H2Body(stream).boxed_unsync()
}

struct H2Body(RecvStream);

impl Body for H2Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.0.poll_data(cx) {
            Poll::Ready(Some(Ok(data))) => {
                let _ = self.0.flow_control().release_capacity(data.len());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => match self.0.poll_trailers(cx) {
                Poll::Ready(Ok(Some(trailers))) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                Poll::Ready(Ok(None)) => Poll::Ready(None),
                Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error.into()))),
                Poll::Pending => Poll::Pending,
            },
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }
}

/// The response body hyper writes: the data parts of the queue.
pub(crate) struct ChannelBody(pub(crate) Parts);

/// The RPC abandoned its response.
#[derive(Debug)]
pub(crate) struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response abandoned")
    }
}

impl std::error::Error for Aborted {}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        loop {
            return match self.0.poll_recv(cx) {
                Poll::Ready(Some(Part::Data(data))) => Poll::Ready(Some(Ok(Frame::data(data)))),
                Poll::Ready(Some(Part::Abort)) => Poll::Ready(Some(Err(Aborted))),
                Poll::Ready(Some(Part::Head(_))) => continue,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// Writes a queued response to an h2 stream at the pace of the client's
/// flow-control window; a reset from the client drops the queue, which
/// the RPC sees as the client going away.
pub(crate) async fn pump_h2(mut respond: SendResponse<Bytes>, mut parts: Parts) {
    let head = tokio::select! {
        part = parts.recv() => part,
        _ = poll_fn(|cx| respond.poll_reset(cx)) => return,
    };
    let Some(Part::Head(head)) = head else {
        respond.send_reset(h2::Reason::INTERNAL_ERROR);
        return;
    };
    let Ok(mut stream) = respond.send_response(head, false) else {
        return;
    };
    loop {
        let part = tokio::select! {
            part = parts.recv() => part,
            _ = poll_fn(|cx| stream.poll_reset(cx)) => return,
        };
        match part {
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
            Some(Part::Abort) => {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            Some(Part::Head(_)) => {}
            Some(Part::Data(mut data)) => {
                while !data.is_empty() {
                    stream.reserve_capacity(data.len());
                    let granted = poll_fn(|cx| {
                        if stream.poll_reset(cx).is_ready() {
                            return Poll::Ready(None);
                        }
                        stream.poll_capacity(cx)
                    })
                    .await;
                    match granted {
                        Some(Ok(n)) if n > 0 => {
                            let chunk = data.split_to(n.min(data.len()));
                            if stream.send_data(chunk, false).is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    }
                }
            }
        }
    }
}
