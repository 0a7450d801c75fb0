//! The request side of a Connect or gRPC-Web call (and the response side
//! on the client): whole bodies (Connect unary) or length-prefixed
//! envelopes read by the stream layer's [`MessageReader`], with limits
//! checked before bytes are buffered.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::Body;

use super::base64_stream::Base64Stream;
use super::body::{BoxError, RequestBody};
use crate::codec::framing::RawMessage;
use crate::status::Status;
use crate::stream::reader::{ChunkSource, MessageReader, NotOne, OnlyMessage};

/// A request body's data, decoded for grpc-web-text.
pub(crate) struct BodyChunks {
    body: RequestBody,
    /// Set for `application/grpc-web-text`.
    text: Option<Base64Stream>,
    ended: bool,
    /// The body's trailers, once they arrived.
    trailers: Option<HeaderMap>,
    /// The status of a body that fails (the peer went away).
    failed: fn(BoxError) -> Status,
}

impl ChunkSource for BodyChunks {
    /// A body that fails (the client went away) is `CANCELLED`.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            match std::task::ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => {
                    self.ended = true;
                    if self.text.as_ref().is_some_and(Base64Stream::has_partial) {
                        return Poll::Ready(Some(Err(Status::invalid_argument(
                            "grpc-web-text body ends inside a base64 group",
                        ))));
                    }
                    return Poll::Ready(None);
                }
                Some(Err(error)) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err((self.failed)(error))));
                }
                Some(Ok(frame)) => {
                    let data = match frame.into_data() {
                        Ok(data) => data,
                        Err(frame) => {
                            self.trailers = frame.into_trailers().ok();
                            continue;
                        }
                    };
                    return Poll::Ready(Some(match &mut self.text {
                        Some(text) => text.push(&data),
                        None => Ok(data),
                    }));
                }
            }
        }
    }

    fn truncated(&self, buffered: usize) -> Status {
        Status::invalid_argument(format!(
            "request body ends inside a message ({buffered} bytes of it received)"
        ))
    }
}

/// Reads a request body.
pub(crate) struct RequestReader {
    messages: MessageReader<BodyChunks>,
}

impl RequestReader {
    pub(crate) fn new(body: RequestBody, max_message_len: usize, text: bool) -> RequestReader {
        let chunks = BodyChunks {
            body,
            text: text.then(Base64Stream::default),
            ended: false,
            trailers: None,
            failed: |error| Status::cancelled(format!("request body failed: {error}")),
        };
        RequestReader {
            messages: MessageReader::new(chunks, max_message_len),
        }
    }

    /// Reads a response body on the client (base64 when `text`, as
    /// grpc-web-text): a failing body is `failed`'s status (the connection
    /// broke) instead of the server's `CANCELLED`.
    pub(crate) fn response(
        body: RequestBody,
        max_message_len: usize,
        text: bool,
        failed: fn(BoxError) -> Status,
    ) -> RequestReader {
        let mut reader = RequestReader::new(body, max_message_len, text);
        reader.messages.source_mut().failed = failed;
        reader
    }

    /// The trailers that ended the body (HTTP/2 or chunked HTTP/1.1), if any.
    pub(crate) fn trailers(&mut self) -> Option<HeaderMap> {
        self.messages.source_mut().trailers.take()
    }

    /// The next envelope with its flags byte as is (gRPC-Web trailers,
    /// Connect end-of-stream); `None` after the last one.
    pub(crate) async fn next_envelope(&mut self) -> Result<Option<(u8, Bytes)>, Status> {
        self.messages.next_envelope().await
    }

    /// The next envelope; `None` after the last one.
    pub(crate) async fn next_message(&mut self) -> Result<Option<RawMessage>, Status> {
        self.messages.next_message().await
    }

    /// The exactly-one envelope of a unary-request method.
    pub(crate) async fn only_message(&mut self) -> Result<RawMessage, Status> {
        let mut only = OnlyMessage::default();
        let counted = loop {
            match self.next_message().await? {
                Some(message) => {
                    if let Err(more) = only.push(message) {
                        break Err(more);
                    }
                }
                None => break only.end(),
            }
        };
        counted.map_err(|not_one| {
            Status::invalid_argument(match not_one {
                NotOne::None => "client sent no request message for a unary-request method",
                NotOne::More => {
                    "client sent more than one request message for a unary-request method"
                }
            })
        })
    }

    /// The whole body, refused once it passes `limit` bytes.
    pub(crate) async fn read_all(&mut self, limit: usize) -> Result<Bytes, Status> {
        let mut all = BytesMut::new();
        let chunks = self.messages.source_mut();
        while let Some(chunk) = poll_fn(|cx| chunks.poll_chunk(cx)).await.transpose()? {
            if all.len() + chunk.len() > limit {
                return Err(Status::resource_exhausted(format!(
                    "request body larger than max ({limit} bytes)"
                )));
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }
}
