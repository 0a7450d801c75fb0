//! A subchannel: one connection to one address (or, for `pick_first`, the
//! first of a list that answers), with its own connectivity state and
//! jittered reconnect backoff. The balancer picks among subchannels.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use super::resolver::ResolvedAddress;
use super::state::ConnState;
use super::{ChannelInner, connect_and_settle};
use crate::runtime::CancelToken;
use crate::status::Status;
use crate::transport::client_watch::{ClientWatch, WireSeen};
use crate::transport::keepalive::{Keepalive, ping_loop};

/// One subchannel.
pub(crate) struct Subchannel {
    /// Tried in order on each attempt.
    pub(crate) addresses: Vec<ResolvedAddress>,
    pub(crate) state: watch::Sender<ConnState>,
    backoff: Mutex<Duration>,
    generation: AtomicU64,
    /// Cancelled when the balancer drops this subchannel: its connection
    /// stops as soon as its streams end.
    removed: CancelToken,
    parent: Weak<ChannelInner>,
}

impl Subchannel {
    pub(crate) fn new(addresses: Vec<ResolvedAddress>, parent: &Arc<ChannelInner>) -> Arc<Self> {
        Arc::new(Subchannel {
            addresses,
            state: watch::channel(ConnState::Idle).0,
            backoff: Mutex::new(parent.config.initial_backoff),
            generation: AtomicU64::new(0),
            removed: CancelToken::new(),
            parent: Arc::downgrade(parent),
        })
    }

    /// Marks the subchannel as no longer used by the balancer.
    pub(crate) fn remove(&self) {
        self.removed.cancel();
        self.state.send_replace(ConnState::Shutdown);
    }

    fn notify_parent(&self) {
        if let Some(parent) = self.parent.upgrade() {
            parent.subchannel_changed();
        }
    }

    /// Changes the state with `change`; tells the channel when it did.
    fn update(&self, change: impl FnOnce(&mut ConnState) -> bool) -> bool {
        let changed = self.state.send_if_modified(change);
        if changed {
            self.notify_parent();
        }
        changed
    }

    /// Starts a connection attempt when idle (or when the backoff of a
    /// failed attempt is over).
    pub(crate) fn start_connect(self: &Arc<Self>) {
        let started = self.update(|state| match state {
            ConnState::Idle => {
                *state = ConnState::Connecting;
                true
            }
            ConnState::TransientFailure { retry_at, .. } if Instant::now() >= *retry_at => {
                *state = ConnState::Connecting;
                true
            }
            _ => false,
        });
        let Some(parent) = self.parent.upgrade().filter(|_| started) else {
            return;
        };
        let subchannel = Arc::clone(self);
        let mut guard = AttemptGuard {
            subchannel: Arc::downgrade(self),
        };
        parent.handle.spawn(async move {
            subchannel.connect_once().await;
            guard.disarm();
        });
    }

    async fn connect_once(self: Arc<Self>) {
        let Some(parent) = self.parent.upgrade() else {
            return;
        };
        let config = parent.config.clone();
        drop(parent);
        let attempt = tokio::time::timeout(
            config.connect_timeout,
            connect_and_settle(&self.addresses, &config),
        )
        .await;
        let result = attempt.unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        });
        match result {
            Ok((sender, connection, wire)) => self.run_connection(sender, connection, wire).await,
            Err(error) => self.connect_failed(error),
        }
    }

    /// Publishes a fresh connection as Ready and drives it until it ends.
    async fn run_connection(
        self: Arc<Self>,
        sender: h2::client::SendRequest<Bytes>,
        mut connection: h2::client::Connection<ClientWatch<crate::transport::io::Io>, Bytes>,
        wire: WireSeen,
    ) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(parent) = self.parent.upgrade() else {
            return;
        };
        if let Ok(mut backoff) = self.backoff.lock() {
            *backoff = parent.config.initial_backoff;
        }
        let ping = connection.ping_pong();
        let updated = self.update(|state| {
            if matches!(state, ConnState::Connecting) {
                *state = ConnState::Ready {
                    sender,
                    generation,
                    wire: wire.clone(),
                };
                true
            } else {
                false
            }
        });
        if !updated {
            return; // closed meanwhile: dropping the connection closes it
        }
        tracing::debug!(target = %parent.target, addresses = ?self.addresses, "connected");
        let keepalive = parent.config.keepalive_time.map(|interval| Keepalive {
            interval,
            timeout: parent.config.keepalive_timeout,
            limit: Some((wire.data_sent.clone(), parent.config.max_pings_without_data)),
            calls: parent.keepalive_calls(),
        });
        let keepalive = keepalive.zip(ping);
        let closed = parent.closed.clone();
        let removed = self.removed.clone();
        drop(parent);
        // Only a weak reference while the connection lives, so that dropping
        // every Channel handle closes the connection.
        let weak = Arc::downgrade(&self);
        drop(self);
        let outcome = tokio::select! {
            result = &mut connection => result.err().map(|e| e.to_string()),
            reason = ping_loop(keepalive) => Some(reason),
            _ = closed.cancelled() => {
                // In-flight calls see the close and end; then the connection stops.
                let _ = connection.await;
                None
            }
            _ = removed.cancelled() => {
                // Streams in flight finish; the connection ends after them.
                let _ = connection.await;
                None
            }
        };
        if let Some(reason) = &outcome {
            tracing::debug!(%reason, "connection ended");
        }
        if let Some(subchannel) = weak.upgrade() {
            subchannel.connection_lost(generation);
        }
    }

    /// The connection of `generation` ended: back to Idle, and the channel
    /// asks its resolver again.
    fn connection_lost(&self, generation: u64) {
        let lost = self.update(|state| match state {
            ConnState::Ready {
                generation: current,
                ..
            } if *current == generation => {
                *state = ConnState::Idle;
                true
            }
            _ => false,
        });
        if lost && let Some(parent) = self.parent.upgrade() {
            parent.request_resolution();
        }
    }

    /// Marks the current connection broken (e.g. after a failed `ready()`),
    /// so the next call reconnects.
    pub(crate) fn connection_failed(&self) {
        self.update(|state| {
            if matches!(state, ConnState::Ready { .. }) {
                *state = ConnState::Idle;
                true
            } else {
                false
            }
        });
    }

    /// Drops the connection (idle timeout): back to Idle.
    pub(crate) fn go_idle(&self) {
        self.connection_failed();
    }

    fn connect_failed(self: &Arc<Self>, error: std::io::Error) {
        let Some(parent) = self.parent.upgrade() else {
            return;
        };
        let config = &parent.config;
        let backoff = self
            .backoff
            .lock()
            .map(|mut backoff| {
                let (wait, next) = super::backoff::step(*backoff, config.max_backoff);
                *backoff = next;
                wait
            })
            .unwrap_or(config.initial_backoff);
        tracing::debug!(target = %parent.target, %error, ?backoff, "connect failed");
        let status = Status::unavailable(format!(
            "failed to connect to all addresses; last error: {}: {error}",
            parent.target
        ))
        .with_source(error);
        let failed = self.update(|state| {
            if matches!(state, ConnState::Connecting) {
                *state = ConnState::TransientFailure {
                    error: status,
                    retry_at: Instant::now() + backoff,
                };
                true
            } else {
                false
            }
        });
        if !failed {
            return;
        }
        parent.request_resolution();
        // Try again once the backoff is over, calls or not (gRPC's
        // subchannels retry on their own).
        let weak = Arc::downgrade(self);
        parent.handle.spawn(async move {
            tokio::time::sleep(backoff).await;
            if let Some(subchannel) = weak.upgrade() {
                subchannel.start_connect();
            }
        });
    }

    /// The state's connectivity.
    pub(crate) fn connectivity(&self) -> super::ChannelConnectivity {
        self.state.borrow().connectivity()
    }
}

/// Travels with a connection attempt; if the attempt is dropped unfinished
/// (its runtime shut down), the subchannel leaves Connecting instead of
/// waiting forever.
struct AttemptGuard {
    subchannel: Weak<Subchannel>,
}

impl AttemptGuard {
    fn disarm(&mut self) {
        self.subchannel = Weak::new();
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if let Some(subchannel) = self.subchannel.upgrade() {
            subchannel.update(|state| {
                if matches!(state, ConnState::Connecting) {
                    *state = ConnState::TransientFailure {
                        error: Status::unavailable(
                            "the tokio runtime driving this channel has shut down",
                        ),
                        retry_at: Instant::now(),
                    };
                    true
                } else {
                    false
                }
            });
        }
    }
}
