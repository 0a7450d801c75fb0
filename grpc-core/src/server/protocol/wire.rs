//! What a Connect or gRPC-Web request asks for (from its content type and
//! headers), and how its response is written.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use super::Protocol;
use super::body::Part;
use super::connect::{self, Stream, Unary};
use super::grpc_web::GrpcWeb;
use crate::codec::Compression;
use crate::codec::compress::EncodingSet;
use crate::metadata::Metadata;
use crate::status::Status;
use crate::stream::head::{accepted_encodings, message_encoding};
use crate::wire::json::JsonCodec;
use crate::wire::{self as grpc_wire, timeout};

/// The response writer of one call, chosen by the request's content type.
#[derive(Debug)]
pub(crate) enum Wire {
    /// Connect unary (`application/proto`): the body is the message.
    ConnectUnary(Unary),
    /// Connect streaming (`application/connect+proto`): envelopes.
    ConnectStream(Stream),
    /// gRPC-Web (binary or text).
    GrpcWeb(GrpcWeb),
}

/// The request's deadline and compression, read from its headers.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) timeout: Option<Duration>,
    pub(crate) request_encoding: Compression,
    pub(crate) accepted_encodings: EncodingSet,
}

/// How messages are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Protobuf binary.
    Proto,
    /// Connect's JSON (the proto3 JSON mapping).
    Json,
}

/// A content type this server does not speak.
#[derive(Debug)]
pub(crate) struct Unsupported;

impl Wire {
    /// The writer for a request with this `content-type`.
    pub(crate) fn for_content_type(value: &HeaderValue) -> Result<Wire, Unsupported> {
        let text = value.to_str().map_err(|_| Unsupported)?;
        let media = text
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let echo = HeaderValue::from_str(&media).map_err(|_| Unsupported)?;
        match media.as_str() {
            "application/proto" => Ok(Wire::ConnectUnary(Unary::new(echo))),
            "application/connect+proto" => Ok(Wire::ConnectStream(Stream::new(echo))),
            "application/json" => Ok(Wire::ConnectUnary(Unary::new(echo)).with(Codec::Json)),
            "application/connect+json" => {
                Ok(Wire::ConnectStream(Stream::new(echo)).with(Codec::Json))
            }
            "application/grpc-web" | "application/grpc-web+proto" => {
                Ok(Wire::GrpcWeb(GrpcWeb::new(echo, false)))
            }
            "application/grpc-web-text" | "application/grpc-web-text+proto" => {
                Ok(Wire::GrpcWeb(GrpcWeb::new(echo, true)))
            }
            _ => Err(Unsupported),
        }
    }

    fn with(self, codec: Codec) -> Wire {
        match self {
            Wire::ConnectUnary(mut unary) => {
                unary.codec = codec;
                Wire::ConnectUnary(unary)
            }
            Wire::ConnectStream(mut stream) => {
                stream.codec = codec;
                Wire::ConnectStream(stream)
            }
            other => other,
        }
    }

    /// The message codec the request asked for.
    pub(crate) fn codec(&self) -> Codec {
        match self {
            Wire::ConnectUnary(unary) => unary.codec,
            Wire::ConnectStream(stream) => stream.codec,
            Wire::GrpcWeb(_) => Codec::Proto,
        }
    }

    /// Gives a JSON call the transcoder of its method.
    pub(crate) fn set_json(&mut self, json: JsonCodec) {
        match self {
            Wire::ConnectUnary(unary) => unary.json = Some(json),
            Wire::ConnectStream(stream) => stream.json = Some(json),
            Wire::GrpcWeb(_) => {}
        }
    }

    /// The transcoder of a JSON call.
    pub(crate) fn json(&self) -> Option<&JsonCodec> {
        match self {
            Wire::ConnectUnary(unary) => unary.json.as_ref(),
            Wire::ConnectStream(stream) => stream.json.as_ref(),
            Wire::GrpcWeb(_) => None,
        }
    }

    pub(crate) fn protocol(&self) -> Protocol {
        match self {
            Wire::ConnectUnary(_) | Wire::ConnectStream(_) => Protocol::Connect,
            Wire::GrpcWeb(_) => Protocol::GrpcWeb,
        }
    }

    /// True when the body is one bare message (Connect unary).
    pub(crate) fn is_unary(&self) -> bool {
        matches!(self, Wire::ConnectUnary(_))
    }

    /// True for `application/grpc-web-text`.
    pub(crate) fn is_text(&self) -> bool {
        matches!(self, Wire::GrpcWeb(web) if web.is_text())
    }

    /// Deadline and compression from the request headers.
    pub(crate) fn params(&self, headers: &HeaderMap) -> Result<Params, Status> {
        let (timeout_header, encoding_header, accept_header) = match self {
            Wire::ConnectUnary(_) => {
                connect::check_version(headers)?;
                (connect::TIMEOUT_MS, "content-encoding", "accept-encoding")
            }
            Wire::ConnectStream(_) => {
                connect::check_version(headers)?;
                (
                    connect::TIMEOUT_MS,
                    connect::CONTENT_ENCODING,
                    connect::ACCEPT,
                )
            }
            Wire::GrpcWeb(_) => (
                grpc_wire::GRPC_TIMEOUT,
                grpc_wire::GRPC_ENCODING,
                grpc_wire::GRPC_ACCEPT_ENCODING,
            ),
        };
        let timeout = match headers.get(timeout_header) {
            None => None,
            Some(value) if self.protocol() == Protocol::Connect => {
                Some(connect::parse_timeout(value.as_bytes())?)
            }
            Some(value) => Some(timeout::parse(value.as_bytes()).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "malformed grpc-timeout {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ))
            })?),
        };
        let request_encoding = message_encoding(headers.get(encoding_header)).map_err(|name| {
            Status::unimplemented(format!(
                "unsupported compression {name:?}: this server accepts identity, gzip, deflate"
            ))
        })?;
        let accepted_encodings = accepted_encodings(headers.get(accept_header));
        Ok(Params {
            timeout,
            request_encoding,
            accepted_encodings,
        })
    }

    /// Sends the response headers now, with `metadata` (Connect unary
    /// holds them until the status is known).
    pub(crate) fn headers(&mut self, metadata: Metadata, encoding: Compression) -> Vec<Part> {
        match self {
            Wire::ConnectUnary(unary) => {
                unary.headers(metadata, encoding);
                Vec::new()
            }
            Wire::ConnectStream(stream) => stream.head(metadata, encoding).into_iter().collect(),
            Wire::GrpcWeb(web) => web.head(metadata, encoding).into_iter().collect(),
        }
    }

    /// One or more enveloped responses as they go out.
    pub(crate) fn message(
        &mut self,
        frame: Bytes,
        encoding: Compression,
    ) -> Result<Vec<Part>, Status> {
        Ok(match self {
            Wire::ConnectUnary(unary) => {
                unary.message(frame, encoding)?;
                Vec::new()
            }
            Wire::ConnectStream(stream) => {
                let frame = stream.envelopes(frame)?;
                let mut parts: Vec<Part> =
                    stream.head(Metadata::new(), encoding).into_iter().collect();
                parts.push(Part::Data(frame));
                parts
            }
            Wire::GrpcWeb(web) => {
                let mut parts: Vec<Part> =
                    web.head(Metadata::new(), encoding).into_iter().collect();
                parts.push(web.data(frame));
                parts
            }
        })
    }

    /// The end of the response, carrying `status`.
    pub(crate) fn finish(&mut self, status: &Status) -> Vec<Part> {
        match self {
            Wire::ConnectUnary(unary) => unary.finish(status),
            Wire::ConnectStream(stream) => stream.finish(status),
            Wire::GrpcWeb(web) => web.finish(status),
        }
    }
}

/// Headers that belong to the protocol, not to the user's metadata.
pub(crate) fn strip_protocol_headers(headers: &mut HeaderMap) {
    for name in [
        connect::PROTOCOL_VERSION,
        connect::TIMEOUT_MS,
        connect::CONTENT_ENCODING,
        connect::ACCEPT,
        "content-encoding",
        "accept-encoding",
        "x-grpc-web",
    ] {
        headers.remove(name);
    }
}
