//! [`MessageReader`]: request (or response) messages off a stream of body
//! chunks — deframed, bounded by the receive limit before anything is
//! buffered — and [`decode_request`] / [`decode_response`], the one place
//! on each side a message is decoded by its codec and a failure mapped to
//! the status grpcio reports.

use std::future::poll_fn;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::RecvStream;

use crate::codec::Compression;
use crate::codec::framing::{Deframer, RawMessage};
use crate::codec::proto::unpack;
use crate::status::{Code, Status};
use crate::wire::status_map;

/// Where a reader's bytes come from: an HTTP/2 stream, or a request body
/// of either HTTP version.
pub(crate) trait ChunkSource {
    /// The next chunk; `None` at the end of the body.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>>;

    /// The error for a body that ends inside a message.
    fn truncated(&self, buffered: usize) -> Status {
        Status::internal(format!(
            "stream ended inside a message ({buffered} bytes left over)"
        ))
    }
}

impl ChunkSource for RecvStream {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>> {
        self.poll_data(cx).map(|chunk| {
            chunk.map(|chunk| match chunk {
                Ok(chunk) => {
                    // The bytes now sit in the reader's buffer, bounded by one
                    // message: give the window back for the next ones.
                    let _ = self.flow_control().release_capacity(chunk.len());
                    Ok(chunk)
                }
                Err(error) => Err(status_map::from_h2_error(error)),
            })
        })
    }
}

/// Messages off a body, one at a time. Cancel-safe: a message is taken
/// off the source only when it is returned.
pub(crate) struct MessageReader<S> {
    source: S,
    deframer: Deframer,
    ended: bool,
}

impl<S: ChunkSource> MessageReader<S> {
    /// A reader refusing messages longer than `max_message_len`.
    pub(crate) fn new(source: S, max_message_len: usize) -> MessageReader<S> {
        MessageReader {
            source,
            deframer: Deframer::new(max_message_len),
            ended: false,
        }
    }

    /// The source, for what follows the messages (trailers).
    pub(crate) fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// The next framed message; `None` after the last one.
    pub(crate) fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<RawMessage>, Status>> {
        self.poll_with(cx, Deframer::next_message)
    }

    /// [`poll_message`](Self::poll_message) as a future.
    pub(crate) async fn next_message(&mut self) -> Result<Option<RawMessage>, Status> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    /// The next envelope with its flags byte as is (gRPC-Web's trailers and
    /// Connect's end-of-stream are flagged envelopes); `None` after the last.
    pub(crate) async fn next_envelope(&mut self) -> Result<Option<(u8, Bytes)>, Status> {
        poll_fn(|cx| self.poll_with(cx, Deframer::next_envelope)).await
    }

    /// The next item `next` takes off the deframer, reading chunks as needed.
    fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        next: fn(&mut Deframer) -> Result<Option<T>, Status>,
    ) -> Poll<Result<Option<T>, Status>> {
        loop {
            if let Some(item) = next(&mut self.deframer)? {
                return Poll::Ready(Ok(Some(item)));
            }
            if self.ended {
                if self.deframer.has_partial_message() {
                    let buffered = self.deframer.buffered();
                    return Poll::Ready(Err(self.source.truncated(buffered)));
                }
                return Poll::Ready(Ok(None));
            }
            match std::task::ready!(self.source.poll_chunk(cx)) {
                Some(Ok(chunk)) => self.deframer.push(chunk),
                Some(Err(status)) => return Poll::Ready(Err(status)),
                None => self.ended = true,
            }
        }
    }
}

impl MessageReader<RecvStream> {
    /// The status from the trailers that follow the last message (the
    /// client's end of a response).
    pub(crate) async fn status(&mut self) -> Status {
        match self.source.trailers().await {
            Ok(Some(trailers)) => crate::wire::trailers::read_status(&trailers)
                .unwrap_or_else(|| Status::internal("server sent trailers without grpc-status")),
            Ok(None) => Status::internal("server closed the stream without sending trailers"),
            Err(error) => status_map::from_h2_error(error),
        }
    }
}

/// How a unary-request method's request was not exactly one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotOne {
    /// The body ended before any message.
    None,
    /// A second message followed the first.
    More,
}

/// Counts the messages of a unary request: the first is kept, and the end
/// of the body (or a second message) decides.
#[derive(Debug, Default)]
pub(crate) struct OnlyMessage {
    first: Option<RawMessage>,
}

impl OnlyMessage {
    /// Takes one more message; a second one is an error.
    pub(crate) fn push(&mut self, message: RawMessage) -> Result<(), NotOne> {
        match self.first {
            Some(_) => Err(NotOne::More),
            None => {
                self.first = Some(message);
                Ok(())
            }
        }
    }

    /// The body ended: the one message, if there was one.
    pub(crate) fn end(self) -> Result<RawMessage, NotOne> {
        self.first.ok_or(NotOne::None)
    }
}

/// Decompresses and decodes one request message; a message that does not
/// decode is `INTERNAL: Exception deserializing request!`, as in grpcio.
pub(crate) fn decode_request<M>(
    raw: RawMessage,
    encoding: Compression,
    max_len: usize,
    decode: impl FnOnce(Bytes) -> Result<M, Status>,
) -> Result<M, Status> {
    unpack(raw, encoding, max_len)
        .and_then(decode)
        .map_err(|status| match status.code() {
            Code::Internal => Status::internal("Exception deserializing request!"),
            _ => status,
        })
}

/// Decodes one response message (already unpacked by the exchange); a
/// message that does not decode is `INTERNAL: Exception deserializing
/// response!`, as in grpcio, with the codec's reason.
pub(crate) fn decode_response<M>(
    payload: Bytes,
    decode: impl FnOnce(Bytes) -> Result<M, Status>,
) -> Result<M, Status> {
    decode(payload).map_err(|status| match status.code() {
        Code::Internal => Status::internal(format!(
            "Exception deserializing response! ({})",
            status.details()
        )),
        _ => status,
    })
}
