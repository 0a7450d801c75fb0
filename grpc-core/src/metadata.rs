//! [`Metadata`]: ordered key/value pairs sent as HTTP/2 headers, with ASCII
//! values and binary values under `-bin` keys (base64 on the wire).

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, Kind};

/// Emits unpadded base64, as the spec recommends.
const BASE64_ENCODE: GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;
/// Accepts padded and unpadded base64, as the spec requires.
const BASE64_DECODE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One metadata value: printable ASCII text, or bytes under a `-bin` key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum MetadataValue {
    /// A value of an ordinary key: printable ASCII (0x20..=0x7E).
    Ascii(String),
    /// A value of a key ending in `-bin`: any bytes.
    Binary(Bytes),
}

impl MetadataValue {
    /// The text of an ASCII value; `None` for a binary one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetadataValue::Ascii(text) => Some(text),
            MetadataValue::Binary(_) => None,
        }
    }

    /// The bytes of the value (the text's bytes for an ASCII value).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MetadataValue::Ascii(text) => text.as_bytes(),
            MetadataValue::Binary(bytes) => bytes,
        }
    }
}

impl fmt::Debug for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataValue::Ascii(text) => fmt::Debug::fmt(text, f),
            MetadataValue::Binary(bytes) => write!(f, "b{:?}", bytes.as_ref()),
        }
    }
}

/// Ordered, multi-valued metadata: grpcio's sequence of `(key, value)` pairs.
///
/// Keys are lowercase `[0-9a-z_.-]`; keys ending in `-bin` carry bytes, all
/// others printable ASCII. Keys starting with `grpc-` are reserved for the
/// protocol and rejected.
///
/// ```
/// use grpc_core::Metadata;
/// let mut md = Metadata::from_pairs([("user-agent", "my-client/1.0"), ("tenant", "blue")])?;
/// md.append("trace-bin", [0u8, 159, 146, 150])?;
/// assert_eq!(md.get("tenant"), Some("blue"));
/// assert_eq!(md.get_bin("trace-bin"), Some(&[0u8, 159, 146, 150][..]));
/// assert!(Metadata::from_pairs([("grpc-status", "0")]).is_err());
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, MetadataValue)>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Metadata from `(key, value)` pairs, validated; values of `-bin` keys
    /// are taken as raw bytes.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Metadata, Error>
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut metadata = Metadata::new();
        for (key, value) in pairs {
            metadata.append(key, value)?;
        }
        Ok(metadata)
    }

    /// Adds a value, keeping earlier values of the same key.
    pub fn append(&mut self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let key = validate_key(key.as_ref())?;
        let value = validate_value(&key, value.as_ref())?;
        self.entries.push((key, value));
        Ok(())
    }

    /// Sets the only value of a key, replacing earlier ones.
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let key = validate_key(key.as_ref())?;
        let value = validate_value(&key, value.as_ref())?;
        self.entries.retain(|(existing, _)| *existing != key);
        self.entries.push((key, value));
        Ok(())
    }

    /// The first ASCII value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key).find_map(MetadataValue::as_str)
    }

    /// The first value of a `-bin` key.
    pub fn get_bin(&self, key: &str) -> Option<&[u8]> {
        self.get_all(key).find_map(|value| match value {
            MetadataValue::Binary(bytes) => Some(bytes.as_ref()),
            MetadataValue::Ascii(_) => None,
        })
    }

    /// Every value of `key`, in order.
    pub fn get_all<'a, 'k>(
        &'a self,
        key: &'k str,
    ) -> impl Iterator<Item = &'a MetadataValue> + use<'a, 'k> {
        self.entries
            .iter()
            .filter(move |(existing, _)| existing.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    }

    /// True when `key` has at least one value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get_all(key).next().is_some()
    }

    /// Removes every value of `key`; returns how many were removed.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(key));
        before - self.entries.len()
    }

    /// All pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MetadataValue)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends every pair of `other`.
    pub fn extend(&mut self, other: Metadata) {
        self.entries.extend(other.entries);
    }

    /// Writes the pairs as HTTP/2 headers (binary values base64, unpadded).
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) {
        for (key, value) in &self.entries {
            // Keys were validated on insertion, so they are valid header names.
            let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
                continue;
            };
            let header_value = match value {
                MetadataValue::Ascii(text) => HeaderValue::from_str(text),
                MetadataValue::Binary(bytes) => HeaderValue::from_str(&BASE64_ENCODE.encode(bytes)),
            };
            if let Ok(header_value) = header_value {
                headers.append(name, header_value);
            }
        }
    }

    /// Reads user metadata out of HTTP/2 headers, leaving out reserved ones
    /// (`content-type`, `te`, `grpc-*`, ...). Undecodable values are dropped.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Metadata {
        let mut entries = Vec::new();
        for (name, value) in headers {
            let key = name.as_str();
            // The retry header is shown to servers (as grpc-go and C-core do).
            if is_reserved_header(key) && key != "grpc-previous-rpc-attempts" {
                continue;
            }
            if key.ends_with("-bin") {
                for part in value.as_bytes().split(|b| *b == b',') {
                    let part = part.trim_ascii();
                    match BASE64_DECODE.decode(part) {
                        Ok(bytes) => {
                            entries.push((key.to_owned(), MetadataValue::Binary(bytes.into())))
                        }
                        Err(error) => {
                            tracing::debug!(key, %error, "dropping undecodable binary metadata value");
                        }
                    }
                }
            } else if let Ok(text) = value.to_str() {
                entries.push((key.to_owned(), MetadataValue::Ascii(text.to_owned())));
            } else {
                tracing::debug!(key, "dropping non-ASCII metadata value");
            }
        }
        Metadata { entries }
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a str, &'a MetadataValue);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a MetadataValue)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Headers the protocol owns; never shown to users as metadata.
pub(crate) fn is_reserved_header(key: &str) -> bool {
    key.starts_with("grpc-")
        || key.starts_with(':')
        || matches!(
            key,
            "content-type"
                | "te"
                | "content-length"
                | "connection"
                | "host"
                | "keep-alive"
                | "proxy-connection"
                | "transfer-encoding"
                | "upgrade"
        )
}

fn validate_key(key: &str) -> Result<String, Error> {
    if key.is_empty() {
        return Err(Error::new(Kind::InvalidMetadata, "metadata key is empty"));
    }
    let key = key.to_ascii_lowercase();
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_ascii_digit() || c.is_ascii_lowercase() || matches!(c, '-' | '_' | '.')))
    {
        return Err(Error::new(
            Kind::InvalidMetadata,
            format!("metadata key {key:?} contains {bad:?}; keys are [0-9a-z_.-]"),
        ));
    }
    if is_reserved_header(&key) && key != "user-agent" {
        return Err(Error::new(
            Kind::InvalidMetadata,
            format!("metadata key {key:?} is reserved for the gRPC protocol"),
        ));
    }
    Ok(key)
}

fn validate_value(key: &str, value: &[u8]) -> Result<MetadataValue, Error> {
    if key.ends_with("-bin") {
        return Ok(MetadataValue::Binary(Bytes::copy_from_slice(value)));
    }
    match std::str::from_utf8(value) {
        Ok(text) if text.bytes().all(|b| (0x20..=0x7e).contains(&b)) => {
            Ok(MetadataValue::Ascii(text.to_owned()))
        }
        _ => Err(Error::new(
            Kind::InvalidMetadata,
            format!(
                "value of metadata key {key:?} must be printable ASCII; use a key ending in \"-bin\" for binary values"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated_and_lowercased() {
        let md = Metadata::from_pairs([("X-Trace", "1")]).unwrap();
        assert_eq!(md.get("x-trace"), Some("1"));
        assert!(Metadata::from_pairs([("bad key", "1")]).is_err());
        assert!(Metadata::from_pairs([("", "1")]).is_err());
        assert!(
            Metadata::from_pairs([("grpc-timeout", "1S")])
                .unwrap_err()
                .is_invalid_metadata()
        );
        assert!(Metadata::from_pairs([("content-type", "x")]).is_err());
        assert!(Metadata::from_pairs([("k", "caf\u{e9}")]).is_err());
        assert!(Metadata::from_pairs([("k", "line\nbreak")]).is_err());
    }

    #[test]
    fn binary_values_round_trip_through_headers() {
        let mut md = Metadata::new();
        md.append("k-bin", [0u8, 1, 2, 255]).unwrap();
        md.append("k-bin", b"second").unwrap();
        md.append("plain", "value").unwrap();
        let mut headers = HeaderMap::new();
        md.write_headers(&mut headers);
        assert_eq!(headers.get("k-bin").unwrap(), "AAEC/w");
        assert_eq!(Metadata::from_headers(&headers), md);
    }

    #[test]
    fn padded_unpadded_and_comma_joined_binary_values_are_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert("a-bin", HeaderValue::from_static("AAEC/w=="));
        headers.insert("b-bin", HeaderValue::from_static("AAEC/w, YWJj"));
        headers.insert("c-bin", HeaderValue::from_static("!!!"));
        let md = Metadata::from_headers(&headers);
        assert_eq!(md.get_bin("a-bin"), Some(&[0u8, 1, 2, 255][..]));
        let b: Vec<_> = md.get_all("b-bin").map(|v| v.as_bytes().to_vec()).collect();
        assert_eq!(b, vec![vec![0u8, 1, 2, 255], b"abc".to_vec()]);
        assert!(!md.contains_key("c-bin"));
    }

    #[test]
    fn reserved_headers_are_not_user_metadata() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("grpc-timeout", HeaderValue::from_static("1S"));
        headers.insert("grpc-status", HeaderValue::from_static("0"));
        headers.insert("user-agent", HeaderValue::from_static("x"));
        headers.insert("custom", HeaderValue::from_static("y"));
        let md = Metadata::from_headers(&headers);
        let keys: Vec<_> = md.iter().map(|(k, _)| k.to_owned()).collect();
        assert_eq!(keys, vec!["user-agent", "custom"]);
    }

    #[test]
    fn insert_replaces_and_remove_counts() {
        let mut md = Metadata::from_pairs([("a", "1"), ("a", "2"), ("b", "3")]).unwrap();
        md.insert("a", "9").unwrap();
        assert_eq!(md.get_all("a").count(), 1);
        assert_eq!(md.remove("b"), 1);
        assert_eq!(md.len(), 1);
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn user_key() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9_.-]{0,10}".prop_filter("reserved", |key| {
            !is_reserved_header(key) && !key.ends_with("-bin")
        })
    }

    proptest! {
        /// Whatever header values a peer sends, reading metadata never
        /// panics and never shows a reserved header.
        #[test]
        fn from_headers_never_panics(
            pairs in prop::collection::vec(
                ("[a-z0-9:-]{1,12}", prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff], 0..40)),
                0..12,
            ),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value))
                {
                    headers.append(name, value);
                }
            }
            let metadata = Metadata::from_headers(&headers);
            for (key, _) in metadata.iter() {
                prop_assert!(!is_reserved_header(key), "{}", key);
            }
        }

        /// Metadata we write reads back unchanged: ASCII text and binary
        /// values, repeated keys in order.
        #[test]
        fn round_trips_through_headers(
            text in prop::collection::vec((user_key(), "[ -~]{0,30}"), 0..6),
            binary in prop::collection::vec((user_key(), prop::collection::vec(any::<u8>(), 0..40)), 0..6),
        ) {
            let mut metadata = Metadata::new();
            for (key, value) in &text {
                if metadata.append(key, value.trim()).is_err() {
                    return Err(TestCaseError::reject("value refused"));
                }
            }
            for (key, value) in &binary {
                metadata
                    .append(format!("{key}-bin"), value)
                    .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            }
            let mut headers = HeaderMap::new();
            metadata.write_headers(&mut headers);
            let read = Metadata::from_headers(&headers);
            let sorted = |md: &Metadata| {
                let mut pairs: Vec<(String, Vec<u8>)> =
                    md.iter().map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec())).collect();
                pairs.sort();
                pairs
            };
            prop_assert_eq!(sorted(&read), sorted(&metadata));
        }
    }
}
