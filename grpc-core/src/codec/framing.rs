//! The gRPC length-prefixed message: one compressed-flag byte, a 4-byte
//! big-endian length, then the message. Pure functions over bytes.

use bytes::{Buf, Bytes, BytesMut};

use crate::status::Status;

/// Size of the prefix in front of every message.
pub(crate) const HEADER_LEN: usize = 5;

/// One message as it came off the wire, before decompression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMessage {
    /// The compressed flag of the prefix.
    pub(crate) compressed: bool,
    /// The message bytes (compressed when `compressed`).
    pub(crate) payload: Bytes,
}

/// Writes the prefix for a message of `len` bytes.
#[cfg(test)]
pub(crate) fn put_header(buf: &mut BytesMut, compressed: bool, len: usize) {
    use bytes::BufMut;
    buf.put_u8(u8::from(compressed));
    buf.put_u32(len as u32);
}

/// Overwrites the prefix at the start of `frame`, once the length is known.
pub(crate) fn patch_header(frame: &mut [u8], compressed: bool, len: usize) {
    frame[0] = u8::from(compressed);
    frame[1..HEADER_LEN].copy_from_slice(&(len as u32).to_be_bytes());
}

/// Splits a byte stream into messages. Messages may arrive split across any
/// number of chunks, and one chunk may hold many messages.
#[derive(Debug)]
pub(crate) struct Deframer {
    buf: BytesMut,
    max_message_len: usize,
}

impl Deframer {
    /// A deframer that rejects messages longer than `max_message_len`.
    pub(crate) fn new(max_message_len: usize) -> Deframer {
        Deframer {
            buf: BytesMut::new(),
            max_message_len,
        }
    }

    /// Appends a chunk received from the peer.
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if self.buf.is_empty() {
            // Take ownership of the chunk without copying when possible.
            self.buf = BytesMut::from(chunk);
        } else {
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// The next complete message, `Ok(None)` when more bytes are needed, or
    /// `RESOURCE_EXHAUSTED` when the declared length is over the limit (checked
    /// before the message is buffered).
    pub(crate) fn next_message(&mut self) -> Result<Option<RawMessage>, Status> {
        if let Some(&flag) = self.buf.first()
            && flag > 1
        {
            return Err(Status::internal(format!(
                "invalid compressed flag {flag} in message prefix"
            )));
        }
        Ok(self.next_envelope()?.map(|(flags, payload)| RawMessage {
            compressed: flags & 1 == 1,
            payload,
        }))
    }

    /// The next complete envelope with its flags byte as is (gRPC-Web's
    /// trailers and Connect's end-of-stream are flagged envelopes), under
    /// the same limit as [`next_message`](Self::next_message).
    pub(crate) fn next_envelope(&mut self) -> Result<Option<(u8, Bytes)>, Status> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let flags = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max_message_len {
            return Err(Status::resource_exhausted(format!(
                "Received message larger than max ({len} vs. {})",
                self.max_message_len
            )));
        }
        if self.buf.len() < HEADER_LEN + len {
            self.buf.reserve(HEADER_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        Ok(Some((flags, self.buf.split_to(len).freeze())))
    }

    /// True when bytes of an unfinished message remain (a truncated stream).
    pub(crate) fn has_partial_message(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Bytes buffered and not yet returned as messages.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(compressed: bool, payload: &[u8]) -> Bytes {
        let mut buf = BytesMut::new();
        put_header(&mut buf, compressed, payload.len());
        buf.extend_from_slice(payload);
        buf.freeze()
    }

    #[test]
    fn many_messages_in_one_chunk() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&frame(false, b"one"));
        wire.extend_from_slice(&frame(true, b"two"));
        wire.extend_from_slice(&frame(false, b""));
        let mut deframer = Deframer::new(100);
        deframer.push(wire.freeze());
        let mut got = Vec::new();
        while let Some(message) = deframer.next_message().unwrap() {
            got.push(message);
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].payload, "one");
        assert!(got[1].compressed);
        assert!(got[2].payload.is_empty());
        assert!(!deframer.has_partial_message());
    }

    #[test]
    fn message_split_across_every_byte() {
        let wire = frame(false, b"hello world");
        let mut deframer = Deframer::new(100);
        for (i, byte) in wire.iter().enumerate() {
            assert_eq!(deframer.next_message().unwrap(), None);
            deframer.push(Bytes::copy_from_slice(&[*byte]));
            if i + 1 < wire.len() {
                assert!(deframer.has_partial_message());
            }
        }
        assert_eq!(
            deframer.next_message().unwrap().unwrap().payload,
            "hello world"
        );
    }

    #[test]
    fn oversized_message_is_rejected_before_buffering() {
        let mut deframer = Deframer::new(4);
        let mut header = BytesMut::new();
        put_header(&mut header, false, 1 << 30);
        deframer.push(header.freeze());
        let status = deframer.next_message().unwrap_err();
        assert_eq!(status.code(), crate::Code::ResourceExhausted);
        assert_eq!(
            status.details(),
            "Received message larger than max (1073741824 vs. 4)"
        );
    }

    #[test]
    fn bad_flag_is_an_error_not_a_panic() {
        let mut deframer = Deframer::new(100);
        deframer.push(Bytes::from_static(&[7, 0, 0, 0, 0]));
        assert_eq!(
            deframer.next_message().unwrap_err().code(),
            crate::Code::Internal
        );
    }

    #[test]
    fn patch_header_writes_prefix() {
        let mut buf = vec![0u8; 8];
        patch_header(&mut buf, true, 3);
        assert_eq!(&buf[..5], &[1, 0, 0, 0, 3]);
    }

    #[test]
    fn arbitrary_chunkings_yield_the_same_messages() {
        // A small deterministic fuzz: random chunk boundaries over random frames.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let count = (next() % 6) as usize;
            let messages: Vec<Vec<u8>> = (0..count)
                .map(|_| (0..(next() % 40)).map(|_| next() as u8).collect())
                .collect();
            let mut wire = BytesMut::new();
            for message in &messages {
                wire.extend_from_slice(&frame(false, message));
            }
            let mut wire = wire.freeze();
            let mut deframer = Deframer::new(64);
            let mut got = Vec::new();
            while !wire.is_empty() {
                let take = ((next() % 9) as usize + 1).min(wire.len());
                deframer.push(wire.split_to(take));
                while let Some(message) = deframer.next_message().unwrap() {
                    got.push(message.payload.to_vec());
                }
            }
            assert_eq!(got, messages);
        }
    }
}
