//! [`ChannelBuilder`]: channel options (grpcio's `options=[...]`) as a builder.

use std::time::Duration;

use tokio::runtime::Handle;

use super::{Channel, ChannelConfig, target};
use crate::codec::Compression;
use crate::error::{Error, Kind};
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
        }
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

    /// Builds the channel; no connection is made until the first call.
    pub fn build(self) -> Result<Channel, Error> {
        let parsed = target::parse(&self.target)?;
        let authority: http::uri::Authority = parsed.authority.parse().map_err(|error| {
            Error::new(
                Kind::InvalidTarget,
                format!("invalid target {:?}: bad authority", self.target),
            )
            .with_source(error)
        })?;
        if !(16_384..=16_777_215).contains(&self.http2.max_frame_size) {
            return Err(Error::new(
                Kind::InvalidArgument,
                format!(
                    "max_frame_size {} is outside 16384..=16777215",
                    self.http2.max_frame_size
                ),
            ));
        }
        let user_agent = match &self.primary_user_agent {
            Some(primary) => format!("{primary} {USER_AGENT}"),
            None => USER_AGENT.to_owned(),
        };
        let user_agent = http::HeaderValue::from_str(&user_agent).map_err(|error| {
            Error::new(Kind::InvalidArgument, "user agent must be printable ASCII")
                .with_source(error)
        })?;
        // The caller's runtime when there is one, so async calls pay no
        // hop to another runtime's threads; the shared one otherwise.
        let handle = match self.runtime {
            Some(handle) => handle,
            None => match Handle::try_current() {
                Ok(current) => current,
                Err(_) => crate::runtime::shared_handle()?,
            },
        };
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
        };
        Ok(Channel::from_parts(
            self.target,
            parsed,
            authority,
            config,
            handle,
        ))
    }
}
