//! Connect responses: unary (the message is the body, metadata in headers,
//! trailing metadata in `trailer-` headers, errors as JSON with an HTTP
//! status) and streaming (envelopes, then an end-of-stream message).

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Response};

use super::body::Part;
use super::wire::Codec;
use crate::codec::Compression;
use crate::codec::compress::ACCEPT_ENCODING;
use crate::codec::framing::HEADER_LEN;
use crate::metadata::Metadata;
use crate::status::Status;
use crate::wire::connect::{end_stream_json, error_json, http_status};
use crate::wire::json::JsonCodec;

pub(crate) use crate::wire::connect::{
    ACCEPT, CONTENT_ENCODING, END_STREAM, PROTOCOL_VERSION, TIMEOUT_MS,
};

/// Parses `Connect-Timeout-Ms`: at most 10 ASCII digits.
pub(crate) fn parse_timeout(value: &[u8]) -> Result<Duration, Status> {
    let valid = !value.is_empty() && value.len() <= 10 && value.iter().all(u8::is_ascii_digit);
    let millis = std::str::from_utf8(value)
        .ok()
        .filter(|_| valid)
        .and_then(|text| text.parse::<u64>().ok());
    millis.map(Duration::from_millis).ok_or_else(|| {
        Status::invalid_argument(format!(
            "malformed Connect-Timeout-Ms {:?}: expected up to 10 digits",
            String::from_utf8_lossy(value)
        ))
    })
}

/// Checks `Connect-Protocol-Version` (optional; `1` when present).
pub(crate) fn check_version(headers: &HeaderMap) -> Result<(), Status> {
    match headers.get(PROTOCOL_VERSION) {
        None => Ok(()),
        Some(value) if value.as_bytes() == b"1" => Ok(()),
        Some(value) => Err(Status::invalid_argument(format!(
            "unsupported Connect-Protocol-Version {:?}: this server speaks version 1",
            String::from_utf8_lossy(value.as_bytes())
        ))),
    }
}

/// A unary Connect response, held until the status is known.
#[derive(Debug)]
pub(crate) struct Unary {
    content_type: HeaderValue,
    leading: Metadata,
    /// The response message and whether it is compressed.
    message: Option<(Bytes, bool)>,
    encoding: Compression,
    pub(crate) codec: Codec,
    /// Set for `application/json`: the body is the message in JSON.
    pub(crate) json: Option<JsonCodec>,
}

impl Unary {
    pub(crate) fn new(content_type: HeaderValue) -> Unary {
        Unary {
            content_type,
            leading: Metadata::new(),
            message: None,
            encoding: Compression::Identity,
            codec: Codec::Proto,
            json: None,
        }
    }

    pub(crate) fn headers(&mut self, metadata: Metadata, encoding: Compression) {
        self.leading = metadata;
        self.encoding = encoding;
    }

    /// Keeps the (one) response message out of its envelope.
    pub(crate) fn message(&mut self, frame: Bytes, encoding: Compression) -> Result<(), Status> {
        if frame.len() < HEADER_LEN || self.message.is_some() {
            return Err(Status::internal(
                "unary method produced a malformed response",
            ));
        }
        let compressed = frame[0] & 1 == 1;
        let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        if frame.len() != HEADER_LEN + len {
            return Err(Status::internal(
                "unary method produced more than one response message",
            ));
        }
        self.encoding = encoding;
        let message = frame.slice(HEADER_LEN..);
        self.message = Some(match &self.json {
            // JSON calls are never compressed (see `call`).
            Some(codec) => (codec.response_to_json(&message)?, false),
            None => (message, compressed),
        });
        Ok(())
    }

    /// The whole response for `status`.
    pub(crate) fn finish(&mut self, status: &Status) -> Vec<Part> {
        let (mut response, body) = match (status.is_ok(), self.message.take()) {
            (true, Some((message, compressed))) => {
                let mut response = Response::new(());
                let headers = response.headers_mut();
                headers.insert(http::header::CONTENT_TYPE, self.content_type.clone());
                if compressed {
                    headers.insert(
                        http::header::CONTENT_ENCODING,
                        HeaderValue::from_static(self.encoding.name()),
                    );
                }
                (response, message)
            }
            (true, None) => {
                return self.finish(&Status::internal("unary method sent no response message"));
            }
            (false, _) => error_response(status),
        };
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPT_ENCODING),
        );
        std::mem::take(&mut self.leading).write_headers(headers);
        write_trailers(status.metadata(), headers);
        vec![Part::Head(response), Part::Data(body)]
    }
}

/// A unary error: mapped HTTP status, JSON body.
fn error_response(status: &Status) -> (Response<()>, Bytes) {
    let mut response = Response::new(());
    *response.status_mut() = http_status(status.code());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (response, Bytes::from(error_json(status).to_string()))
}

/// Trailing metadata of a unary response as `trailer-` headers.
fn write_trailers(metadata: &Metadata, headers: &mut HeaderMap) {
    let mut trailers = HeaderMap::new();
    metadata.write_headers(&mut trailers);
    for (name, value) in &trailers {
        if let Ok(name) = HeaderName::from_bytes(format!("trailer-{name}").as_bytes()) {
            headers.append(name, value.clone());
        }
    }
}

/// A streaming Connect response.
#[derive(Debug)]
pub(crate) struct Stream {
    content_type: HeaderValue,
    head_sent: bool,
    pub(crate) codec: Codec,
    /// Set for `application/connect+json`: each envelope holds JSON.
    pub(crate) json: Option<JsonCodec>,
}

impl Stream {
    pub(crate) fn new(content_type: HeaderValue) -> Stream {
        Stream {
            content_type,
            head_sent: false,
            codec: Codec::Proto,
            json: None,
        }
    }

    /// Envelopes as they go out: the same bytes, or each message as JSON.
    pub(crate) fn envelopes(&self, frames: Bytes) -> Result<Bytes, Status> {
        let Some(codec) = &self.json else {
            return Ok(frames);
        };
        let mut out = BytesMut::with_capacity(frames.len() * 2);
        let mut rest = &frames[..];
        while rest.len() >= HEADER_LEN {
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let end = (HEADER_LEN + len).min(rest.len());
            let json = codec.response_to_json(&rest[HEADER_LEN..end])?;
            out.put_u8(0);
            out.put_u32(json.len() as u32);
            out.extend_from_slice(&json);
            rest = &rest[end..];
        }
        Ok(out.freeze())
    }

    /// The response head (always 200), unless it went out already.
    pub(crate) fn head(&mut self, metadata: Metadata, encoding: Compression) -> Option<Part> {
        if std::mem::replace(&mut self.head_sent, true) {
            return None;
        }
        let mut response = Response::new(());
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, self.content_type.clone());
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_ENCODING));
        if encoding.is_compressing() {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
        }
        metadata.write_headers(headers);
        Some(Part::Head(response))
    }

    /// The end-of-stream envelope for `status` (after the head if needed).
    pub(crate) fn finish(&mut self, status: &Status) -> Vec<Part> {
        let mut parts: Vec<Part> = self
            .head(Metadata::new(), Compression::Identity)
            .into_iter()
            .collect();
        let json = end_stream_json(status);
        let mut envelope = BytesMut::with_capacity(HEADER_LEN + json.len());
        envelope.put_u8(END_STREAM);
        envelope.put_u32(json.len() as u32);
        envelope.extend_from_slice(&json);
        parts.push(Part::Data(envelope.freeze()));
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(b"1500").unwrap(), Duration::from_millis(1500));
        assert!(parse_timeout(b"").is_err());
        assert!(parse_timeout(b"12345678901").is_err());
        assert!(parse_timeout(b"-1").is_err());
    }
}
