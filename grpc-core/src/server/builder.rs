//! [`ServerBuilder`]: grpcio's `grpc.server(...)` arguments as a builder.

use tokio::runtime::Handle;

use super::interceptor::{Interceptors, ServerInterceptor};
use super::lifecycle::Server;
use super::lifetime::ConnectionLimits;
use crate::channel::DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH;
use crate::codec::Compression;
use crate::transport::ping_policy::PingLimits;
use crate::transport::settings::Http2Settings;

/// Server options.
#[derive(Clone, Debug)]
pub(crate) struct ServerConfig {
    pub(crate) max_workers: usize,
    pub(crate) max_waiting_handlers: usize,
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
    pub(crate) cors: super::protocol::Cors,
    pub(crate) interceptors: Interceptors,
    pub(crate) connection_limits: ConnectionLimits,
    /// Call tracers (`ServerBuilder::tracer`).
    pub(crate) tracers: crate::stats::server::ServerTracers,
    /// HTTP/1.1 connection cap and idle timeout.
    pub(crate) http1: super::protocol::Http1Limits,
}

/// Blocking handlers that may wait for their next request without holding
/// a worker slot, by default.
const DEFAULT_MAX_WAITING_HANDLERS: usize = 256;

/// How long a new connection may take to send the HTTP/2 preface and its
/// first SETTINGS before it is closed (gRPC core allows 120 s for the
/// whole handshake; a preface needs far less).
const DEFAULT_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

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
                max_waiting_handlers: DEFAULT_MAX_WAITING_HANDLERS,
                maximum_concurrent_rpcs: None,
                max_receive_message_length: DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH,
                max_send_message_length: usize::MAX,
                compression: Compression::Identity,
                http2: Http2Settings::default(),
                keepalive_time: None,
                keepalive_timeout: std::time::Duration::from_secs(20),
                ping_limits: PingLimits::default(),
                blocking_warning: std::time::Duration::from_millis(100),
                handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
                cors: super::protocol::Cors::default(),
                interceptors: Interceptors::default(),
                connection_limits: ConnectionLimits::default(),
                tracers: Default::default(),
                http1: super::protocol::Http1Limits::default(),
            },
            runtime: None,
        }
    }

    /// Threads that run blocking handlers (at least 1).
    pub fn max_workers(mut self, workers: usize) -> Self {
        self.config.max_workers = workers.max(1);
        self
    }

    /// Blocking handlers that may wait on the network without holding one
    /// of the [`max_workers`](Self::max_workers) slots (default 256).
    ///
    /// `max_workers` bounds handlers running *your code*. A client-streaming
    /// or bidi handler blocked in `Requests::next()` until the client sends
    /// its next message gives its slot to other RPCs and waits on a thread
    /// of its own; this caps how many such threads exist. Past the cap a
    /// waiting handler keeps its slot. (Server-streaming handlers whose
    /// client is slow to read never hold a thread while they wait: their
    /// iterator is drawn again once the stream has room.)
    pub fn max_waiting_handlers(mut self, handlers: usize) -> Self {
        self.config.max_waiting_handlers = handlers;
        self
    }

    /// Sends GOAWAY to a connection that has had no RPC in flight for
    /// `idle` (grpcio's `grpc.max_connection_idle_ms`; off by default).
    pub fn max_connection_idle(mut self, idle: std::time::Duration) -> Self {
        self.config.connection_limits.max_idle = Some(idle);
        self
    }

    /// Sends GOAWAY to a connection once it is `age` old, ±10% (grpcio's
    /// `grpc.max_connection_age_ms`; off by default): its RPCs finish, and
    /// the client opens a new connection for its next calls — how
    /// long-lived clients re-balance across servers behind a load balancer.
    pub fn max_connection_age(mut self, age: std::time::Duration) -> Self {
        self.config.connection_limits.max_age = Some(age);
        self
    }

    /// How long RPCs may run on a connection after its
    /// [`max_connection_age`](Self::max_connection_age) GOAWAY before they
    /// are reset (grpcio's `grpc.max_connection_age_grace_ms`; by default
    /// they may run to the end).
    pub fn max_connection_age_grace(mut self, grace: std::time::Duration) -> Self {
        self.config.connection_limits.max_age_grace = Some(grace);
        self
    }

    /// Adds a server interceptor (grpcio's `interceptors=`); the first one
    /// added is the outermost. See [`ServerInterceptor`].
    pub fn interceptor(mut self, interceptor: impl ServerInterceptor) -> Self {
        self.config.interceptors = self.config.interceptors.with(interceptor);
        self
    }

    /// Adds a call tracer: told of every call's messages (with their
    /// sizes on the wire), headers and status, on every protocol. See
    /// [`ServerTracer`](crate::ServerTracer); tracers run in the order
    /// added.
    pub fn tracer(mut self, tracer: impl crate::ServerTracer) -> Self {
        let tracer: std::sync::Arc<dyn crate::ServerTracer> = std::sync::Arc::new(tracer);
        self.config.tracers = std::mem::take(&mut self.config.tracers).with(tracer);
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

    /// Streams one connection may have open at once
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`, grpcio's
    /// `grpc.max_concurrent_streams`; default 200, at least 1). A client
    /// over the limit waits for a stream to end (or has its stream refused
    /// if it ignores the setting): every open stream costs the server a
    /// task and up to one message of buffered request bytes.
    pub fn max_concurrent_streams(mut self, streams: u32) -> Self {
        self.config.http2.max_concurrent_streams = streams.max(1);
        self
    }

    /// How long a new connection may take to complete the HTTP/2 (and,
    /// on secure ports, TLS) handshake before it is closed (default 20 s):
    /// a client that sends half a preface and then nothing holds a socket
    /// only this long.
    pub fn handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// HTTP/1.1 connections (Connect, gRPC-Web) served at once (default
    /// 1024). A connection past the cap gets `503 Service Unavailable`
    /// (`Connection: close`; Connect and gRPC-Web clients see
    /// `UNAVAILABLE`) for its request and is closed, so a flood of HTTP/1.1
    /// connections cannot exhaust the server; HTTP/2 connections (gRPC
    /// and the rest) are not counted.
    pub fn max_http1_connections(mut self, connections: usize) -> Self {
        self.config.http1.max_connections = connections;
        self
    }

    /// How long an HTTP/1.1 connection may take to send a request head,
    /// the first or the next one (keep-alive idle time), before the server
    /// closes it (default 20 s).
    pub fn http1_idle_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.http1.idle_timeout = timeout;
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

    /// Which web origins may call from a browser (Connect and gRPC-Web
    /// over CORS); default: any origin. See [`Cors`](crate::Cors).
    pub fn cors(mut self, cors: super::protocol::Cors) -> Self {
        self.config.cors = cors;
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
