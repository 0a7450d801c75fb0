//! Client idle timeout (grpcio's `grpc.client_idle_timeout_ms`): after a
//! while without calls the channel drops its connections and goes Idle;
//! the next call resolves and connects again. The call count also tells
//! keepalive whether calls are in flight.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{ChannelInner, lock};
use crate::runtime::CancelToken;

/// Calls in flight and when the channel was last used.
pub(crate) struct Activity {
    calls: Arc<AtomicUsize>,
    idle: AtomicBool,
    last_used: Mutex<Instant>,
}

/// A call in flight; dropping it ends the call's activity.
pub(crate) struct ActiveCall<'a>(&'a Activity);

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity {
            calls: Arc::new(AtomicUsize::new(0)),
            idle: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
        }
    }

    /// The count of calls in flight.
    pub(crate) fn calls(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.calls)
    }

    /// Counts a call until the guard drops.
    pub(crate) fn enter(&self) -> ActiveCall<'_> {
        self.calls.fetch_add(1, Ordering::AcqRel);
        *lock(&self.last_used) = Instant::now();
        ActiveCall(self)
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Acquire)
    }

    /// Leaves idle mode; true if the channel was idle.
    pub(crate) fn wake(&self) -> bool {
        self.idle.swap(false, Ordering::AcqRel)
    }

    /// How long the channel has been unused, if no call is in flight.
    fn unused_for(&self) -> Option<Duration> {
        if self.calls.load(Ordering::Acquire) > 0 || self.is_idle() {
            return None;
        }
        Some(lock(&self.last_used).elapsed())
    }
}

impl Drop for ActiveCall<'_> {
    fn drop(&mut self) {
        *lock(&self.0.last_used) = Instant::now();
        self.0.calls.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Puts the channel in idle mode whenever it went `timeout` without calls.
pub(crate) async fn idle_loop(channel: Weak<ChannelInner>, timeout: Duration, closed: CancelToken) {
    let mut wait = timeout;
    loop {
        tokio::select! {
            () = closed.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let Some(inner) = channel.upgrade() else {
            return;
        };
        wait = match inner.activity.unused_for() {
            Some(unused) if unused >= timeout => {
                if !inner.activity.idle.swap(true, Ordering::AcqRel) {
                    tracing::debug!(target = %inner.target, ?timeout, "channel idle: dropping its connections");
                    inner.enter_idle();
                }
                timeout
            }
            Some(unused) => timeout - unused,
            None => timeout,
        };
    }
}
