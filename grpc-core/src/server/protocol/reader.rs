//! The request side of a Connect or gRPC-Web call (and the response side
//! on the client): whole bodies (Connect unary) or length-prefixed
//! envelopes, with limits checked before bytes are buffered.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;

use super::base64_stream::Base64Stream;
use super::body::{BoxError, RequestBody};
use crate::codec::framing::{Deframer, RawMessage};
use crate::status::Status;

/// Reads a request body.
pub(crate) struct RequestReader {
    body: RequestBody,
    deframer: Deframer,
    /// Set for `application/grpc-web-text`.
    text: Option<Base64Stream>,
    ended: bool,
    /// The body's trailers, once they arrived.
    trailers: Option<HeaderMap>,
    /// The status of a body that fails (the peer went away).
    failed: fn(BoxError) -> Status,
}

impl RequestReader {
    pub(crate) fn new(body: RequestBody, max_message_len: usize, text: bool) -> RequestReader {
        RequestReader {
            body,
            deframer: Deframer::new(max_message_len),
            text: text.then(Base64Stream::default),
            ended: false,
            trailers: None,
            failed: |error| Status::cancelled(format!("request body failed: {error}")),
        }
    }

    /// Reads a response body on the client: a failing body is `failed`'s
    /// status (the connection broke) instead of the server's `CANCELLED`.
    pub(crate) fn response(
        body: RequestBody,
        max_message_len: usize,
        failed: fn(BoxError) -> Status,
    ) -> RequestReader {
        RequestReader {
            failed,
            ..RequestReader::new(body, max_message_len, false)
        }
    }

    /// The trailers that ended the body (HTTP/2 or chunked HTTP/1.1), if any.
    pub(crate) fn trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }

    /// The next chunk of body bytes (decoded for grpc-web-text); `None` at
    /// the end. A body that fails (the client went away) is `CANCELLED`.
    async fn chunk(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if self.ended {
                return Ok(None);
            }
            match self.body.frame().await {
                None => {
                    self.ended = true;
                    if self.text.as_ref().is_some_and(Base64Stream::has_partial) {
                        return Err(Status::invalid_argument(
                            "grpc-web-text body ends inside a base64 group",
                        ));
                    }
                    return Ok(None);
                }
                Some(Err(error)) => {
                    self.ended = true;
                    return Err((self.failed)(error));
                }
                Some(Ok(frame)) => {
                    let data = match frame.into_data() {
                        Ok(data) => data,
                        Err(frame) => {
                            self.trailers = frame.into_trailers().ok();
                            continue;
                        }
                    };
                    return match &mut self.text {
                        Some(text) => text.push(&data).map(Some),
                        None => Ok(Some(data)),
                    };
                }
            }
        }
    }

    /// The next envelope; `None` after the last one.
    pub(crate) async fn next_message(&mut self) -> Result<Option<RawMessage>, Status> {
        self.next_with(Deframer::next_message).await
    }

    /// The next envelope with its flags byte as is (gRPC-Web trailers,
    /// Connect end-of-stream); `None` after the last one.
    pub(crate) async fn next_envelope(&mut self) -> Result<Option<(u8, Bytes)>, Status> {
        self.next_with(Deframer::next_envelope).await
    }

    async fn next_with<T>(
        &mut self,
        next: fn(&mut Deframer) -> Result<Option<T>, Status>,
    ) -> Result<Option<T>, Status> {
        loop {
            if let Some(message) = next(&mut self.deframer)? {
                return Ok(Some(message));
            }
            match self.chunk().await? {
                Some(chunk) => self.deframer.push(chunk),
                None if self.deframer.has_partial_message() => {
                    return Err(Status::invalid_argument(format!(
                        "body ends inside a message ({} bytes of it received)",
                        self.deframer.buffered()
                    )));
                }
                None => return Ok(None),
            }
        }
    }

    /// The exactly-one envelope of a unary-request method.
    pub(crate) async fn only_message(&mut self) -> Result<RawMessage, Status> {
        let Some(message) = self.next_message().await? else {
            return Err(Status::invalid_argument(
                "client sent no request message for a unary-request method",
            ));
        };
        match self.next_message().await? {
            None => Ok(message),
            Some(_) => Err(Status::invalid_argument(
                "client sent more than one request message for a unary-request method",
            )),
        }
    }

    /// The whole body, refused once it passes `limit` bytes.
    pub(crate) async fn read_all(&mut self, limit: usize) -> Result<Bytes, Status> {
        let mut all = BytesMut::new();
        while let Some(chunk) = self.chunk().await? {
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
