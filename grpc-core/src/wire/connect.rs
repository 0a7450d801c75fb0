//! The Connect protocol's vocabulary, shared by client and server: its
//! headers, lowercase code names, the HTTP status of a unary error, and
//! the error JSON (`code`, `message`, `details` as `google.rpc` `Any`s
//! with base64 values).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::metadata::{Metadata, MetadataValue};
use crate::status::{Code, Status};

/// `Connect-Protocol-Version`.
pub(crate) const PROTOCOL_VERSION: &str = "connect-protocol-version";
/// `Connect-Timeout-Ms`.
pub(crate) const TIMEOUT_MS: &str = "connect-timeout-ms";
/// The streaming request's compression.
pub(crate) const CONTENT_ENCODING: &str = "connect-content-encoding";
/// What a streaming client accepts.
pub(crate) const ACCEPT: &str = "connect-accept-encoding";
/// Flag of the end-of-stream envelope.
pub(crate) const END_STREAM: u8 = 0x02;

/// The Connect name of a code (`canceled`, `invalid_argument`, ...).
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a unary Connect error with `code`.
pub(crate) fn http_status(code: Code) -> StatusCode {
    let status = match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `google.rpc.Status`, as `grpc-status-details-bin` carries it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// The error object of a status (`{"code": ..., "message": ..., "details": [...]}`).
pub(crate) fn error_json(status: &Status) -> Value {
    let mut error = Map::new();
    error.insert("code".into(), json!(code_name(status.code())));
    if !status.details().is_empty() {
        error.insert("message".into(), json!(status.details()));
    }
    let details = details_json(status);
    if !details.is_empty() {
        error.insert("details".into(), Value::Array(details));
    }
    Value::Object(error)
}

/// The `Any`s of the status's binary details (a `google.rpc.Status`); an
/// undecodable blob is left out.
fn details_json(status: &Status) -> Vec<Value> {
    if status.binary_details().is_empty() {
        return Vec::new();
    }
    let Ok(decoded) = <RpcStatus as prost::Message>::decode(status.binary_details().clone()) else {
        tracing::debug!("binary status details are not a google.rpc.Status; left out");
        return Vec::new();
    };
    decoded
        .details
        .iter()
        .map(|any| {
            let name = any.type_url.rsplit('/').next().unwrap_or_default();
            json!({"type": name, "value": STANDARD_NO_PAD.encode(&any.value)})
        })
        .collect()
}

/// Metadata as Connect's end-of-stream JSON (`{"key": ["value", ...]}`).
pub(crate) fn metadata_json(metadata: &Metadata) -> Value {
    let mut object = Map::new();
    for (key, value) in metadata.iter() {
        let text = match value {
            MetadataValue::Ascii(text) => text.clone(),
            MetadataValue::Binary(bytes) => STANDARD.encode(bytes),
        };
        let entry = object
            .entry(key.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(text));
        }
    }
    Value::Object(object)
}

/// The end-of-stream message: the error (if any) and trailing metadata.
pub(crate) fn end_stream_json(status: &Status) -> Vec<u8> {
    let mut end = Map::new();
    if !status.is_ok() {
        end.insert("error".into(), error_json(status));
    }
    if !status.metadata().is_empty() {
        end.insert("metadata".into(), metadata_json(status.metadata()));
    }
    Value::Object(end).to_string().into_bytes()
}

/// The code a Connect code name stands for (`None` for an unknown name).
pub(crate) fn code_from_name(name: &str) -> Option<Code> {
    (0..=16)
        .map(Code::from_i32)
        .find(|code| code_name(*code) == name)
}

/// The status an error JSON object stands for (`{"code", "message",
/// "details"}`); `fallback` when the body is not a Connect error (a proxy's
/// page), with the body's start as details. The details travel on as the
/// binary `google.rpc.Status`, as over gRPC.
pub(crate) fn status_from_error_json(body: &[u8], fallback: Code) -> Status {
    let Ok(Value::Object(error)) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Status::new(fallback, text);
    };
    status_from_error_object(&error, fallback)
}

fn status_from_error_object(error: &Map<String, Value>, fallback: Code) -> Status {
    let code = error
        .get("code")
        .and_then(Value::as_str)
        .and_then(code_from_name)
        .unwrap_or(fallback);
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let details: Vec<Any> = error
        .get("details")
        .and_then(Value::as_array)
        .map(|details| details.iter().filter_map(any_from_json).collect())
        .unwrap_or_default();
    let status = Status::new(code, message);
    if details.is_empty() {
        return status;
    }
    let rpc = RpcStatus {
        code: code as i32,
        message: message.to_owned(),
        details,
    };
    status.with_binary_details(prost::Message::encode_to_vec(&rpc))
}

/// One `{"type": ..., "value": base64}` detail as an `Any`.
fn any_from_json(detail: &Value) -> Option<Any> {
    let name = detail.get("type")?.as_str()?;
    let value = detail.get("value")?.as_str()?;
    let value = STANDARD_NO_PAD.decode(value.trim_end_matches('=')).ok()?;
    Some(Any {
        type_url: format!("type.googleapis.com/{name}"),
        value,
    })
}

/// Connect's end-of-stream JSON as the call's final status: the error (or
/// OK) with the trailing metadata.
pub(crate) fn status_from_end_stream(body: &[u8]) -> Status {
    let Ok(Value::Object(end)) = serde_json::from_slice::<Value>(body) else {
        return Status::internal("malformed Connect end-of-stream message");
    };
    let status = match end.get("error") {
        Some(Value::Object(error)) => status_from_error_object(error, Code::Unknown),
        Some(_) => Status::unknown("malformed error in Connect end-of-stream message"),
        None => Status::new(Code::Ok, ""),
    };
    match end.get("metadata") {
        Some(Value::Object(metadata)) => status.with_metadata(metadata_from_json(metadata)),
        _ => status,
    }
}

/// End-of-stream metadata (`{"key": ["value", ...]}`) as metadata; keys
/// ending in `-bin` hold base64.
fn metadata_from_json(object: &Map<String, Value>) -> Metadata {
    let mut headers = http::HeaderMap::new();
    for (key, values) in object {
        let Ok(name) = http::HeaderName::from_bytes(key.as_bytes()) else {
            continue;
        };
        for value in values.as_array().into_iter().flatten() {
            if let Some(value) = value
                .as_str()
                .and_then(|v| http::HeaderValue::from_str(v).ok())
            {
                headers.append(name.clone(), value);
            }
        }
    }
    Metadata::from_headers(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    /// NOT_FOUND with one `google.rpc.ErrorInfo` detail.
    fn not_found_with_details() -> Status {
        let details = RpcStatus {
            code: 5,
            message: "missing".into(),
            details: vec![Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: vec![1, 2, 3],
            }],
        };
        Status::new(Code::NotFound, "missing").with_binary_details(details.encode_to_vec())
    }

    #[test]
    fn error_json_has_code_message_and_details() {
        let status = not_found_with_details();
        let value = error_json(&status);
        assert_eq!(value["code"], "not_found");
        assert_eq!(value["message"], "missing");
        assert_eq!(value["details"][0]["type"], "google.rpc.ErrorInfo");
        assert_eq!(value["details"][0]["value"], "AQID");
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(code_name(Code::Cancelled), "canceled");
    }

    #[test]
    fn error_json_round_trips() {
        let status = not_found_with_details();
        let body = error_json(&status).to_string();
        let back = status_from_error_json(body.as_bytes(), Code::Unknown);
        assert_eq!(back.code(), Code::NotFound);
        assert_eq!(back.details(), "missing");
        assert_eq!(back.binary_details(), status.binary_details());
        let page = status_from_error_json(b"<html>bad gateway</html>", Code::Unavailable);
        assert_eq!(page.code(), Code::Unavailable);
        assert!(page.details().contains("bad gateway"));
    }

    #[test]
    fn end_stream_round_trips() {
        let mut metadata = Metadata::new();
        metadata.insert("trailer-key", "value").unwrap();
        let status = Status::new(Code::Aborted, "stop").with_metadata(metadata);
        let back = status_from_end_stream(&end_stream_json(&status));
        assert_eq!(back.code(), Code::Aborted);
        assert_eq!(back.details(), "stop");
        assert_eq!(back.metadata().get("trailer-key").unwrap(), "value");
        assert!(status_from_end_stream(b"{}").is_ok());
        assert_eq!(status_from_end_stream(b"[").code(), Code::Internal);
    }

    #[test]
    fn garbage_details_are_left_out() {
        let status = Status::internal("x").with_binary_details(vec![0xff, 0xff, 0xff]);
        assert!(error_json(&status).get("details").is_none());
    }
}
