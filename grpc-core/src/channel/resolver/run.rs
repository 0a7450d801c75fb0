//! The channel's resolution loop: resolve, hand the result to the
//! channel, then wait for the next reason to resolve again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::SharedResolver;
use crate::channel::ChannelInner;
use crate::runtime::CancelToken;

/// A channel's resolver and when to ask it again.
pub(crate) struct ResolverRun {
    pub(crate) resolver: SharedResolver,
    started: AtomicBool,
    refresh: Notify,
    /// Re-resolution requests closer together than this wait.
    pub(crate) min_interval: Duration,
    /// Resolve again this often regardless.
    pub(crate) interval: Duration,
}

impl ResolverRun {
    pub(crate) fn new(
        resolver: SharedResolver,
        min_interval: Duration,
        interval: Duration,
    ) -> Self {
        ResolverRun {
            resolver,
            started: AtomicBool::new(false),
            refresh: Notify::new(),
            min_interval,
            interval,
        }
    }

    /// True for the one caller that should start the loop.
    pub(crate) fn claim_start(&self) -> bool {
        !self.started.swap(true, Ordering::AcqRel)
    }

    /// Asks for a re-resolution (rate-limited by `min_interval`).
    pub(crate) fn request(&self) {
        self.refresh.notify_one();
    }
}

/// Resolves until the channel closes or is dropped.
pub(crate) async fn resolution_loop(
    channel: Weak<ChannelInner>,
    run: Arc<ResolverRun>,
    closed: CancelToken,
) {
    loop {
        let result = tokio::select! {
            result = run.resolver.resolve_boxed() => result,
            () = closed.cancelled() => return,
        };
        let Some(inner) = channel.upgrade() else {
            return;
        };
        inner.apply_resolution(result);
        drop(inner);
        let resolved_at = Instant::now();
        tokio::select! {
            () = closed.cancelled() => return,
            () = tokio::time::sleep(run.interval) => {}
            () = run.resolver.changed_boxed() => {}
            () = run.refresh.notified() => {
                // Rate-limited; a change the resolver reports is not.
                tokio::select! {
                    () = closed.cancelled() => return,
                    () = tokio::time::sleep_until(resolved_at + run.min_interval) => {}
                    () = run.resolver.changed_boxed() => {}
                }
            }
        }
    }
}
