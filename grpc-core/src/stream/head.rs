//! Typed heads: what a gRPC request's headers say about the call (deadline,
//! message encoding, accepted encodings), parsed in one place, and the one
//! parser of an encoding header (`grpc-encoding`, Connect's
//! `content-encoding`) for every protocol and both sides.

use http::{HeaderMap, HeaderValue};
use tokio::time::Instant;

use crate::codec::Compression;
use crate::codec::compress::{EncodingSet, parse_accept_encoding};
use crate::status::Status;
use crate::wire::{self, timeout};

/// The compression an encoding header names; `Identity` without one, and
/// `Err` with the value when it names none this library speaks.
pub(crate) fn message_encoding(value: Option<&HeaderValue>) -> Result<Compression, String> {
    match value {
        None => Ok(Compression::Identity),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Compression::from_name)
            .ok_or_else(|| String::from_utf8_lossy(value.as_bytes()).into_owned()),
    }
}

/// The encodings an accept header lists (empty without one).
pub(crate) fn accepted_encodings(value: Option<&HeaderValue>) -> EncodingSet {
    value
        .and_then(|value| value.to_str().ok())
        .map(parse_accept_encoding)
        .unwrap_or_default()
}

/// What a gRPC request's headers say about the call.
#[derive(Debug)]
pub(crate) struct RequestHead {
    /// From `grpc-timeout`, on tokio's clock.
    pub(crate) deadline: Option<Instant>,
    /// `grpc-encoding`: how compressed request messages are compressed.
    pub(crate) encoding: Compression,
    /// `grpc-accept-encoding`.
    pub(crate) accepted: EncodingSet,
}

impl RequestHead {
    /// Parses the headers; the error is the status to answer with.
    pub(crate) fn parse(headers: &HeaderMap) -> Result<RequestHead, Status> {
        let deadline = match headers.get(wire::GRPC_TIMEOUT) {
            None => None,
            Some(value) => match timeout::parse(value.as_bytes()) {
                Some(timeout) => Instant::now().checked_add(timeout),
                None => {
                    return Err(Status::internal(format!(
                        "malformed grpc-timeout {:?}",
                        String::from_utf8_lossy(value.as_bytes())
                    )));
                }
            },
        };
        if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
            // `grpc-timeout: 0n` and the like: the client has already given up.
            return Err(Status::deadline_exceeded("Deadline Exceeded"));
        }
        let encoding = message_encoding(headers.get(wire::GRPC_ENCODING)).map_err(|name| {
            Status::unimplemented(format!("Compression algorithm '{name}' is not supported"))
        })?;
        Ok(RequestHead {
            deadline,
            encoding,
            accepted: accepted_encodings(headers.get(wire::GRPC_ACCEPT_ENCODING)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_header() {
        assert_eq!(message_encoding(None), Ok(Compression::Identity));
        let gzip = HeaderValue::from_static("gzip");
        assert_eq!(message_encoding(Some(&gzip)), Ok(Compression::Gzip));
        let bad = HeaderValue::from_static("snappy");
        assert_eq!(message_encoding(Some(&bad)), Err("snappy".to_owned()));
    }

    #[test]
    fn a_passed_deadline_and_an_unknown_encoding_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(wire::GRPC_TIMEOUT, HeaderValue::from_static("0n"));
        let status = RequestHead::parse(&headers).unwrap_err();
        assert_eq!(status.code(), crate::Code::DeadlineExceeded);
        let mut headers = HeaderMap::new();
        headers.insert(wire::GRPC_ENCODING, HeaderValue::from_static("br"));
        let status = RequestHead::parse(&headers).unwrap_err();
        assert_eq!(status.code(), crate::Code::Unimplemented);
    }
}
