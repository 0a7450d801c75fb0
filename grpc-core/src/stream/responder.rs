//! The response half of a server stream: headers, then DATA, then trailers
//! (or one Trailers-Only HEADERS frame), and resets.

use std::task::{Context, Poll};

use bytes::Bytes;
use h2::SendStream;
use h2::server::SendResponse;
use http::{HeaderMap, HeaderValue, Response};

use crate::codec::Compression;
use crate::codec::compress::ACCEPT_ENCODING;
use crate::metadata::Metadata;
use crate::status::Status;
use crate::wire::{self, trailers};

/// Where the response stands.
pub(crate) enum Responder {
    /// Nothing sent yet; the response's content type.
    Head(SendResponse<Bytes>, HeaderValue),
    /// Headers sent; messages may follow.
    Body(SendStream<Bytes>),
    /// Trailers sent or stream reset.
    Done,
}

impl Responder {
    /// Resolves when the client resets the stream (cancellation).
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<h2::Reason> {
        let polled = match self {
            Responder::Head(respond, _) => respond.poll_reset(cx),
            Responder::Body(stream) => stream.poll_reset(cx),
            Responder::Done => return Poll::Pending,
        };
        match polled {
            Poll::Ready(Ok(reason)) => Poll::Ready(reason),
            Poll::Ready(Err(_)) => Poll::Ready(h2::Reason::CANCEL),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The body stream, sending headers first if they have not gone out.
    pub(crate) fn body(&mut self, encoding: Compression) -> Option<&mut SendStream<Bytes>> {
        if let Responder::Head(..) = self {
            self.send_headers(Metadata::new(), encoding);
        }
        match self {
            Responder::Body(stream) => Some(stream),
            _ => None,
        }
    }

    /// Sends the response headers with `metadata`.
    pub(crate) fn send_headers(&mut self, metadata: Metadata, encoding: Compression) {
        let Responder::Head(respond, content_type) = std::mem::replace(self, Responder::Done)
        else {
            return;
        };
        let mut response = grpc_response(content_type);
        if encoding.is_compressing() {
            response.headers_mut().insert(
                wire::GRPC_ENCODING,
                HeaderValue::from_static(encoding.name()),
            );
        }
        metadata.write_headers(response.headers_mut());
        let mut respond = respond;
        if let Ok(stream) = respond.send_response(response, false) {
            *self = Responder::Body(stream);
        }
    }

    /// Ends the RPC with `status`: trailers, or Trailers-Only when no
    /// headers went out.
    pub(crate) fn finish(&mut self, status: &Status) {
        match std::mem::replace(self, Responder::Done) {
            Responder::Head(mut respond, content_type) => {
                let mut response = grpc_response(content_type);
                trailers::write_status(status, response.headers_mut());
                let _ = respond.send_response(response, true);
            }
            Responder::Body(mut stream) => {
                let mut headers = HeaderMap::new();
                trailers::write_status(status, &mut headers);
                let _ = stream.send_trailers(headers);
            }
            Responder::Done => {}
        }
    }

    /// Resets the stream (RST_STREAM with `reason`).
    pub(crate) fn reset(&mut self, reason: h2::Reason) {
        match std::mem::replace(self, Responder::Done) {
            Responder::Head(mut respond, _) => respond.send_reset(reason),
            Responder::Body(mut stream) => stream.send_reset(reason),
            Responder::Done => {}
        }
    }
}

fn grpc_response(content_type: HeaderValue) -> Response<()> {
    let mut response = Response::new(());
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, content_type);
    headers.insert(
        wire::GRPC_ACCEPT_ENCODING,
        HeaderValue::from_static(ACCEPT_ENCODING),
    );
    response
}

/// Answers a request that is not gRPC at all with a plain HTTP status.
pub(crate) fn reject_http(mut respond: SendResponse<Bytes>, status: http::StatusCode) {
    let mut response = Response::new(());
    *response.status_mut() = status;
    let _ = respond.send_response(response, true);
}

/// Answers at once with a Trailers-Only status (and extra headers).
pub(crate) fn reject(respond: SendResponse<Bytes>, status: &Status) {
    let content_type = HeaderValue::from_static(wire::CONTENT_TYPE_GRPC);
    Responder::Head(respond, content_type).finish(status);
}
