//! `grpc-message`: UTF-8 text, percent-encoded outside printable ASCII.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode, utf8_percent_encode};

/// Everything outside 0x20..=0x7E, plus `%` itself.
const ENCODE_SET: &AsciiSet = &CONTROLS.add(b'%');

/// Percent-encodes a status message for the `grpc-message` header.
pub(crate) fn encode(details: &str) -> String {
    utf8_percent_encode(details, ENCODE_SET).to_string()
}

/// Decodes a received `grpc-message`; invalid escapes are kept verbatim and
/// invalid UTF-8 is replaced, as the spec asks (never an error).
pub(crate) fn decode(value: &[u8]) -> String {
    percent_decode(value).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_non_ascii_and_percent() {
        let text = "¡Hola! 100% \u{1F600} tab\there\r\n";
        let encoded = encode(text);
        assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        assert_eq!(decode(encoded.as_bytes()), text);
        assert_eq!(encode("a%b"), "a%25b");
    }

    #[test]
    fn tolerates_bad_escapes() {
        assert_eq!(decode(b"50%zz"), "50%zz");
        assert_eq!(decode(b"%FF"), "\u{FFFD}");
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text survives encoding, and the encoding is printable ASCII.
        #[test]
        fn round_trips(text in any::<String>()) {
            let encoded = encode(&text);
            prop_assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(encoded.as_bytes()), text);
        }

        /// Any received bytes decode to something, never an error or panic.
        #[test]
        fn decode_never_fails(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
