//! Property tests of the deframer (peer bytes, cut anywhere). They live
//! beside `framing.rs` rather than in it so the framing code and its
//! generators can change independently; `PROPTEST_CASES` sets the count.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::framing::{Deframer, HEADER_LEN, RawMessage, put_header};
use crate::status::Code;

/// Cuts `bytes` at the given (sorted, deduplicated) points.
fn chunks(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<Bytes> {
    cuts.retain(|cut| *cut < bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        out.push(Bytes::copy_from_slice(&bytes[start..cut]));
        start = cut;
    }
    out
}

/// Feeds chunks one at a time, draining messages after each; stops at the
/// first error.
fn feed(deframer: &mut Deframer, chunks: Vec<Bytes>) -> (Vec<RawMessage>, Option<Code>) {
    let mut messages = Vec::new();
    for chunk in chunks {
        deframer.push(chunk);
        loop {
            match deframer.next_message() {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(status) => return (messages, Some(status.code())),
            }
        }
    }
    (messages, None)
}

proptest! {
    /// Any messages under the limit come out whole and in order, however
    /// the stream is cut.
    #[test]
    fn messages_survive_any_chunking(
        messages in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)), 0..12),
        cuts in prop::collection::vec(0usize..4_000, 0..40),
    ) {
        let mut wire = BytesMut::new();
        for (compressed, payload) in &messages {
            put_header(&mut wire, *compressed, payload.len());
            wire.extend_from_slice(payload);
        }
        let mut deframer = Deframer::new(300);
        let (out, error) = feed(&mut deframer, chunks(&wire, cuts));
        prop_assert_eq!(error, None);
        prop_assert!(!deframer.has_partial_message());
        prop_assert_eq!(out.len(), messages.len());
        for (got, (compressed, payload)) in out.iter().zip(&messages) {
            prop_assert_eq!(got.compressed, *compressed);
            prop_assert_eq!(&got.payload[..], &payload[..]);
        }
    }

    /// Arbitrary bytes never panic; what is buffered never exceeds one
    /// prefix plus the limit plus the last chunk; any error is INTERNAL
    /// (bad flag) or RESOURCE_EXHAUSTED (too long).
    #[test]
    fn arbitrary_bytes_are_bounded(
        bytes in prop::collection::vec(any::<u8>(), 0..2_000),
        cuts in prop::collection::vec(0usize..2_000, 0..20),
        limit in 0usize..512,
    ) {
        let mut deframer = Deframer::new(limit);
        let mut largest_chunk = 0;
        let pieces = chunks(&bytes, cuts);
        for piece in &pieces {
            largest_chunk = largest_chunk.max(piece.len());
        }
        let (out, error) = feed(&mut deframer, pieces);
        for message in &out {
            prop_assert!(message.payload.len() <= limit);
        }
        if let Some(code) = error {
            prop_assert!(matches!(code, Code::Internal | Code::ResourceExhausted), "{code:?}");
        } else {
            prop_assert!(deframer.buffered() < HEADER_LEN + limit + largest_chunk);
        }
    }

    /// A declared length over the limit fails on the prefix alone, before
    /// any of the body arrives (up to 4 GiB - 1).
    #[test]
    fn oversized_prefix_fails_before_the_body(
        declared in 1u32..=u32::MAX,
        compressed in any::<bool>(),
    ) {
        let limit = (declared - 1) as usize;
        let mut prefix = BytesMut::new();
        put_header(&mut prefix, compressed, declared as usize);
        let mut deframer = Deframer::new(limit);
        deframer.push(prefix.freeze());
        let result = deframer.next_message();
        prop_assert_eq!(result.err().map(|s| s.code()), Some(Code::ResourceExhausted));
    }
}
