//! [`ServerBuilder`]: grpcio's `grpc.server(...)` arguments as a builder.

use tokio::runtime::Handle;

use super::lifecycle::Server;
use crate::channel::DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH;
use crate::codec::Compression;
use crate::transport::ping_policy::PingLimits;
use crate::transport::settings::Http2Settings;

/// Server options.
#[derive(Clone, Debug)]
pub(crate) struct ServerConfig {
    pub(crate) max_workers: usize,
    pub(crate) maximum_concurrent_rpcs: Option<usize>,
    pub(crate) max_receive_message_length: usize,
    pub(crate) max_send_message_length: usize,
    pub(crate) compression: Compression,
    pub(crate) http2: Http2Settings,
    pub(crate) keepalive_time: Option<std::time::Duration>,
    pub(crate) keepalive_timeout: std::time::Duration,
    pub(crate) ping_limits: PingLimits,
    pub(crate) blocking_warning: std::time::Duration,
    pub(crate) handshake_timeout: std::time::Duration,
}

/// Builds a [`Server`].
///
/// ```
/// let server = grpc_core::Server::builder()
///     .max_workers(10)                // the ThreadPoolExecutor
///     .maximum_concurrent_rpcs(100)   // beyond it: RESOURCE_EXHAUSTED at once
///     .max_receive_message_length(8 << 20)
///     .build();
/// ```
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    config: ServerConfig,
    runtime: Option<Handle>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl ServerBuilder {
    /// Defaults: `min(32, cpus + 4)` workers (as Python's thread pool), no
    /// RPC limit, 4 MiB receive limit, unlimited send, no compression.
    pub fn new() -> ServerBuilder {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        ServerBuilder {
            config: ServerConfig {
                max_workers: (cpus + 4).min(32),
                maximum_concurrent_rpcs: None,
                max_receive_message_length: DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH,
                max_send_message_length: usize::MAX,
                compression: Compression::Identity,
                http2: Http2Settings::default(),
                keepalive_time: None,
                keepalive_timeout: std::time::Duration::from_secs(20),
                ping_limits: PingLimits::default(),
                blocking_warning: std::time::Duration::from_millis(100),
                handshake_timeout: std::time::Duration::from_secs(20),
            },
            runtime: None,
        }
    }

    /// Threads that run blocking handlers (at least 1).
    pub fn max_workers(mut self, workers: usize) -> Self {
        self.config.max_workers = workers.max(1);
        self
    }

    /// RPCs allowed in progress at once; beyond it new RPCs get
    /// `RESOURCE_EXHAUSTED` at once. Up to the limit, RPCs wait for a worker
    /// in a queue bounded by the limit.
    pub fn maximum_concurrent_rpcs(mut self, limit: usize) -> Self {
        self.config.maximum_concurrent_rpcs = Some(limit);
        self
    }

    /// Largest request message accepted (default 4 MiB); bigger ones end the
    /// RPC with `RESOURCE_EXHAUSTED` while the connection keeps serving.
    pub fn max_receive_message_length(mut self, bytes: usize) -> Self {
        self.config.max_receive_message_length = bytes;
        self
    }

    /// Largest response message sent (default unlimited).
    pub fn max_send_message_length(mut self, bytes: usize) -> Self {
        self.config.max_send_message_length = bytes;
        self
    }

    /// Default response compression (grpcio's `compression=`), used when
    /// the client accepts it; handlers can override per RPC.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.config.compression = compression;
        self
    }

    /// Initial HTTP/2 stream receive window in bytes (default 1 MiB).
    pub fn initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.config.http2.stream_window = bytes;
        self
    }

    /// Initial HTTP/2 connection receive window in bytes (default 2 MiB).
    pub fn initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.config.http2.connection_window = bytes;
        self
    }

    /// PINGs each client after this long and closes connections whose PING
    /// goes unanswered for [`keepalive_timeout`](Self::keepalive_timeout),
    /// freeing the RPCs of a dead peer (`grpc.keepalive_time_ms`). Off by default.
    pub fn keepalive_time(mut self, interval: std::time::Duration) -> Self {
        self.config.keepalive_time = Some(interval);
        self
    }

    /// How long a keepalive PING may go unanswered (default 20 s).
    pub fn keepalive_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.keepalive_timeout = timeout;
        self
    }

    /// Client PINGs closer together than this (with no data between) are
    /// "strikes"; after [`max_ping_strikes`](Self::max_ping_strikes) the
    /// connection gets GOAWAY `ENHANCE_YOUR_CALM` ("too_many_pings").
    /// Default 5 minutes, as gRPC's
    /// `grpc.http2.min_recv_ping_interval_without_data_ms`.
    pub fn min_recv_ping_interval(mut self, interval: std::time::Duration) -> Self {
        self.config.ping_limits.min_interval = interval;
        self
    }

    /// Ping strikes tolerated before GOAWAY (default 2, `grpc.http2.max_ping_strikes`).
    pub fn max_ping_strikes(mut self, strikes: u32) -> Self {
        self.config.ping_limits.max_strikes = strikes;
        self
    }

    /// An async handler whose single poll runs longer than this has
    /// blocked its executor thread and is reported with a warning naming
    /// the method (default 100 ms).
    pub fn blocking_warning_threshold(mut self, threshold: std::time::Duration) -> Self {
        self.config.blocking_warning = threshold;
        self
    }

    /// Longest a connection's security handshake (TLS) may take (default
    /// 20 s); a client that stalls or sends garbage is dropped after it.
    /// Each handshake runs in its own task, so it never delays others.
    pub fn handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Runs the server's sockets on this runtime instead of the shared one.
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Builds the server. Sockets and async handlers run on the runtime
    /// given with [`runtime`](Self::runtime), else on the caller's tokio
    /// runtime if there is one, else on the shared I/O runtime; blocking
    /// handlers always run on the worker pool.
    ///
    /// # Panics
    /// Only if the shared I/O runtime cannot start (no threads available);
    /// use [`try_build`](Self::try_build) to handle that.
    pub fn build(self) -> Server {
        match self.try_build() {
            Ok(server) => server,
            Err(error) => panic!("{error}"),
        }
    }

    /// Builds the server, reporting a runtime that cannot start.
    pub fn try_build(self) -> Result<Server, crate::Error> {
        crate::diagnostics::init_from_env();
        // Built inside a tokio runtime, the server's sockets and async
        // handlers run there; otherwise on the shared I/O runtime.
        let handle = match self.runtime {
            Some(handle) => handle,
            None => match Handle::try_current() {
                Ok(current) => current,
                Err(_) => crate::runtime::shared_handle()?,
            },
        };
        Ok(Server::from_config(self.config, handle))
    }
}
