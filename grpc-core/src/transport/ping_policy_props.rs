//! Property tests of the ping sniffer: it never alters a byte, however the
//! reads are cut; PINGs with data between them never count as abuse; a run
//! of rapid PINGs always does. `PROPTEST_CASES` sets the count.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::ping_policy::{PingLimits, PingSniffer};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A reader that returns the given chunks, one per read.
struct Chunked(VecDeque<Vec<u8>>);

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(mut chunk) = self.0.pop_front() {
            let take = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..take]);
            if take < chunk.len() {
                self.0.push_front(chunk.split_off(take));
            }
        }
        Poll::Ready(Ok(()))
    }
}

fn frame(kind: u8, flags: u8, payload_len: usize) -> Vec<u8> {
    let len = (payload_len as u32).to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
    out.resize(9 + payload_len, 0xab);
    out
}

fn split(bytes: &[u8], mut cuts: Vec<usize>) -> VecDeque<Vec<u8>> {
    cuts.retain(|cut| *cut > 0 && *cut < bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = VecDeque::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        out.push_back(bytes[start..cut].to_vec());
        start = cut;
    }
    out
}

/// Reads everything through a sniffer; the bytes read and whether the
/// limits were broken.
fn sniff(bytes: &[u8], cuts: Vec<usize>) -> (Vec<u8>, bool) {
    let limits = PingLimits {
        min_interval: Duration::from_secs(300),
        max_strikes: 2,
    };
    let (mut sniffer, watch) = PingSniffer::new(Chunked(split(bytes, cuts)), limits);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let out = runtime.block_on(async {
        let mut out = Vec::new();
        let _ = sniffer.read_to_end(&mut out).await;
        out
    });
    let violated = {
        let mut future = std::pin::pin!(watch.violated());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        future.as_mut().poll(&mut cx).is_ready()
    };
    (out, violated)
}

/// A frame a client may send: (type, flags, payload length).
fn any_frame() -> impl Strategy<Value = (u8, u8, usize)> {
    (0u8..12, any::<u8>(), 0usize..64)
}

proptest! {
    #[test]
    fn bytes_pass_through_unchanged(
        body in prop::collection::vec(any::<u8>(), 0..3_000),
        cuts in prop::collection::vec(0usize..3_100, 0..30),
    ) {
        let bytes = [PREFACE, &body].concat();
        let (out, _) = sniff(&bytes, cuts);
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn pings_with_data_between_are_never_abuse(
        frames in prop::collection::vec(any_frame(), 0..60),
        cuts in prop::collection::vec(0usize..5_000, 0..30),
    ) {
        let mut bytes = PREFACE.to_vec();
        for (kind, flags, len) in frames {
            if kind == 0x6 {
                // Every PING follows a DATA frame.
                bytes.extend(frame(0x0, 0, 3));
                bytes.extend(frame(0x6, flags & !0x1, 8));
            } else {
                bytes.extend(frame(kind, flags, len));
            }
        }
        let (_, violated) = sniff(&bytes, cuts);
        prop_assert!(!violated);
    }

    #[test]
    fn a_run_of_rapid_pings_is_always_abuse(
        before in prop::collection::vec(any_frame(), 0..20),
        pings in 4usize..20,
        cuts in prop::collection::vec(0usize..2_000, 0..30),
    ) {
        let mut bytes = PREFACE.to_vec();
        for (kind, flags, len) in before {
            bytes.extend(frame(kind, flags, len));
        }
        for _ in 0..pings {
            bytes.extend(frame(0x6, 0, 8));
        }
        let (_, violated) = sniff(&bytes, cuts);
        prop_assert!(violated);
    }
}
