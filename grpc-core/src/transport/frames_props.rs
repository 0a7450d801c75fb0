//! Property tests of the frame scanner (it reads every byte a peer sends):
//! however the bytes are cut, it reports the same frames, and arbitrary
//! bytes never make it panic. `PROPTEST_CASES` sets the count.

use proptest::prelude::*;

use super::frames::{FrameScanner, Seen};

fn scan_in(mut scanner: FrameScanner, bytes: &[u8], mut cuts: Vec<usize>) -> Vec<Seen> {
    cuts.retain(|cut| *cut < bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut seen = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        scanner.scan(&bytes[start..cut], |found| seen.push(found));
        start = cut;
    }
    seen
}

/// Frames with small payloads (GOAWAYs of any length among them).
fn frames() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            prop_oneof![Just(0x7u8), 0u8..10],
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..24),
        ),
        0..30,
    )
    .prop_map(|frames| {
        let mut out = Vec::new();
        for (kind, flags, payload) in frames {
            let len = (payload.len() as u32).to_be_bytes();
            out.extend_from_slice(&[len[1], len[2], len[3], kind, flags, 0, 0, 0, 1]);
            out.extend_from_slice(&payload);
        }
        out
    })
}

proptest! {
    #[test]
    fn chunking_never_changes_what_is_seen(
        bytes in frames(),
        cuts in prop::collection::vec(0usize..1_200, 0..40),
    ) {
        let whole = scan_in(FrameScanner::frames(), &bytes, Vec::new());
        let cut = scan_in(FrameScanner::frames(), &bytes, cuts);
        prop_assert_eq!(cut, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2_000),
        cuts in prop::collection::vec(0usize..2_000, 0..20),
    ) {
        let whole = scan_in(FrameScanner::after_preface(), &bytes, Vec::new());
        let cut = scan_in(FrameScanner::after_preface(), &bytes, cuts);
        prop_assert_eq!(cut, whole);
    }
}
