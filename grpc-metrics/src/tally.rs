//! What one call (or attempt) adds up while it runs: its start, the bytes
//! sent and received, and whether its end was recorded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Whether a call's message sizes are reported to its recorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sizes {
    /// The call path reports each message: the size histograms are
    /// recorded.
    Tracked,
    /// Nothing reports them (an interceptor sees no messages): the size
    /// histograms are left alone rather than fed zeros.
    Untracked,
}

/// Counters shared by the paths of one call (sending and receiving may
/// run on different tasks).
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) sizes: Sizes,
    started: Instant,
    sent: AtomicU64,
    received: AtomicU64,
    ended: AtomicBool,
}

/// The totals of an ended call.
pub(crate) struct Totals {
    pub(crate) elapsed: Duration,
    pub(crate) sent: u64,
    pub(crate) received: u64,
}

impl Tally {
    pub(crate) fn start(sizes: Sizes) -> Tally {
        Tally {
            sizes,
            started: Instant::now(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            ended: AtomicBool::new(false),
        }
    }

    pub(crate) fn add_sent(&self, bytes: usize) {
        self.sent.fetch_add(to_u64(bytes), Ordering::Relaxed);
    }

    pub(crate) fn add_received(&self, bytes: usize) {
        self.received.fetch_add(to_u64(bytes), Ordering::Relaxed);
    }

    /// The totals, the first time only: a call ends once.
    pub(crate) fn end(&self) -> Option<Totals> {
        if self.ended.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(Totals {
            elapsed: self.started.elapsed(),
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
        })
    }
}

fn to_u64(bytes: usize) -> u64 {
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

/// A byte count as a histogram sample (exact below 2^53).
pub(crate) fn as_f64(bytes: u64) -> f64 {
    bytes as f64
}
