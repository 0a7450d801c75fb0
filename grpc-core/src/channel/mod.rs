//! [`Channel`]: a lazily connected, reconnecting HTTP/2 connection to one
//! target, shared by every stub and call made on it.

mod builder;
mod connect;
mod state;
pub(crate) mod target;

pub use builder::{ChannelBuilder, DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH};
pub use state::{ChannelConnectivity, ReadyFuture, Subscription, channel_ready_future};

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::client::CallCredentials;
use crate::codec::Compression;
use crate::error::Error;
use crate::runtime::CancelToken;
use crate::security::client_tls::TlsTarget;
use crate::security::{ChannelCredentials, ChannelSecurity};
use crate::status::Status;
use crate::transport::client_watch::{ClientWatch, LastStreamId, WireSeen};
use crate::transport::keepalive::{Keepalive, ping_loop};
use crate::transport::settings::Http2Settings;
use state::ConnState;
use target::Target;

/// Options that apply to every call on a channel.
#[derive(Clone, Debug)]
pub(crate) struct ChannelConfig {
    pub(crate) max_receive_message_length: usize,
    pub(crate) max_send_message_length: usize,
    pub(crate) user_agent: http::HeaderValue,
    pub(crate) compression: Compression,
    pub(crate) http2: Http2Settings,
    pub(crate) keepalive_time: Option<Duration>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) max_pings_without_data: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    /// Plain, local or TLS.
    pub(crate) security: ChannelSecurity,
    /// TLS settings and the name to verify, for TLS channels.
    pub(crate) tls: Option<TlsTarget>,
    /// `https` on TLS channels, `http` otherwise.
    pub(crate) scheme: &'static str,
    /// Call credentials attached to every call (composite channel credentials).
    pub(crate) call_credentials: Option<CallCredentials>,
    /// Opens the byte stream instead of a socket to the target.
    pub(crate) connector: Option<connect::Connector>,
    /// gRPC-Web or Connect (`None`: gRPC over the HTTP/2 connection).
    pub(crate) protocol: Option<Arc<crate::client::protocol::ProtocolClient>>,
}

/// A virtual connection to a target: connects on first use, reconnects with
/// backoff, and multiplexes every call over one HTTP/2 connection.
///
/// Cheap to clone; clones share the connection. Created by
/// [`insecure_channel`] or [`ChannelBuilder`].
///
/// ```no_run
/// let channel = grpc_core::insecure_channel("localhost:50051")?; // no I/O yet
/// // ... make calls with generated stubs ...
/// channel.close();
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Channel {
    inner: Arc<ChannelInner>,
}

pub(crate) struct ChannelInner {
    target: String,
    parsed: Target,
    pub(crate) authority: http::uri::Authority,
    pub(crate) config: ChannelConfig,
    handle: Handle,
    state: watch::Sender<ConnState>,
    closed: CancelToken,
    backoff: std::sync::Mutex<Duration>,
    generation: std::sync::atomic::AtomicU64,
    /// Call counters (`grpc_core::channelz`).
    pub(crate) channelz: crate::channelz::ChannelStats,
}

/// Creates a channel to `target` without transport security; no connection
/// is made until the first call (grpcio's `grpc.insecure_channel`).
///
/// Targets: `host:port`, `dns:///host:port`, `ipv4:a.b.c.d:port,...`,
/// `ipv6:[addr]:port,...`, `unix:/path`, `unix-abstract:name`.
///
/// ```
/// let channel = grpc_core::insecure_channel("dns:///localhost:50051")?;
/// assert_eq!(channel.target(), "dns:///localhost:50051");
/// # Ok::<(), grpc_core::Error>(())
/// ```
pub fn insecure_channel(target: &str) -> Result<Channel, Error> {
    ChannelBuilder::new(target).build()
}

/// Creates a channel to `target` secured by `credentials` (grpcio's
/// `grpc.secure_channel`): TLS from [`ssl_channel_credentials`](crate::ssl_channel_credentials),
/// or [`local_channel_credentials`](crate::local_channel_credentials), optionally
/// composed with call credentials. No connection is made until the first
/// call; TLS failures end calls with `UNAVAILABLE` whose details name the
/// cause (unknown CA, name mismatch, expired, no client certificate, ALPN).
/// Use [`ChannelBuilder::secure`] for options such as
/// [`ssl_target_name_override`](ChannelBuilder::ssl_target_name_override).
///
/// ```no_run
/// # fn main() -> Result<(), grpc_core::Error> {
/// let ca = std::fs::read("ca.pem").unwrap();
/// let credentials = grpc_core::ssl_channel_credentials(Some(&ca), None, None)?;
/// let channel = grpc_core::secure_channel("example.com:443", &credentials)?;
/// # Ok(()) }
/// ```
pub fn secure_channel(target: &str, credentials: &ChannelCredentials) -> Result<Channel, Error> {
    ChannelBuilder::new(target).secure(credentials).build()
}

/// Connects, then drives the connection until the server's first SETTINGS
/// arrive: only then is it Ready (a peer that accepts and closes at once,
/// or is no HTTP/2 server, is a failed attempt, with backoff, and calls
/// waiting for readiness keep waiting).
async fn connect_and_settle(
    address: &target::Address,
    config: &ChannelConfig,
) -> std::io::Result<connect::Connected> {
    let (sender, mut connection, wire) = connect::connect(address, config).await?;
    tokio::select! {
        ended = &mut connection => Err(std::io::Error::other(match ended {
            Ok(()) => "the connection closed before the server's HTTP/2 SETTINGS".to_owned(),
            Err(error) => format!("the connection failed before the server's HTTP/2 SETTINGS: {error}"),
        })),
        () = wire.settings.wait() => Ok((sender, connection, wire)),
    }
}

impl Channel {
    fn from_parts(
        target: String,
        parsed: Target,
        authority: http::uri::Authority,
        config: ChannelConfig,
        handle: Handle,
    ) -> Channel {
        let (state, _) = watch::channel(ConnState::Idle);
        let backoff = config.initial_backoff;
        Channel {
            inner: Arc::new_cyclic(|weak| ChannelInner {
                channelz: crate::channelz::ChannelStats::new(weak.clone()),
                target,
                parsed,
                authority,
                config,
                handle,
                state,
                closed: CancelToken::new(),
                backoff: std::sync::Mutex::new(backoff),
                generation: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn from_inner(inner: Arc<ChannelInner>) -> Channel {
        Channel { inner }
    }

    /// The channel's channelz record: calls started, succeeded and failed,
    /// and when the last one started; the `grpc-channelz` crate serves it.
    ///
    /// ```
    /// let channel = grpc_core::insecure_channel("localhost:1")?;
    /// assert_eq!(channel.channelz().calls().started, 0);
    /// # Ok::<(), grpc_core::Error>(())
    /// ```
    pub fn channelz(&self) -> crate::channelz::ChannelStats {
        self.inner.channelz.clone()
    }

    /// The target string the channel was created with.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// Closes the channel: active calls end with `CANCELLED`, new calls fail
    /// with `UNAVAILABLE`, and the connection is shut down. Idempotent.
    pub fn close(&self) {
        self.inner.closed.cancel();
        self.inner.state.send_replace(ConnState::Shutdown);
    }

    /// True once [`close`](Channel::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    pub(crate) fn inner(&self) -> &ChannelInner {
        &self.inner
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    pub(crate) fn config(&self) -> &ChannelConfig {
        &self.inner.config
    }

    pub(crate) fn closed_token(&self) -> &CancelToken {
        &self.inner.closed
    }

    /// A connection ready for a new stream, connecting first if needed.
    /// Fails fast with `UNAVAILABLE` while the channel is in transient
    /// failure, unless `wait_for_ready`.
    pub(crate) async fn ready_sender(
        &self,
        wait_for_ready: bool,
    ) -> Result<(h2::client::SendRequest<Bytes>, LastStreamId), Status> {
        let mut rx = self.inner.state.subscribe();
        loop {
            enum Next {
                Connect,
                Wait,
                WaitUntil(Instant),
            }
            let next = {
                let state = rx.borrow_and_update();
                match &*state {
                    ConnState::Ready { sender, wire, .. } => {
                        return Ok((sender.clone(), wire.last_stream_id.clone()));
                    }
                    ConnState::Shutdown => return Err(Status::unavailable("Channel is closed")),
                    ConnState::Idle => Next::Connect,
                    ConnState::Connecting => Next::Wait,
                    ConnState::TransientFailure { error, retry_at } => {
                        if Instant::now() >= *retry_at {
                            Next::Connect
                        } else if wait_for_ready {
                            Next::WaitUntil(*retry_at)
                        } else {
                            return Err(error.clone());
                        }
                    }
                }
            };
            match next {
                Next::Connect => self.start_connect(),
                Next::Wait => {
                    if rx.changed().await.is_err() {
                        return Err(Status::unavailable("Channel is closed"));
                    }
                }
                Next::WaitUntil(when) => {
                    tokio::select! {
                        _ = rx.changed() => {}
                        _ = tokio::time::sleep_until(when.into()) => {}
                    }
                }
            }
        }
    }

    /// Moves Idle / expired TransientFailure to Connecting and spawns the attempt.
    pub(crate) fn start_connect(&self) {
        let started = self.inner.state.send_if_modified(|state| match state {
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
        if started {
            let channel = self.clone();
            let mut guard = AttemptGuard {
                inner: Arc::downgrade(&self.inner),
            };
            self.inner.handle.spawn(async move {
                channel.connect_once().await;
                guard.disarm();
            });
        }
    }

    async fn connect_once(self) {
        let inner = Arc::clone(&self.inner);
        drop(self);
        let attempt = tokio::time::timeout(
            inner.config.connect_timeout,
            connect_and_settle(&inner.parsed.address, &inner.config),
        )
        .await;
        let result = match attempt {
            Ok(result) => result,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            )),
        };
        match result {
            Ok((sender, connection, wire)) => {
                Self::run_connection(inner, sender, connection, wire).await
            }
            Err(error) => inner.connect_failed(error),
        }
    }

    /// Publishes a fresh connection as Ready and drives it until it ends.
    async fn run_connection(
        inner: Arc<ChannelInner>,
        sender: h2::client::SendRequest<Bytes>,
        mut connection: h2::client::Connection<ClientWatch<crate::transport::io::Io>, Bytes>,
        wire: WireSeen,
    ) {
        let generation = inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if let Ok(mut backoff) = inner.backoff.lock() {
            *backoff = inner.config.initial_backoff;
        }
        let ping = connection.ping_pong();
        let updated = inner.state.send_if_modified(|state| {
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
        let target = inner.target.clone();
        tracing::debug!(%target, "connected");
        let keepalive = inner.config.keepalive_time.map(|interval| Keepalive {
            interval,
            timeout: inner.config.keepalive_timeout,
            limit: Some((wire.data_sent, inner.config.max_pings_without_data)),
        });
        let keepalive = keepalive.zip(ping);
        let closed = inner.closed.clone();
        // Only a weak reference while the connection lives, so that dropping
        // every Channel handle closes the connection.
        let weak = Arc::downgrade(&inner);
        drop(inner);
        let outcome = tokio::select! {
            result = &mut connection => result.err().map(|e| e.to_string()),
            reason = ping_loop(keepalive) => Some(reason),
            _ = closed.cancelled() => {
                // In-flight calls see the close and end; then the connection stops.
                let _ = connection.await;
                None
            }
        };
        if let Some(reason) = &outcome {
            tracing::debug!(%target, %reason, "connection ended");
        }
        let Some(inner) = weak.upgrade() else { return };
        inner.state.send_if_modified(|state| match state {
            ConnState::Ready {
                generation: current,
                ..
            } if *current == generation => {
                *state = ConnState::Idle;
                true
            }
            _ => false,
        });
    }

    /// A fresh byte stream to the target, secured as the channel is (for
    /// the HTTP/1.1 connections of gRPC-Web and Connect calls).
    pub(crate) async fn open_io(&self) -> std::io::Result<crate::transport::io::Io> {
        connect::open_secured(&self.inner.parsed.address, &self.inner.config).await
    }

    /// Marks the current connection broken (e.g. after a failed `ready()`),
    /// so the next call reconnects.
    pub(crate) fn connection_failed(&self) {
        self.inner.state.send_if_modified(|state| {
            if matches!(state, ConnState::Ready { .. }) {
                *state = ConnState::Idle;
                true
            } else {
                false
            }
        });
    }
}

/// Travels with a connection attempt; if the attempt is dropped unfinished
/// (its runtime shut down), the channel leaves Connecting instead of
/// waiting forever.
struct AttemptGuard {
    inner: std::sync::Weak<ChannelInner>,
}

impl AttemptGuard {
    fn disarm(&mut self) {
        self.inner = std::sync::Weak::new();
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.connect_failed(std::io::Error::other(
                "the tokio runtime driving this channel has shut down",
            ));
        }
    }
}

impl ChannelInner {
    fn connect_failed(&self, error: std::io::Error) {
        let backoff = self
            .backoff
            .lock()
            .map(|mut backoff| {
                let current = *backoff;
                *backoff = current.mul_f64(1.6).min(self.config.max_backoff);
                current
            })
            .unwrap_or(self.config.initial_backoff);
        tracing::debug!(target = %self.target, %error, ?backoff, "connect failed");
        let status = Status::unavailable(format!(
            "failed to connect to all addresses; last error: {}: {error}",
            self.target
        ))
        .with_source(error);
        self.state.send_if_modified(|state| {
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
    }
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("target", &self.inner.target)
            .field("state", &self.connectivity())
            .finish()
    }
}
