//! Base64 over a stream (`application/grpc-web-text`): chunks may split
//! anywhere, and each chunk the peer encoded on its own may end in padding
//! that is followed by more base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use crate::status::Status;

/// Decodes base64 text that arrives in pieces.
#[derive(Debug, Default)]
pub(crate) struct Base64Stream {
    /// Characters of an incomplete 4-character group.
    pending: Vec<u8>,
}

impl Base64Stream {
    /// Decodes every complete group in `pending + chunk`; keeps the rest.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Bytes, Status> {
        self.pending
            .extend(chunk.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let complete = self.pending.len() / 4 * 4;
        let mut out = Vec::with_capacity(complete / 4 * 3);
        let mut start = 0;
        for group in (0..complete).step_by(4) {
            // A group holding padding ends one independently encoded run.
            if self.pending[group..group + 4].contains(&b'=') {
                decode_into(&self.pending[start..group + 4], &mut out)?;
                start = group + 4;
            }
        }
        decode_into(&self.pending[start..complete], &mut out)?;
        self.pending.drain(..complete);
        Ok(Bytes::from(out))
    }

    /// True when characters of an unfinished group remain.
    pub(crate) fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }
}

fn decode_into(text: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
    if text.is_empty() {
        return Ok(());
    }
    STANDARD.decode_vec(text, out).map_err(|error| {
        Status::invalid_argument(format!("invalid base64 in grpc-web-text body: {error}"))
    })
}

/// Encodes one response chunk (padded, so chunks can be decoded one by one).
pub(crate) fn encode(chunk: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(chunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_padded_runs_decode() {
        let text = format!(
            "{}{}",
            STANDARD.encode(b"hello"),
            STANDARD.encode(b"world!")
        );
        let mut stream = Base64Stream::default();
        let mut out = Vec::new();
        for byte in text.as_bytes() {
            out.extend_from_slice(&stream.push(&[*byte]).unwrap());
        }
        assert_eq!(out, b"helloworld!");
        assert!(!stream.has_partial());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut stream = Base64Stream::default();
        assert!(stream.push(b"!!!!").is_err());
        let mut stream = Base64Stream::default();
        assert!(stream.push(b"a===").is_err());
    }
}
