//! [`Channel`]: a lazily connected, reconnecting HTTP/2 connection to one
//! target, shared by every stub and call made on it.

pub(crate) mod backoff;
pub(crate) mod balancer;
mod builder;
mod connect;
mod idle;
pub(crate) mod random;
pub(crate) mod resolver;
pub(crate) mod service_config;
mod state;
pub(crate) mod subchannel;
pub(crate) mod target;

pub use balancer::LbPolicy;
pub use builder::{ChannelBuilder, DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH};
pub use resolver::{Resolution, ResolvedAddress, Resolver};
pub use service_config::{
    HedgingPolicy, MethodConfig, RetryPolicy, RetryThrottling, ServiceConfig,
};
pub use state::{ChannelConnectivity, ReadyFuture, Subscription, channel_ready_future};

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::client::CallCredentials;
use crate::client::retry::Throttle;
use crate::codec::Compression;
use crate::error::Error;
use crate::runtime::CancelToken;
use crate::security::client_tls::TlsTarget;
use crate::security::{ChannelCredentials, ChannelSecurity};
use crate::status::Status;
use crate::transport::client_watch::LastStreamId;
use crate::transport::settings::Http2Settings;
use balancer::{Balancer, Pick};
use resolver::ResolverRun;
use subchannel::Subchannel;

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
    /// Keepalive pings also while no call is in flight.
    pub(crate) keepalive_permit_without_calls: bool,
    /// The channel drops its connections after this long without calls.
    pub(crate) idle_timeout: Option<Duration>,
    /// gRPC-Web or Connect (`None`: gRPC over the HTTP/2 connection).
    pub(crate) protocol: Option<Arc<crate::client::protocol::ProtocolClient>>,
    /// Attempt tracers (`ChannelBuilder::tracer`).
    pub(crate) tracers: crate::stats::client::ClientTracers,
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
    /// Client interceptors every call on this handle goes through.
    pub(crate) interceptors: Option<crate::client::ClientInterceptors>,
}

pub(crate) struct ChannelInner {
    target: String,
    pub(crate) authority: http::uri::Authority,
    pub(crate) config: ChannelConfig,
    handle: Handle,
    /// The aggregate of the subchannels' states; every subchannel change
    /// is sent (so that queued calls pick again).
    state: watch::Sender<ChannelConnectivity>,
    closed: CancelToken,
    balancer: Mutex<Balancer>,
    resolver: Arc<ResolverRun>,
    /// The policy when the service config names none.
    lb_policy: LbPolicy,
    /// The service config when the resolver gives none.
    default_service_config: Option<Arc<ServiceConfig>>,
    service_config: RwLock<Option<Arc<ServiceConfig>>>,
    /// Retry throttling of the current service config.
    pub(crate) throttle: Mutex<Option<Throttle>>,
    pick_counter: AtomicUsize,
    /// Calls in flight and idleness (`idle_timeout`).
    pub(crate) activity: idle::Activity,
    /// Call counters (`grpc_core::channelz`).
    pub(crate) channelz: crate::channelz::ChannelStats,
}

/// What [`ChannelBuilder`] hands to the channel besides its config.
pub(crate) struct Routing {
    pub(crate) resolver: Arc<ResolverRun>,
    pub(crate) lb_policy: LbPolicy,
    pub(crate) service_config: Option<ServiceConfig>,
}

/// A connection picked for a call.
pub(crate) struct Picked {
    pub(crate) sender: h2::client::SendRequest<Bytes>,
    pub(crate) goaway: LastStreamId,
    pub(crate) subchannel: Arc<Subchannel>,
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
    addresses: &[ResolvedAddress],
    config: &ChannelConfig,
) -> std::io::Result<connect::Connected> {
    let (sender, mut connection, wire) = connect::connect(addresses, config).await?;
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
        authority: http::uri::Authority,
        config: ChannelConfig,
        handle: Handle,
        routing: Routing,
    ) -> Channel {
        let (state, _) = watch::channel(ChannelConnectivity::Idle);
        let service_config = routing.service_config.map(Arc::new);
        Channel {
            inner: Arc::new_cyclic(|weak| ChannelInner {
                channelz: crate::channelz::ChannelStats::new(weak.clone()),
                target,
                authority,
                activity: idle::Activity::new(),
                config,
                handle,
                state,
                closed: CancelToken::new(),
                balancer: Mutex::new(Balancer::default()),
                resolver: routing.resolver,
                lb_policy: routing.lb_policy,
                service_config: RwLock::new(service_config.clone()),
                throttle: Mutex::new(Throttle::for_config(service_config.as_deref())),
                default_service_config: service_config,
                pick_counter: AtomicUsize::new(0),
            }),
            interceptors: None,
        }
    }

    pub(crate) fn from_inner(inner: Arc<ChannelInner>) -> Channel {
        Channel {
            inner,
            interceptors: None,
        }
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
        self.inner.state.send_replace(ChannelConnectivity::Shutdown);
        lock(&self.inner.balancer).shutdown();
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

    /// A connection ready for a new stream, picked by the balancer,
    /// resolving and connecting first if needed. Fails fast with the
    /// balancer's error (e.g. every subchannel in transient failure),
    /// unless `wait_for_ready`, which waits across reconnects and address
    /// changes.
    pub(crate) async fn ready_sender(&self, wait_for_ready: bool) -> Result<Picked, Status> {
        let mut rx = self.inner.state.subscribe();
        self.inner.exit_idle();
        loop {
            rx.borrow_and_update();
            if self.is_closed() {
                return Err(Status::unavailable("Channel is closed"));
            }
            let snapshot = lock(&self.inner.balancer).snapshot();
            match snapshot.pick(&self.inner.pick_counter) {
                Pick::Ready {
                    subchannel,
                    sender,
                    goaway,
                } => {
                    return Ok(Picked {
                        sender,
                        goaway,
                        subchannel,
                    });
                }
                Pick::Fail(status) if !wait_for_ready => return Err(status),
                Pick::Fail(_) | Pick::Queue => {}
            }
            if rx.changed().await.is_err() {
                return Err(Status::unavailable("Channel is closed"));
            }
        }
    }

    /// Leaves idle: starts resolving, and connecting as the policy does.
    pub(crate) fn start_connect(&self) {
        self.inner.exit_idle();
    }

    /// The method config of the channel's service config for `path`.
    pub(crate) fn method_config(&self, path: &str) -> Option<Arc<MethodConfig>> {
        let config = self.inner.service_config.read().ok()?;
        config.as_ref()?.method_shared(path).cloned()
    }

    /// A fresh byte stream to the target (resolved now, first answering
    /// address), secured as the channel is: the HTTP/1.1 connections of
    /// gRPC-Web and Connect calls.
    pub(crate) async fn open_io(&self) -> std::io::Result<crate::transport::io::Io> {
        let addresses = if self.inner.config.connector.is_some() {
            Vec::new()
        } else {
            self.inner
                .resolver
                .resolver
                .resolve_boxed()
                .await
                .map_err(|status| std::io::Error::other(status.details().to_owned()))?
                .addresses
        };
        let alpn = crate::security::client_tls::Alpn::Http1;
        connect::open_secured(&addresses, &self.inner.config, alpn).await
    }
}

/// Locks a mutex, ignoring poisoning (the data stays consistent: every
/// critical section is a plain update).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ChannelInner {
    /// Starts the resolver (once), leaves idle mode, and starts the
    /// connections the policy wants.
    fn exit_idle(self: &Arc<Self>) {
        if self.closed.is_cancelled() {
            return;
        }
        if self.resolver.claim_start() {
            let weak = Arc::downgrade(self);
            let run = Arc::clone(&self.resolver);
            self.handle.spawn(resolver::resolution_loop(
                weak.clone(),
                run,
                self.closed.clone(),
            ));
            if let Some(timeout) = self.config.idle_timeout {
                self.handle
                    .spawn(idle::idle_loop(weak, timeout, self.closed.clone()));
            }
        }
        if self.activity.wake() {
            self.subchannel_changed();
        }
        let snapshot = lock(&self.balancer).snapshot();
        snapshot.exit_idle();
    }

    /// A subchannel's state changed: reconnect what the policy keeps
    /// connected, and publish the aggregate (waking queued calls).
    pub(crate) fn subchannel_changed(&self) {
        let snapshot = lock(&self.balancer).snapshot();
        if !self.activity.is_idle() {
            snapshot
                .to_reconnect()
                .iter()
                .for_each(|subchannel| subchannel.start_connect());
        }
        self.state.send_modify(|state| {
            if *state != ChannelConnectivity::Shutdown {
                *state = snapshot.connectivity();
            }
        });
    }

    /// Asks the resolver again (after a lost or failed connection).
    pub(crate) fn request_resolution(&self) {
        self.resolver.request();
    }

    /// Takes a resolver result: new addresses for the balancer, a new
    /// service config (and policy), or an error.
    pub(crate) fn apply_resolution(self: &Arc<Self>, result: Result<Resolution, Status>) {
        match result {
            Ok(resolution) => {
                let config = resolution
                    .service_config
                    .map(Arc::new)
                    .or_else(|| self.default_service_config.clone());
                let policy = config
                    .as_ref()
                    .and_then(|config| config.lb_policy().cloned())
                    .unwrap_or_else(|| self.lb_policy.clone());
                self.set_service_config(config);
                let addresses = match self.config.connector {
                    // A connector opens the streams: one address stands for it.
                    Some(_) => vec![ResolvedAddress::Unix("connector".into())],
                    None => resolution.addresses,
                };
                let start = lock(&self.balancer).update(policy, addresses, self);
                start
                    .iter()
                    .for_each(|subchannel| subchannel.start_connect());
            }
            Err(status) => {
                tracing::debug!(target = %self.target, details = status.details(), "resolution failed");
                let mut balancer = lock(&self.balancer);
                balancer.resolved = true;
                balancer.resolution_error = Some(status);
            }
        }
        self.subchannel_changed();
    }

    fn set_service_config(&self, config: Option<Arc<ServiceConfig>>) {
        let Ok(mut current) = self.service_config.write() else {
            return;
        };
        let throttling =
            |c: &Option<Arc<ServiceConfig>>| c.as_ref().and_then(|c| c.retry_throttling());
        if throttling(&current) != throttling(&config) {
            *lock(&self.throttle) = Throttle::for_config(config.as_deref());
        }
        *current = config;
    }

    /// The call counter keepalive looks at, unless it pings without calls.
    pub(crate) fn keepalive_calls(&self) -> Option<Arc<AtomicUsize>> {
        (!self.config.keepalive_permit_without_calls).then(|| self.activity.calls())
    }

    /// Every subchannel drops its connection; the channel is Idle until
    /// the next call (`idle_timeout`).
    pub(crate) fn enter_idle(&self) {
        let snapshot = lock(&self.balancer).snapshot();
        snapshot
            .subchannels()
            .iter()
            .for_each(|subchannel| subchannel.go_idle());
        self.subchannel_changed();
    }
}

impl Drop for ChannelInner {
    fn drop(&mut self) {
        // Stops the resolver and the idle timer; connections end with it.
        self.closed.cancel();
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
