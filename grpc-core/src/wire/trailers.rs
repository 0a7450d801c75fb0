//! Status to and from trailers (or a Trailers-Only HEADERS frame).

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use super::{GRPC_MESSAGE, GRPC_STATUS, GRPC_STATUS_DETAILS_BIN, message};
use crate::metadata::Metadata;
use crate::status::{Code, Status};

/// Writes `grpc-status`, `grpc-message`, `grpc-status-details-bin` and the
/// status's metadata into `headers`.
pub(crate) fn write_status(status: &Status, headers: &mut HeaderMap) {
    status.metadata().write_headers(headers);
    headers.insert(GRPC_STATUS, status.code().header_value());
    if !status.details().is_empty()
        && let Ok(value) = HeaderValue::from_str(&message::encode(&capped(status.details())))
    {
        headers.insert(GRPC_MESSAGE, value);
    }
    if !status.binary_details().is_empty() {
        let encoded =
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(status.binary_details());
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert(GRPC_STATUS_DETAILS_BIN, value);
        }
    }
}

/// Longest `grpc-message` sent, in bytes before encoding: peers limit the
/// whole header list (16 KiB is common), and a longer message would make
/// them reject the trailers or drop the connection.
const MAX_MESSAGE_LEN: usize = 4 << 10;

/// `details`, cut at a character boundary when over [`MAX_MESSAGE_LEN`].
fn capped(details: &str) -> std::borrow::Cow<'_, str> {
    if details.len() <= MAX_MESSAGE_LEN {
        return details.into();
    }
    let mut end = MAX_MESSAGE_LEN;
    while !details.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... (truncated)", &details[..end]).into()
}

/// Reads the status out of trailers; `None` when `grpc-status` is absent.
/// A malformed `grpc-status` becomes `UNKNOWN`.
pub(crate) fn read_status(headers: &HeaderMap) -> Option<Status> {
    let raw_code = headers.get(GRPC_STATUS)?;
    let code = Code::from_header(raw_code.as_bytes()).unwrap_or(Code::Unknown);
    let details = headers
        .get(GRPC_MESSAGE)
        .map(|value| message::decode(value.as_bytes()))
        .unwrap_or_default();
    let mut status = Status::new(code, details).with_metadata(Metadata::from_headers(headers));
    if let Some(value) = headers.get(GRPC_STATUS_DETAILS_BIN) {
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        if let Ok(bytes) = engine.decode(value.as_bytes()) {
            status = status.with_binary_details(Bytes::from(bytes));
        }
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips() {
        let status = Status::new(Code::NotFound, "n\u{e3}o encontrado 100%")
            .with_binary_details(Bytes::from_static(b"\x00\x01"))
            .with_metadata(Metadata::from_pairs([("k", "v")]).unwrap());
        let mut headers = HeaderMap::new();
        write_status(&status, &mut headers);
        let read = read_status(&headers).unwrap();
        assert_eq!(read.code(), Code::NotFound);
        assert_eq!(read.details(), status.details());
        assert_eq!(read.binary_details(), status.binary_details());
        assert_eq!(read.metadata().get("k"), Some("v"));
    }

    #[test]
    fn long_messages_are_truncated_at_a_character_boundary() {
        let long = "\u{e9}".repeat(10_000);
        let mut headers = HeaderMap::new();
        write_status(&Status::internal(long), &mut headers);
        let read = read_status(&headers).unwrap();
        assert!(read.details().ends_with("... (truncated)"));
        assert!(read.details().len() <= MAX_MESSAGE_LEN + 20);
        assert!(headers.get(GRPC_MESSAGE).unwrap().len() < 16 << 10);
    }

    #[test]
    fn malformed_status_is_unknown() {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_STATUS, HeaderValue::from_static("nope"));
        assert_eq!(read_status(&headers).unwrap().code(), Code::Unknown);
        assert!(read_status(&HeaderMap::new()).is_none());
    }
}

#[cfg(test)]
mod props {
    use http::{HeaderName, HeaderValue};
    use proptest::prelude::*;

    use super::*;

    /// Header maps a peer could send: reserved and user names, any value
    /// bytes a header may carry.
    fn any_headers() -> impl Strategy<Value = HeaderMap> {
        let name = prop_oneof![
            Just("grpc-status".to_owned()),
            Just("grpc-message".to_owned()),
            Just("grpc-status-details-bin".to_owned()),
            Just("x-bin".to_owned()),
            "[a-z0-9-]{1,12}(-bin)?",
        ];
        let value =
            prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..40);
        prop::collection::vec((name, value), 0..10).prop_map(|pairs| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_bytes(&value),
                ) {
                    headers.append(name, value);
                }
            }
            headers
        })
    }

    proptest! {
        /// Any trailers a peer sends read without panicking; a status is
        /// found exactly when grpc-status is present.
        #[test]
        fn read_status_never_panics(headers in any_headers()) {
            let status = read_status(&headers);
            prop_assert_eq!(status.is_some(), headers.contains_key(GRPC_STATUS));
        }

        /// Every status we write reads back with its code, details and
        /// binary details.
        #[test]
        fn statuses_round_trip(
            code in 1i32..=16,
            details in any::<String>(),
            binary in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        ) {
            let code = Code::from_i32(code);
            let mut status = Status::new(code, details.clone());
            if let Some(bytes) = &binary {
                status = status.with_binary_details(Bytes::from(bytes.clone()));
            }
            let mut headers = HeaderMap::new();
            write_status(&status, &mut headers);
            let read = read_status(&headers);
            prop_assert!(read.is_some());
            let read = read.unwrap_or_else(|| Status::new(Code::Unknown, ""));
            prop_assert_eq!(read.code(), code);
            if details.len() <= MAX_MESSAGE_LEN {
                prop_assert_eq!(read.details(), details.as_str());
            }
            prop_assert_eq!(read.binary_details().to_vec(), binary.unwrap_or_default());
        }
    }
}
