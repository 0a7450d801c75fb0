//! Connect's unary GET (`?message=...&encoding=proto|json&base64=1&
//! compression=gzip&connect=v1`), turned into the POST it stands for.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Full};

use super::body::RequestBody;
use crate::status::Status;

/// URL-safe base64, padded or not.
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The POST request a Connect GET stands for; `INVALID_ARGUMENT` when
/// its query is not a Connect GET.
pub(crate) fn as_post(mut parts: http::request::Parts) -> Result<Request<RequestBody>, Status> {
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let mut message = None;
    let mut encoding = None;
    let mut base64 = false;
    let mut compression = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode_component(value);
        match key {
            "message" => message = Some(value),
            "encoding" => encoding = Some(value),
            "base64" => base64 = value == b"1",
            "compression" => compression = Some(value),
            _ => {} // `connect=v1` and anything a cache-buster adds
        }
    }
    let message =
        message.ok_or_else(|| Status::invalid_argument("GET request without ?message="))?;
    let content_type = match encoding.as_deref() {
        Some(b"proto") => "application/proto",
        Some(b"json") => "application/json",
        _ => {
            return Err(Status::invalid_argument(
                "GET request needs ?encoding=proto or ?encoding=json",
            ));
        }
    };
    let message = if base64 {
        URL_SAFE.decode(&message).map_err(|error| {
            Status::invalid_argument(format!("invalid base64 in ?message=: {error}"))
        })?
    } else {
        message
    };
    let headers = &mut parts.headers;
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Some(compression) = compression
        && let Ok(value) = HeaderValue::from_bytes(&compression)
    {
        headers.insert(http::header::CONTENT_ENCODING, value);
    }
    parts.method = http::Method::POST;
    let body = Full::new(Bytes::from(message))
        .map_err(|never| match never {})
        .boxed_unsync();
    Ok(Request::from_parts(parts, body))
}

/// A query value, `+` as space and `%XX` decoded.
fn decode_component(value: &str) -> Vec<u8> {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> http::request::Parts {
        Request::get(uri).body(()).unwrap().into_parts().0
    }

    #[test]
    fn json_and_base64_queries() {
        let request = as_post(parts(
            "/a.B/C?encoding=json&message=%7B%22name%22%3A%22x%22%7D&connect=v1",
        ))
        .unwrap();
        assert_eq!(request.headers()["content-type"], "application/json");
        let request = as_post(parts("/a.B/C?encoding=proto&base64=1&message=CgV3b3JsZA")).unwrap();
        assert_eq!(request.headers()["content-type"], "application/proto");
        assert!(as_post(parts("/a.B/C?encoding=xml&message=x")).is_err());
        assert!(as_post(parts("/a.B/C?encoding=proto&base64=1&message=!!")).is_err());
        assert!(as_post(parts("/a.B/C")).is_err());
    }
}
