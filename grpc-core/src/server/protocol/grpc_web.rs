//! gRPC-Web responses: the gRPC envelopes in the body, and the status and
//! trailing metadata in a final envelope flagged `0x80` (as HTTP/1.1
//! header lines), the whole body base64 for `application/grpc-web-text`.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response};

use super::base64_stream;
use super::body::Part;
use crate::codec::Compression;
use crate::codec::compress::ACCEPT_ENCODING;
use crate::metadata::Metadata;
use crate::status::Status;
use crate::wire::{self, trailers};

/// Flag of the trailers envelope.
const TRAILERS: u8 = 0x80;

/// A gRPC-Web response.
#[derive(Debug)]
pub(crate) struct GrpcWeb {
    content_type: HeaderValue,
    text: bool,
    head_sent: bool,
}

impl GrpcWeb {
    pub(crate) fn new(content_type: HeaderValue, text: bool) -> GrpcWeb {
        GrpcWeb {
            content_type,
            text,
            head_sent: false,
        }
    }

    pub(crate) fn is_text(&self) -> bool {
        self.text
    }

    /// The response head, unless it went out already.
    pub(crate) fn head(&mut self, metadata: Metadata, encoding: Compression) -> Option<Part> {
        if std::mem::replace(&mut self.head_sent, true) {
            return None;
        }
        let mut response = Response::new(());
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, self.content_type.clone());
        headers.insert(
            wire::GRPC_ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPT_ENCODING),
        );
        if encoding.is_compressing() {
            headers.insert(
                wire::GRPC_ENCODING,
                HeaderValue::from_static(encoding.name()),
            );
        }
        metadata.write_headers(headers);
        Some(Part::Head(response))
    }

    /// Body bytes as they go out (base64 for the text format).
    pub(crate) fn data(&self, bytes: Bytes) -> Part {
        if self.text {
            Part::Data(base64_stream::encode(&bytes))
        } else {
            Part::Data(bytes)
        }
    }

    /// The trailers envelope for `status` (after the head if needed).
    pub(crate) fn finish(&mut self, status: &Status) -> Vec<Part> {
        let mut parts: Vec<Part> = self
            .head(Metadata::new(), Compression::Identity)
            .into_iter()
            .collect();
        let mut headers = HeaderMap::new();
        trailers::write_status(status, &mut headers);
        let mut block = Vec::new();
        for (name, value) in &headers {
            block.extend_from_slice(name.as_str().as_bytes());
            block.extend_from_slice(b":");
            block.extend_from_slice(value.as_bytes());
            block.extend_from_slice(b"\r\n");
        }
        let mut envelope = BytesMut::with_capacity(5 + block.len());
        envelope.put_u8(TRAILERS);
        envelope.put_u32(block.len() as u32);
        envelope.extend_from_slice(&block);
        parts.push(self.data(envelope.freeze()));
        parts
    }
}
