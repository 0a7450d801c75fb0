//! Responses of gRPC-Web and Connect calls: initial metadata, messages
//! handed to the call as protobuf bytes, and the final status with its
//! trailing metadata and rich details, whichever way the protocol
//! carries them (gRPC-Web's trailers envelope, Connect's end-of-stream
//! message, unary `trailer-` headers and the error JSON).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Response, StatusCode};

use super::Plan;
use super::encode::Shape;
use crate::client::call::CallShared;
use crate::client::rpc::Delivery;
use crate::codec::Compression;
use crate::metadata::Metadata;
use crate::server::protocol::body::{BoxError, RequestBody};
use crate::server::protocol::reader::RequestReader;
use crate::stats::WireMessage;
use crate::stats::client::AttemptTrace;
use crate::status::Status;
use crate::wire::{self, connect, status_map, trailers};

/// Flag of gRPC-Web's trailers envelope.
const GRPC_WEB_TRAILERS: u8 = 0x80;

/// How a response ended.
pub(crate) struct Outcome {
    pub(crate) status: Status,
    /// True when the whole response was read (its connection can be reused).
    pub(crate) drained: bool,
}

impl Outcome {
    /// Ended before the response was read to its end.
    pub(crate) fn broken(status: Status) -> Outcome {
        Outcome {
            status,
            drained: false,
        }
    }

    fn drained(status: Status) -> Outcome {
        Outcome {
            status,
            drained: true,
        }
    }
}

/// Reads a response to its end.
pub(crate) async fn read(
    plan: &Plan,
    response: Response<RequestBody>,
    call: &CallShared,
    delivery: &mut Delivery<'_>,
    trace: &AttemptTrace,
    max: usize,
) -> Outcome {
    let (parts, body) = response.into_parts();
    let reader = RequestReader::response(body, max, plan.text, body_failed);
    let mut response = Reading {
        plan,
        reader,
        delivery,
        trace,
        max,
    };
    let result = match plan.shape {
        Shape::GrpcWeb => response.grpc_web(parts, call).await,
        Shape::ConnectUnary | Shape::ConnectGet => response.connect_unary(parts, call).await,
        Shape::ConnectStream => response.connect_stream(parts, call).await,
    };
    match result {
        Ok(outcome) => outcome,
        Err(status) => Outcome::broken(status),
    }
}

/// The status of a response body that broke off.
fn body_failed(error: BoxError) -> Status {
    match error.downcast::<h2::Error>() {
        Ok(error) => status_map::from_h2_error(*error),
        Err(error) => Status::unavailable(format!("response body failed: {error}")),
    }
}

struct Reading<'p, 'd, 'a> {
    plan: &'p Plan,
    reader: RequestReader,
    delivery: &'d mut Delivery<'a>,
    trace: &'p AttemptTrace,
    max: usize,
}

impl Reading<'_, '_, '_> {
    async fn grpc_web(
        &mut self,
        parts: http::response::Parts,
        call: &CallShared,
    ) -> Result<Outcome, Status> {
        if let Some(status) = trailers::read_status(&parts.headers) {
            return Ok(Outcome::broken(status)); // Trailers-Only
        }
        if parts.status != StatusCode::OK {
            return Ok(Outcome::broken(status_map::from_http_status(parts.status)));
        }
        let encoding = encoding(&parts.headers, wire::GRPC_ENCODING)?;
        self.headers(initial_metadata(&parts.headers), call);
        while let Some((flags, payload)) = self.reader.next_envelope().await? {
            if flags & GRPC_WEB_TRAILERS != 0 {
                let status = trailers::read_status(&trailer_block(&payload))
                    .unwrap_or_else(|| Status::internal("gRPC-Web trailers without grpc-status"));
                return Ok(self.finish(status).await);
            }
            self.message(flags, payload, encoding).await?;
        }
        let status = match self.reader.trailers() {
            Some(trailers) => trailers::read_status(&trailers),
            None => None,
        };
        let status =
            status.unwrap_or_else(|| Status::internal("gRPC-Web response ended without trailers"));
        Ok(Outcome::drained(self.delivery.check_end(status)))
    }

    async fn connect_stream(
        &mut self,
        parts: http::response::Parts,
        call: &CallShared,
    ) -> Result<Outcome, Status> {
        if parts.status != StatusCode::OK {
            return Ok(self.connect_error(&parts).await);
        }
        let encoding = encoding(&parts.headers, connect::CONTENT_ENCODING)?;
        self.headers(initial_metadata(&parts.headers), call);
        while let Some((flags, payload)) = self.reader.next_envelope().await? {
            if flags & connect::END_STREAM != 0 {
                let json = self.unpack(flags, payload, encoding)?;
                let status = connect::status_from_end_stream(&json);
                return Ok(self.finish(status).await);
            }
            self.message(flags, payload, encoding).await?;
        }
        Ok(Outcome::drained(Status::internal(
            "Connect stream ended without its end-of-stream message",
        )))
    }

    async fn connect_unary(
        &mut self,
        parts: http::response::Parts,
        call: &CallShared,
    ) -> Result<Outcome, Status> {
        if parts.status != StatusCode::OK {
            return Ok(self.connect_error(&parts).await);
        }
        let (initial, trailing) = split_trailers(&parts.headers);
        self.headers(initial, call);
        let encoding = encoding(&parts.headers, http::header::CONTENT_ENCODING.as_str())?;
        let body = self.reader.read_all(self.max).await?;
        let compressed = encoding.is_compressing();
        self.trace
            .received(WireMessage::new(body.len(), compressed));
        let message = encoding.decompress(&body, self.max)?;
        let message = match &self.plan.json {
            Some(json) => json.response_to_proto(&message)?,
            None => message,
        };
        self.delivery.deliver(message).await?;
        let status = Status::ok().with_metadata(trailing);
        Ok(Outcome::drained(self.delivery.check_end(status)))
    }

    /// A Connect error response: the error JSON (or, from something that
    /// is not a Connect server, the HTTP status), with the headers as its
    /// metadata.
    async fn connect_error(&mut self, parts: &http::response::Parts) -> Outcome {
        let fallback = status_map::from_http_status(parts.status).code();
        let body = match self.reader.read_all(self.max).await {
            Ok(body) => body,
            Err(status) => return Outcome::broken(status),
        };
        let status = connect::status_from_error_json(&body, fallback)
            .with_metadata(merged_metadata(&parts.headers));
        Outcome::drained(status)
    }

    /// The envelope's payload, decompressed.
    fn unpack(&self, flags: u8, payload: Bytes, encoding: Compression) -> Result<Bytes, Status> {
        if flags & 1 == 0 {
            return Ok(payload);
        }
        if !encoding.is_compressing() {
            return Err(Status::internal(
                "received a compressed message but the response names no compression",
            ));
        }
        encoding.decompress(&payload, self.max)
    }

    /// The response headers arrived with `initial` metadata.
    fn headers(&self, initial: Metadata, call: &CallShared) {
        self.trace.headers(&initial);
        call.set_initial_metadata(initial);
    }

    /// Hands one response message on, as protobuf bytes.
    async fn message(
        &mut self,
        flags: u8,
        payload: Bytes,
        encoding: Compression,
    ) -> Result<(), Status> {
        let compressed = flags & 1 == 1;
        self.trace
            .received(WireMessage::new(payload.len(), compressed));
        let payload = self.unpack(flags, payload, encoding)?;
        let payload = match &self.plan.json {
            Some(json) => json.response_to_proto(&payload)?,
            None => payload,
        };
        self.delivery.deliver(payload).await
    }

    /// The final status; anything after it is a protocol error.
    async fn finish(&mut self, status: Status) -> Outcome {
        match self.reader.next_envelope().await {
            Ok(None) => Outcome::drained(self.delivery.check_end(status)),
            Ok(Some(_)) => Outcome::broken(Status::internal(
                "response continued after its final status",
            )),
            Err(error) => Outcome::broken(error),
        }
    }
}

/// The compression named by `header` (identity when absent).
fn encoding(headers: &HeaderMap, header: &str) -> Result<Compression, Status> {
    match headers.get(header) {
        None => Ok(Compression::Identity),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Compression::from_name)
            .ok_or_else(|| {
                Status::internal(format!(
                    "server used unsupported compression {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ))
            }),
    }
}

/// Headers that belong to the protocol or to HTTP, not to the metadata.
fn is_protocol_header(name: &str) -> bool {
    name.starts_with("connect-")
        || name.starts_with("access-control-")
        || matches!(
            name,
            "content-encoding" | "accept-encoding" | "date" | "vary" | "x-grpc-web"
        )
}

/// The response headers as initial metadata.
fn initial_metadata(headers: &HeaderMap) -> Metadata {
    split_trailers(headers).0
}

/// Connect unary headers as (initial, trailing) metadata: `trailer-`
/// headers are the trailing metadata.
fn split_trailers(headers: &HeaderMap) -> (Metadata, Metadata) {
    let mut initial = HeaderMap::new();
    let mut trailing = HeaderMap::new();
    for (name, value) in headers {
        let text = name.as_str();
        if let Some(key) = text.strip_prefix("trailer-") {
            if let Ok(key) = HeaderName::from_bytes(key.as_bytes()) {
                trailing.append(key, value.clone());
            }
        } else if !is_protocol_header(text) {
            initial.append(name.clone(), value.clone());
        }
    }
    (
        Metadata::from_headers(&initial),
        Metadata::from_headers(&trailing),
    )
}

/// Every header (`trailer-` ones without the prefix) as one metadata: a
/// unary error's.
fn merged_metadata(headers: &HeaderMap) -> Metadata {
    let mut merged = HeaderMap::new();
    for (name, value) in headers {
        let key = name.as_str();
        let key = key.strip_prefix("trailer-").unwrap_or(key);
        if !is_protocol_header(key)
            && let Ok(key) = HeaderName::from_bytes(key.as_bytes())
        {
            merged.append(key, value.clone());
        }
    }
    Metadata::from_headers(&merged)
}

/// gRPC-Web's trailers block (`name:value\r\n` lines) as headers.
fn trailer_block(block: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in block.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name =
            HeaderName::from_bytes(line[..colon].trim_ascii().to_ascii_lowercase().as_slice());
        let value = http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Code;

    #[test]
    fn trailer_blocks_parse() {
        let headers =
            trailer_block(b"grpc-status:5\r\nGrpc-Message: gone\r\nx-key:v\r\nbad line\r\n");
        assert_eq!(headers["grpc-status"], "5");
        assert_eq!(headers["grpc-message"], "gone");
        let status = trailers::read_status(&headers).unwrap();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.details(), "gone");
        assert_eq!(status.metadata().get("x-key"), Some("v"));
    }

    #[test]
    fn unary_trailers_split_from_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("trailer-x-done", "yes".parse().unwrap());
        headers.insert("x-start", "1".parse().unwrap());
        headers.insert("connect-content-encoding", "gzip".parse().unwrap());
        let (initial, trailing) = split_trailers(&headers);
        assert_eq!(initial.get("x-start"), Some("1"));
        assert!(initial.get("connect-content-encoding").is_none());
        assert_eq!(trailing.get("x-done"), Some("yes"));
    }
}
