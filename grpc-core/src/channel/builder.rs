//! [`ChannelBuilder`]: channel options (grpcio's `options=[...]`) as a builder.

use std::time::Duration;

use tokio::runtime::Handle;

use std::sync::Arc;

use super::balancer::LbPolicy;
use super::connect::Connector;
use super::resolver::{self, Resolver, ResolverRun, SharedResolver};
use super::service_config::ServiceConfig;
use super::{Channel, ChannelConfig, Routing, target};
use crate::codec::Compression;
use crate::error::{Error, Kind};
use crate::security::client_tls::TlsTarget;
use crate::security::{ChannelCredentials, ChannelSecurity};
use crate::transport::io::AsyncIo;
use crate::transport::settings::Http2Settings;

/// The default receive limit: 4 MiB, as in every gRPC implementation.
pub const DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH: usize = 4 << 20;

/// The user agent every call carries after any application prefix.
pub(crate) const USER_AGENT: &str = concat!("grpc-rust-rustgrpc/", env!("CARGO_PKG_VERSION"));

/// Builds a [`Channel`] with options.
///
/// ```
/// use std::time::Duration;
/// let channel = grpc_core::ChannelBuilder::new("dns:///localhost:50051")
///     .max_receive_message_length(16 << 20)
///     .keepalive_time(Duration::from_secs(30))
///     .primary_user_agent("my-app/1.2")
///     .build()?;
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ChannelBuilder {
    target: String,
    max_receive_message_length: usize,
    max_send_message_length: usize,
    primary_user_agent: Option<String>,
    compression: Compression,
    http2: Http2Settings,
    keepalive_time: Option<Duration>,
    keepalive_timeout: Duration,
    max_pings_without_data: u32,
    connect_timeout: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
    runtime: Option<Handle>,
    credentials: Option<ChannelCredentials>,
    ssl_target_name_override: Option<String>,
    default_authority: Option<String>,
    connector: Option<Connector>,
    protocol: crate::client::protocol::ClientProtocol,
    invalid_lb_policy: Option<String>,
    resolver: Option<ResolverChoice>,
    lb_policy: LbPolicy,
    service_config: Option<ServiceConfig>,
    min_time_between_resolutions: Duration,
    resolution_interval: Duration,
    idle_timeout: Option<Duration>,
    keepalive_permit_without_calls: bool,
    tracers: crate::stats::client::ClientTracers,
}

/// A user's resolver, shared by the channels built from one builder.
#[derive(Clone)]
struct ResolverChoice(SharedResolver);

impl std::fmt::Debug for ResolverChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver(..)")
    }
}

impl ChannelBuilder {
    /// Starts a builder for `target` (see [`insecure_channel`](crate::insecure_channel) for the forms).
    pub fn new(target: impl Into<String>) -> ChannelBuilder {
        ChannelBuilder {
            target: target.into(),
            max_receive_message_length: DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH,
            max_send_message_length: usize::MAX,
            primary_user_agent: None,
            compression: Compression::Identity,
            http2: Http2Settings::default(),
            keepalive_time: None,
            keepalive_timeout: Duration::from_secs(20),
            max_pings_without_data: 2,
            connect_timeout: Duration::from_secs(20),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(120),
            runtime: None,
            credentials: None,
            ssl_target_name_override: None,
            default_authority: None,
            connector: None,
            invalid_lb_policy: None,
            resolver: None,
            lb_policy: LbPolicy::default(),
            service_config: None,
            min_time_between_resolutions: Duration::from_secs(30),
            resolution_interval: Duration::from_secs(30 * 60),
            idle_timeout: Some(Duration::from_secs(30 * 60)),
            keepalive_permit_without_calls: false,
            protocol: crate::client::protocol::ClientProtocol::grpc(),
            tracers: Default::default(),
        }
    }

    /// Resolves the target's addresses with `resolver` instead of DNS or
    /// the target's address list (the target then only names the
    /// `:authority`).
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.resolver = Some(ResolverChoice(Arc::new(resolver)));
        self
    }

    /// The load-balancing policy when the service config names none
    /// (`grpc.lb_policy_name`; default `pick_first`).
    ///
    /// ```
    /// let channel = grpc_core::ChannelBuilder::new("ipv4:127.0.0.1:50051,127.0.0.1:50052")
    ///     .lb_policy(grpc_core::LbPolicy::RoundRobin)
    ///     .build()?;
    /// # Ok::<(), grpc_core::Error>(())
    /// ```
    pub fn lb_policy(mut self, policy: LbPolicy) -> Self {
        self.lb_policy = policy;
        self
    }

    /// [`lb_policy`](Self::lb_policy) by grpcio's name (`"pick_first"`,
    /// `"round_robin"`); an unknown name fails [`build`](Self::build).
    pub fn lb_policy_name(mut self, name: &str) -> Self {
        match LbPolicy::from_name(name) {
            Some(policy) => self.lb_policy = policy,
            None => self.invalid_lb_policy = Some(name.to_owned()),
        }
        self
    }

    /// The service config used unless the resolver returns one
    /// (`grpc.service_config`).
    pub fn service_config(mut self, config: ServiceConfig) -> Self {
        self.service_config = Some(config);
        self
    }

    /// Re-resolution after a lost or failed connection waits at least this
    /// long after the previous resolution
    /// (`grpc.dns_min_time_between_resolutions_ms`; default 30 s).
    pub fn min_time_between_resolutions(mut self, interval: Duration) -> Self {
        self.min_time_between_resolutions = interval;
        self
    }

    /// The channel resolves again this often even when nothing failed
    /// (default 30 minutes).
    pub fn resolution_interval(mut self, interval: Duration) -> Self {
        self.resolution_interval = interval;
        self
    }

    /// After this long without calls the channel drops its connections
    /// and goes Idle; the next call reconnects
    /// (`grpc.client_idle_timeout_ms`; default 30 minutes, `None` = never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Keepalive pings also while no call is in flight
    /// (`grpc.keepalive_permit_without_calls`; default false).
    pub fn keepalive_permit_without_calls(mut self, permit: bool) -> Self {
        self.keepalive_permit_without_calls = permit;
        self
    }

    /// Secures the channel with `credentials` (see
    /// [`secure_channel`](crate::secure_channel)); without it the channel is
    /// plaintext.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), grpc_core::Error> {
    /// let ca = std::fs::read("ca.pem").unwrap();
    /// let credentials = grpc_core::ssl_channel_credentials(Some(&ca), None, None)?;
    /// let channel = grpc_core::ChannelBuilder::new("10.0.0.7:50051")
    ///     .secure(&credentials)
    ///     .ssl_target_name_override("api.internal.example")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn secure(mut self, credentials: &ChannelCredentials) -> Self {
        self.credentials = Some(credentials.clone());
        self
    }

    /// The name the server's TLS certificate must be valid for, and the
    /// name asked for with SNI, instead of the target's host
    /// (`grpc.ssl_target_name_override`; for tests and odd deployments).
    pub fn ssl_target_name_override(mut self, name: impl Into<String>) -> Self {
        self.ssl_target_name_override = Some(name.into());
        self
    }

    /// The `:authority` sent with every call instead of the target's
    /// `host:port` (`grpc.default_authority`); on TLS channels its host is
    /// also the name checked, unless
    /// [`ssl_target_name_override`](Self::ssl_target_name_override) is set.
    pub fn default_authority(mut self, authority: impl Into<String>) -> Self {
        self.default_authority = Some(authority.into());
        self
    }

    /// Connects to `server` in this process over in-memory pipes instead
    /// of sockets: each connection is a fresh pipe that `server` serves as
    /// a port with `credentials` would (for tests, and for in-process
    /// services). The server must be started; it may have no ports.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use grpc_core::{ChannelBuilder, Server, ServiceBuilder, Status};
    /// let server = Server::builder().build();
    /// let mut service = ServiceBuilder::new("demo.Echo");
    /// service.unary_unary("Echo", |text: String, _ctx| Ok::<_, Status>(text));
    /// server.add_service(service.build());
    /// server.start()?;
    /// let channel = ChannelBuilder::new("localhost")
    ///     .in_memory(&server, &grpc_core::insecure_server_credentials())
    ///     .build()?;
    /// let echo = channel.unary_unary::<String, String>("/demo.Echo/Echo");
    /// assert_eq!(echo.call_async("hi".to_string()).await?, "hi");
    /// server.stop(None).await;
    /// # Ok(()) }
    /// ```
    pub fn in_memory(self, server: &crate::Server, credentials: &crate::ServerCredentials) -> Self {
        /// Bytes each direction of a pipe buffers (one HTTP/2 frame and more).
        const PIPE_BUFFER: usize = 256 * 1024;
        let server = server.clone();
        let credentials = credentials.clone();
        self.connector(move || {
            let (client_end, server_end) = tokio::io::duplex(PIPE_BUFFER);
            let served = server.serve_connection(server_end, "memory", &credentials);
            async move {
                served
                    .map(|()| client_end)
                    .map_err(|error| std::io::Error::new(std::io::ErrorKind::NotConnected, error))
            }
        })
    }

    /// Opens each connection's byte stream with `connect` instead of a
    /// socket to the target (which then only names the `:authority`): an
    /// in-memory pipe, a proxy tunnel, a socket with custom options. TLS,
    /// when configured, runs over the stream it returns.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), grpc_core::Error> {
    /// let channel = grpc_core::ChannelBuilder::new("localhost:50051")
    ///     .connector(|| tokio::net::TcpStream::connect("127.0.0.1:50051"))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn connector<F, Fut, I>(mut self, connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::io::Result<I>> + Send + 'static,
        I: AsyncIo,
    {
        self.connector = Some(Connector::new(connect));
        self
    }

    /// Largest message the client accepts (default 4 MiB); bigger ones end
    /// the call with `RESOURCE_EXHAUSTED` (`grpc.max_receive_message_length`).
    pub fn max_receive_message_length(mut self, bytes: usize) -> Self {
        self.max_receive_message_length = bytes;
        self
    }

    /// Largest message the client sends (default unlimited)
    /// (`grpc.max_send_message_length`).
    pub fn max_send_message_length(mut self, bytes: usize) -> Self {
        self.max_send_message_length = bytes;
        self
    }

    /// An application name put in front of the library's user agent
    /// (`grpc.primary_user_agent`).
    pub fn primary_user_agent(mut self, agent: impl Into<String>) -> Self {
        self.primary_user_agent = Some(agent.into());
        self
    }

    /// Default compression for requests on this channel (`compression=` on
    /// `insecure_channel`); a call's own option wins.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Initial HTTP/2 stream receive window in bytes (default 1 MiB).
    pub fn initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.http2.stream_window = bytes;
        self
    }

    /// Initial HTTP/2 connection receive window in bytes (default 2 MiB).
    pub fn initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.http2.connection_window = bytes;
        self
    }

    /// Largest HTTP/2 frame payload accepted (16 KiB to 16 MiB - 1).
    pub fn max_frame_size(mut self, bytes: u32) -> Self {
        self.http2.max_frame_size = bytes;
        self
    }

    /// Sends an HTTP/2 PING after this long and drops the connection if it
    /// is not answered in [`keepalive_timeout`](Self::keepalive_timeout)
    /// (`grpc.keepalive_time_ms`). Off by default.
    pub fn keepalive_time(mut self, interval: Duration) -> Self {
        self.keepalive_time = Some(interval);
        self
    }

    /// How long a keepalive PING may go unanswered (default 20 s).
    pub fn keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive_timeout = timeout;
        self
    }

    /// Keepalive PINGs sent in a row while no data or headers go out
    /// (`grpc.http2.max_pings_without_data`; default 2, as gRPC core; 0 =
    /// no limit). Servers close connections that ping too often without
    /// data (grpcio's default allows one ping per 5 minutes): after this
    /// many, keepalive waits for the next call or message.
    pub fn max_pings_without_data(mut self, pings: u32) -> Self {
        self.max_pings_without_data = pings;
        self
    }

    /// Limit on one connection attempt (default 20 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Reconnect backoff: first delay and cap (defaults 1 s and 120 s,
    /// growing 1.6x per failure as in gRPC's connection-backoff spec).
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Runs the channel's connection on this runtime. By default a channel
    /// built inside a tokio runtime uses that runtime, and one built outside
    /// uses the shared I/O runtime. Blocking calls on a channel driven by a
    /// current-thread runtime fail from inside that runtime (they could
    /// never finish).
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// The protocol every call on the channel speaks: gRPC over HTTP/2
    /// (the default), gRPC-Web, or Connect (protobuf or JSON), over HTTP/1.1
    /// or HTTP/2; see [`ClientProtocol`](crate::ClientProtocol). Stubs and
    /// both faces work the same whichever it is.
    ///
    /// ```
    /// use grpc_core::{ChannelBuilder, ClientProtocol, HttpVersion};
    /// let channel = ChannelBuilder::new("localhost:50051")
    ///     .protocol(ClientProtocol::connect().http_version(HttpVersion::Http1))
    ///     .build()?;
    /// # Ok::<(), grpc_core::Error>(())
    /// ```
    pub fn protocol(mut self, protocol: crate::client::protocol::ClientProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Adds an attempt tracer: told of every attempt the channel puts on
    /// the wire (retries, hedges and transparent retries included), its
    /// messages with their sizes on the wire, and its status. See
    /// [`ClientTracer`](crate::ClientTracer); tracers run in the order
    /// added.
    pub fn tracer(mut self, tracer: impl crate::ClientTracer) -> Self {
        let tracer: Arc<dyn crate::ClientTracer> = Arc::new(tracer);
        self.tracers = std::mem::take(&mut self.tracers).with(tracer);
        self
    }

    /// Builds the channel; no connection is made until the first call.
    pub fn build(self) -> Result<Channel, Error> {
        if let Some(name) = &self.invalid_lb_policy {
            return Err(Error::new(
                Kind::InvalidArgument,
                format!("unknown load-balancing policy {name:?} (pick_first, round_robin)"),
            ));
        }
        self.check_frame_size()?;
        let parsed = target::parse(&self.target)?;
        let authority = self.authority(&parsed.authority)?;
        let (security, call_credentials) = match &self.credentials {
            Some(credentials) => (credentials.security.clone(), credentials.call.clone()),
            None => (ChannelSecurity::Insecure, None),
        };
        let tls = self.tls_target(&security, &authority)?;
        let user_agent = self.user_agent()?;
        let handle = runtime_handle(self.runtime.clone())?;
        let protocol = self.protocol.client()?;
        let config = ChannelConfig {
            max_receive_message_length: self.max_receive_message_length,
            max_send_message_length: self.max_send_message_length,
            user_agent,
            compression: self.compression,
            http2: self.http2,
            keepalive_time: self.keepalive_time,
            keepalive_timeout: self.keepalive_timeout,
            max_pings_without_data: self.max_pings_without_data,
            connect_timeout: self.connect_timeout,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
            scheme: if tls.is_some() { "https" } else { "http" },
            security,
            tls,
            call_credentials,
            connector: self.connector,
            keepalive_permit_without_calls: self.keepalive_permit_without_calls,
            idle_timeout: self.idle_timeout,
            protocol,
            tracers: self.tracers,
        };
        let resolver: SharedResolver = match (self.resolver, &config.connector) {
            (Some(ResolverChoice(resolver)), _) => resolver,
            // A connector opens the streams: nothing to resolve.
            (None, Some(_)) => Arc::new(resolver::FixedResolver(Vec::new())),
            (None, None) => resolver::for_target(&parsed.address),
        };
        let routing = Routing {
            resolver: Arc::new(ResolverRun::new(
                resolver,
                self.min_time_between_resolutions,
                self.resolution_interval,
            )),
            lb_policy: self.lb_policy,
            service_config: self.service_config,
        };
        Ok(Channel::from_parts(
            self.target,
            authority,
            config,
            handle,
            routing,
        ))
    }

    /// The `:authority` of every call: the default authority if set, else
    /// the target's.
    fn authority(&self, target_authority: &str) -> Result<http::uri::Authority, Error> {
        let text = self
            .default_authority
            .as_deref()
            .unwrap_or(target_authority);
        text.parse().map_err(|error| {
            Error::new(
                Kind::InvalidTarget,
                format!("invalid target {:?}: bad authority {text:?}", self.target),
            )
            .with_source(error)
        })
    }

    /// The TLS client and the name its certificate is checked against.
    fn tls_target(
        &self,
        security: &ChannelSecurity,
        authority: &http::uri::Authority,
    ) -> Result<Option<TlsTarget>, Error> {
        let ChannelSecurity::Tls(client) = security else {
            return Ok(None);
        };
        let name = self
            .ssl_target_name_override
            .as_deref()
            .unwrap_or_else(|| authority.host());
        Ok(Some(TlsTarget {
            client: std::sync::Arc::clone(client),
            server_name: server_name(name)?,
        }))
    }

    fn check_frame_size(&self) -> Result<(), Error> {
        if (16_384..=16_777_215).contains(&self.http2.max_frame_size) {
            return Ok(());
        }
        Err(Error::new(
            Kind::InvalidArgument,
            format!(
                "max_frame_size {} is outside 16384..=16777215",
                self.http2.max_frame_size
            ),
        ))
    }

    fn user_agent(&self) -> Result<http::HeaderValue, Error> {
        let user_agent = match &self.primary_user_agent {
            Some(primary) => format!("{primary} {USER_AGENT}"),
            None => USER_AGENT.to_owned(),
        };
        http::HeaderValue::from_str(&user_agent).map_err(|error| {
            Error::new(Kind::InvalidArgument, "user agent must be printable ASCII")
                .with_source(error)
        })
    }
}

/// The caller's runtime when there is one, so async calls pay no hop to
/// another runtime's threads; the shared one otherwise.
fn runtime_handle(chosen: Option<Handle>) -> Result<Handle, Error> {
    match chosen {
        Some(handle) => Ok(handle),
        None => match Handle::try_current() {
            Ok(current) => Ok(current),
            Err(_) => crate::runtime::shared_handle(),
        },
    }
}

/// The name a TLS server's certificate must carry: a DNS name or an IP
/// address (brackets of an IPv6 authority removed).
fn server_name(name: &str) -> Result<rustls_pki_types::ServerName<'static>, Error> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    rustls_pki_types::ServerName::try_from(bare.to_owned()).map_err(|error| {
        Error::new(
            Kind::InvalidArgument,
            format!("{name:?} is not a valid TLS server name"),
        )
        .with_source(error)
    })
}
