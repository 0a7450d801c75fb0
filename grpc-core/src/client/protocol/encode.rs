//! Requests of gRPC-Web and Connect calls: the head (content type, the
//! protocol's timeout and compression headers, metadata) and the body,
//! made from the gRPC frames the call core encodes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request};
use tokio::time::Instant;

use super::Plan;
use super::http::{Body, HttpVersion};
use crate::client::rpc::{Invocation, write_call_metadata};
use crate::codec::Compression;
use crate::codec::compress::ACCEPT_ENCODING;
use crate::codec::framing::HEADER_LEN;
use crate::server::protocol::base64_stream;
use crate::status::Status;
use crate::wire::{self, connect, timeout};

/// The request and response form of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// gRPC-Web: gRPC envelopes, trailers in the body.
    GrpcWeb,
    /// Connect unary: the message is the body.
    ConnectUnary,
    /// Connect unary as a GET: the message is in the query.
    ConnectGet,
    /// Connect streaming: envelopes and an end-of-stream message.
    ConnectStream,
}

impl Plan {
    /// One request frame as the protocol's envelope (JSON transcoded;
    /// base64, padded, for grpc-web-text).
    pub(crate) fn envelope(
        &self,
        frame: Bytes,
        compression: Compression,
        max: usize,
    ) -> Result<Bytes, Status> {
        let envelope = self.binary_envelope(frame, compression, max)?;
        Ok(if self.text {
            base64_stream::encode(&envelope)
        } else {
            envelope
        })
    }

    fn binary_envelope(
        &self,
        frame: Bytes,
        compression: Compression,
        max: usize,
    ) -> Result<Bytes, Status> {
        if self.json.is_none() {
            return Ok(frame);
        }
        let (payload, compressed) = self.message(frame, compression, max)?;
        let mut envelope = BytesMut::with_capacity(HEADER_LEN + payload.len());
        envelope.put_u8(u8::from(compressed));
        envelope.put_u32(payload.len() as u32);
        envelope.extend_from_slice(&payload);
        Ok(envelope.freeze())
    }

    /// One request frame as a bare message (JSON transcoded) and whether
    /// it is compressed.
    pub(crate) fn message(
        &self,
        frame: Bytes,
        compression: Compression,
        max: usize,
    ) -> Result<(Bytes, bool), Status> {
        if frame.len() < HEADER_LEN {
            return Err(Status::internal("malformed request frame"));
        }
        let compressed = frame[0] & 1 == 1;
        let payload = frame.slice(HEADER_LEN..);
        let Some(json) = &self.json else {
            return Ok((payload, compressed));
        };
        let proto = if compressed {
            compression.decompress(&payload, usize::MAX)?
        } else {
            payload
        };
        let text = json.request_to_json(&proto)?;
        if !compression.is_compressing() {
            return Ok((text, false));
        }
        let mut out = BytesMut::new();
        compression.compress_into(&text, &mut out)?;
        if out.len() > max {
            return Err(Status::resource_exhausted(format!(
                "Sent message larger than max ({} vs. {max})",
                out.len()
            )));
        }
        Ok((out.freeze(), true))
    }
}

/// The request head and what its body is.
pub(crate) fn request(
    plan: &Plan,
    invocation: &Invocation<'_>,
    deadline: Option<Instant>,
    whole: Option<Bytes>,
) -> Result<(Request<()>, Body), Status> {
    let compression = invocation.compression();
    let max = invocation.channel.config().max_send_message_length;
    let mut headers = HeaderMap::new();
    let mut query = String::new();
    let body = match (plan.shape, whole) {
        (Shape::ConnectUnary | Shape::ConnectGet, Some(frame)) => {
            let (message, compressed) = plan.message(frame, compression, max)?;
            if plan.shape == Shape::ConnectGet {
                query = get_query(plan, &message, compressed.then_some(compression));
                Body::Empty
            } else {
                if compressed {
                    headers.insert(
                        http::header::CONTENT_ENCODING,
                        HeaderValue::from_static(compression.name()),
                    );
                }
                Body::Whole(message)
            }
        }
        (_, Some(frame)) => Body::Whole(plan.envelope(frame, compression, max)?),
        (_, None) => Body::Streamed,
    };
    protocol_headers(plan, compression, deadline, &mut headers);
    let method = match plan.shape {
        Shape::ConnectGet => Method::GET,
        _ => Method::POST,
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri(plan.http, invocation, &query)?)
        .body(())
        .map_err(|error| Status::internal("failed to build request").with_source(error))?;
    let all = request.headers_mut();
    if plan.http == HttpVersion::Http1
        && let Ok(host) = HeaderValue::from_str(invocation.channel.inner().authority.as_str())
    {
        all.insert(http::header::HOST, host);
    }
    all.extend(headers);
    write_call_metadata(invocation, all);
    Ok((request, body))
}

/// The URI: absolute for HTTP/2, origin form (with `Host`) for HTTP/1.1.
fn uri(http: HttpVersion, invocation: &Invocation<'_>, query: &str) -> Result<http::Uri, Status> {
    let path = if query.is_empty() {
        invocation.path.to_owned()
    } else {
        format!("{}?{query}", invocation.path)
    };
    let builder = match http {
        HttpVersion::Http1 => http::Uri::builder(),
        HttpVersion::Http2 => http::Uri::builder()
            .scheme(invocation.channel.config().scheme)
            .authority(invocation.channel.inner().authority.clone()),
    };
    builder.path_and_query(path).build().map_err(|error| {
        Status::internal(format!("invalid method path {:?}", invocation.path)).with_source(error)
    })
}

/// `connect=v1&encoding=...&base64=1&message=...[&compression=...]`.
fn get_query(plan: &Plan, message: &[u8], compression: Option<Compression>) -> String {
    let encoding = if plan.json.is_some() { "json" } else { "proto" };
    let mut query = format!(
        "connect=v1&encoding={encoding}&base64=1&message={}",
        URL_SAFE_NO_PAD.encode(message)
    );
    if let Some(compression) = compression {
        query.push_str("&compression=");
        query.push_str(compression.name());
    }
    query
}

/// Content type, deadline and compression headers of the protocol.
fn protocol_headers(
    plan: &Plan,
    compression: Compression,
    deadline: Option<Instant>,
    headers: &mut HeaderMap,
) {
    let remaining = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
    let json = plan.json.is_some();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    let content_type = match plan.shape {
        Shape::GrpcWeb => {
            put("x-grpc-web", "1");
            put(wire::GRPC_ACCEPT_ENCODING, ACCEPT_ENCODING);
            if compression.is_compressing() {
                put(wire::GRPC_ENCODING, compression.name());
            }
            if let Some(remaining) = remaining {
                put(wire::GRPC_TIMEOUT, &timeout::format(remaining));
            }
            Some(if plan.text {
                "application/grpc-web-text"
            } else {
                "application/grpc-web+proto"
            })
        }
        Shape::ConnectUnary | Shape::ConnectGet => {
            put("accept-encoding", ACCEPT_ENCODING);
            (plan.shape == Shape::ConnectUnary).then_some(if json {
                "application/json"
            } else {
                "application/proto"
            })
        }
        Shape::ConnectStream => {
            put(connect::ACCEPT, ACCEPT_ENCODING);
            if compression.is_compressing() {
                put(connect::CONTENT_ENCODING, compression.name());
            }
            Some(if json {
                "application/connect+json"
            } else {
                "application/connect+proto"
            })
        }
    };
    if plan.shape != Shape::GrpcWeb {
        put(connect::PROTOCOL_VERSION, "1");
        if let Some(remaining) = remaining {
            // Rounded up: a deadline a fraction of a millisecond away is
            // not already over.
            let millis = remaining.as_micros().div_ceil(1000).min(9_999_999_999);
            put(connect::TIMEOUT_MS, &millis.to_string());
        }
    }
    if let Some(content_type) = content_type {
        put("content-type", content_type);
    }
}
