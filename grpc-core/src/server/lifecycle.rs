//! [`Server`]: ports, start, graceful stop, and waiting for termination.
//!
//! ```text
//!   NotStarted ──start()──▶ Serving ──stop(grace)──▶ Draining ──grace over──▶ Cancelling
//!                                                       │ all RPCs done            │ all done
//!                                                       └──────────▶ Terminated ◀──┘
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;

use super::builder::ServerConfig;
use super::connection::{Listener, accept_loop, secure_and_serve};
use super::handler::MethodEntry;
use super::pool::WorkerPool;
use super::registry::{Registry, Service};
use crate::error::{Error, Kind};
use crate::security::{ServerCredentials, ServerSecurity};
use crate::sync::Completion;
use crate::transport::io::AsyncIo;

/// Where the server is in its life; ordered, so waiters can ask "at least".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    NotStarted,
    Serving,
    Draining,
    Cancelling,
    Terminated,
}

/// A gRPC server (grpcio's `grpc.server(...)`): add services and ports,
/// `start`, and later `stop`. Cheap to clone; clones are the same server.
///
/// ```
/// use std::time::Duration;
/// let server = grpc_core::Server::builder().max_workers(10).maximum_concurrent_rpcs(100).build();
/// // add_greeter_servicer_to_server(Greeter, &server);
/// let port = server.add_insecure_port("[::]:0")?;
/// assert_ne!(port, 0);
/// server.start()?;
/// server.stop(Some(Duration::from_secs(5))).wait();
/// assert!(server.wait_for_termination(Some(Duration::ZERO)));
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Server {
    shared: Arc<ServerShared>,
}

pub(crate) struct ServerShared {
    config: ServerConfig,
    handle: Handle,
    registry: RwLock<Registry>,
    listeners: Mutex<Vec<(Listener, ServerSecurity)>>,
    bound: Mutex<Vec<SocketAddr>>,
    phase: watch::Sender<Phase>,
    pool: WorkerPool,
    active_rpcs: AtomicUsize,
    live_tasks: AtomicUsize,
    idle: tokio::sync::Notify,
    terminated: Completion<()>,
    /// Run once, by the first `stop`, before anything is refused.
    stop_callbacks: Mutex<Vec<StopCallback>>,
    /// Set (under the `stop_callbacks` lock) by the first `stop`.
    stop_requested: AtomicBool,
    /// Call and socket counters (`grpc_core::channelz`).
    channelz: crate::channelz::ServerStats,
    /// Message descriptors for Connect's JSON codec and GET requests.
    descriptors: super::protocol::Descriptors,
    /// HTTP/1.1 connections served at once (`max_http1_connections`).
    http1_slots: super::protocol::Http1Slots,
}

/// A callback registered with [`Server::add_stop_callback`].
type StopCallback = Box<dyn FnOnce() + Send>;

/// Held while an RPC counts against `maximum_concurrent_rpcs`.
pub(crate) struct RpcPermit<'a> {
    server: &'a ServerShared,
}

impl Drop for RpcPermit<'_> {
    fn drop(&mut self) {
        self.server.active_rpcs.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Held by every server task; termination waits until none is left.
pub(crate) struct TaskGuard {
    server: Arc<ServerShared>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.server.live_tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.server.idle.notify_waiters();
        }
    }
}

impl ServerShared {
    pub(crate) fn config(&self) -> &ServerConfig {
        &self.config
    }

    pub(crate) fn descriptors(&self) -> &super::protocol::Descriptors {
        &self.descriptors
    }

    pub(crate) fn http1_slots(&self) -> &super::protocol::Http1Slots {
        &self.http1_slots
    }

    pub(crate) fn pool(&self) -> &WorkerPool {
        &self.pool
    }

    pub(crate) fn lookup(&self, path: &str) -> Option<Arc<MethodEntry>> {
        self.registry
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .lookup(path)
    }

    /// Admits an RPC under `maximum_concurrent_rpcs`; `None` when full.
    pub(crate) fn admit(&self) -> Option<RpcPermit<'_>> {
        let before = self.active_rpcs.fetch_add(1, Ordering::AcqRel);
        let permit = RpcPermit { server: self };
        match self.config.maximum_concurrent_rpcs {
            Some(limit) if before >= limit => None,
            _ => Some(permit),
        }
    }

    pub(crate) fn task_guard(self: &Arc<Self>) -> TaskGuard {
        self.live_tasks.fetch_add(1, Ordering::AcqRel);
        TaskGuard {
            server: Arc::clone(self),
        }
    }

    pub(crate) fn phase(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }

    pub(crate) fn channelz(&self) -> &crate::channelz::ServerStats {
        &self.channelz
    }

    fn stopping(&self) -> bool {
        self.stop_requested.load(Ordering::Acquire)
    }

    async fn all_tasks_done(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.live_tasks.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Returned by [`Server::stop`]: wait on it for the server to terminate
/// (grpcio returns a `threading.Event`).
#[derive(Clone)]
pub struct StopHandle {
    terminated: Completion<()>,
}

impl StopHandle {
    /// Blocks until the server has terminated.
    pub fn wait(&self) {
        self.terminated.wait(None);
    }

    /// Blocks up to `timeout`; true if the server terminated.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.terminated.wait(Some(timeout)).is_some()
    }

    /// True once the server has terminated.
    pub fn is_set(&self) -> bool {
        self.terminated.is_complete()
    }
}

/// In async code, `server.stop(grace).await` waits for termination.
impl std::future::Future for StopHandle {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.terminated.poll_with(cx, |_| ())
    }
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle")
            .field("terminated", &self.is_set())
            .finish()
    }
}

impl Server {
    /// Starts a [`ServerBuilder`](crate::ServerBuilder).
    pub fn builder() -> super::ServerBuilder {
        super::ServerBuilder::new()
    }

    pub(crate) fn from_config(config: ServerConfig, handle: Handle) -> Server {
        let (phase, _) = watch::channel(Phase::NotStarted);
        let pool = WorkerPool::new(config.max_workers, config.max_waiting_handlers);
        let http1_slots = super::protocol::Http1Slots::new(&config.http1);
        Server {
            shared: Arc::new(ServerShared {
                config,
                handle,
                registry: RwLock::new(Registry::default()),
                listeners: Mutex::new(Vec::new()),
                bound: Mutex::new(Vec::new()),
                phase,
                pool,
                active_rpcs: AtomicUsize::new(0),
                live_tasks: AtomicUsize::new(0),
                idle: tokio::sync::Notify::new(),
                terminated: Completion::new(),
                stop_callbacks: Mutex::new(Vec::new()),
                stop_requested: AtomicBool::new(false),
                channelz: crate::channelz::ServerStats::new(),
                descriptors: super::protocol::Descriptors::default(),
                http1_slots,
            }),
        }
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<(Listener, ServerSecurity)>> {
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Registers a service's methods (grpcio's `add_generic_rpc_handlers`);
    /// generated `add_<service>_servicer_to_server` functions call this.
    /// A method registered twice keeps the later handler.
    pub fn add_service(&self, service: Service) {
        self.shared
            .registry
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .add(service);
    }

    /// Makes the single method of `service` (any name, any kind; raw bytes
    /// with [`RawBytes`](crate::RawBytes) for a proxy) answer every method
    /// no service registered, under the path the client called, which the
    /// handler reads from [`ServicerContext::method`](crate::ServicerContext::method)
    /// (grpcio's generic handler that matches any method). Fails unless
    /// `service` has exactly one method.
    ///
    /// ```
    /// use grpc_core::{RawBytes, Server, ServiceBuilder, Status};
    /// let server = Server::builder().build();
    /// let mut any = ServiceBuilder::new("fallback");
    /// any.unary_unary("Any", |request: RawBytes, ctx| {
    ///     Err::<RawBytes, _>(Status::unimplemented(format!("no {}", ctx.method())))
    /// });
    /// server.add_fallback(any.build())?;
    /// # Ok::<(), grpc_core::Error>(())
    /// ```
    pub fn add_fallback(&self, service: Service) -> Result<(), Error> {
        self.shared
            .registry
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .set_fallback(service)
    }

    /// The names (`package.Service`) of the services registered so far,
    /// sorted; server reflection lists them.
    pub fn service_names(&self) -> Vec<String> {
        self.shared
            .registry
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .service_names()
    }

    /// Runs `callback` once, when [`stop`](Self::stop) is first called and
    /// before the server refuses anything: the moment to tell load
    /// balancers to drain (the health service flips every status to
    /// `NOT_SERVING` here). Callbacks run in the order they were added, on
    /// the thread that calls `stop`, so they must be quick. Added after the
    /// first `stop`, `callback` runs at once.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let server = grpc_core::Server::builder().build();
    /// let told = Arc::new(AtomicBool::new(false));
    /// let flag = Arc::clone(&told);
    /// server.add_stop_callback(move || flag.store(true, Ordering::SeqCst));
    /// server.stop(None).wait();
    /// assert!(told.load(Ordering::SeqCst));
    /// ```
    pub fn add_stop_callback(&self, callback: impl FnOnce() + Send + 'static) {
        let previous = {
            let mut callbacks = self
                .shared
                .stop_callbacks
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if self.shared.stopping() {
                Some(callback)
            } else {
                callbacks.push(Box::new(callback));
                None
            }
        };
        if let Some(callback) = previous {
            callback();
        }
    }

    /// The server's channelz record: calls received (started, succeeded,
    /// failed, last started) and its open connections with their streams
    /// and messages; the `grpc-channelz` crate serves it.
    pub fn channelz(&self) -> crate::channelz::ServerStats {
        self.shared.channelz.clone()
    }

    /// A handle that does not keep the server alive, for services that
    /// need to look at the server they are registered with (a strong
    /// `Server` inside a registered service would never be freed).
    pub fn downgrade(&self) -> WeakServer {
        WeakServer {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Runs the stop callbacks (once).
    fn run_stop_callbacks(&self) {
        let callbacks = {
            let mut callbacks = self
                .shared
                .stop_callbacks
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            self.shared.stop_requested.store(true, Ordering::Release);
            std::mem::take(&mut *callbacks)
        };
        for callback in callbacks {
            callback();
        }
    }

    /// Makes the messages of an encoded `google.protobuf.FileDescriptorSet`
    /// known to the server (imports included), so the methods it describes
    /// also accept Connect's JSON codec (`application/json`,
    /// `application/connect+json`), with the proto3 JSON mapping, and GET
    /// requests for methods marked `idempotency_level = NO_SIDE_EFFECTS`.
    /// Fails when the bytes are not a valid, self-contained set, or when
    /// a set added before has a file of the same name with other contents.
    ///
    /// Generated `add_*_servicer_to_server` functions of code built with
    /// `DescriptorSet::Embed` register their package's descriptors
    /// themselves ([`register_generated_descriptors`]); a set added here
    /// replaces those files of the same name (e.g. one built by your own
    /// protoc, or with methods marked `NO_SIDE_EFFECTS`).
    ///
    /// [`register_generated_descriptors`]: Self::register_generated_descriptors
    pub fn add_file_descriptor_set(&self, encoded: &[u8]) -> Result<(), Error> {
        self.shared.descriptors.add(encoded)
    }

    /// Registers the descriptors generated code embeds (its
    /// `FILE_DESCRIPTOR_SET`), so Connect's JSON and GET work for its
    /// services with no [`add_file_descriptor_set`] call; generated
    /// `add_*_servicer_to_server` functions call it. A file already known
    /// (from the user, or registered before) is kept; a set that does not
    /// fit is ignored (logged), never an error of the servicer's
    /// registration.
    ///
    /// [`add_file_descriptor_set`]: Self::add_file_descriptor_set
    pub fn register_generated_descriptors(&self, encoded: &'static [u8]) {
        if let Err(error) = self.shared.descriptors.add_generated(encoded) {
            tracing::debug!(%error, "generated descriptors not registered");
        }
    }

    /// Binds `address` (`[::]:50051`, `127.0.0.1:0`, `localhost:0`,
    /// `unix:/path`) and returns the bound port (0 for Unix sockets). Port 0
    /// picks a free port. Must be called before [`start`](Self::start).
    pub fn add_insecure_port(&self, address: &str) -> Result<u16, Error> {
        self.add_port(address, ServerSecurity::Insecure)
    }

    /// Binds `address` like [`add_insecure_port`](Self::add_insecure_port)
    /// and secures its connections with `credentials` (grpcio's
    /// `add_secure_port`): TLS from [`ssl_server_credentials`](crate::ssl_server_credentials),
    /// or [`local_server_credentials`](crate::local_server_credentials).
    /// Secure and insecure ports can serve side by side.
    pub fn add_secure_port(
        &self,
        address: &str,
        credentials: &ServerCredentials,
    ) -> Result<u16, Error> {
        self.add_port(address, credentials.security.clone())
    }

    /// Serves one connection over any byte stream (an in-memory pipe, a
    /// socket accepted elsewhere, a tunnel), secured by `credentials` like
    /// a port's connections. `peer` is what
    /// [`ServicerContext::peer`](crate::ServicerContext::peer) reports.
    /// The server must be started (it may have no ports at all); the
    /// connection is served on the server's runtime until it closes or the
    /// server stops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Mutex;
    /// use grpc_core::{ChannelBuilder, Server, ServiceBuilder, Status};
    ///
    /// let server = Server::builder().build();
    /// let mut service = ServiceBuilder::new("demo.Echo");
    /// service.unary_unary("Echo", |request: String, _ctx| Ok::<_, Status>(request));
    /// server.add_service(service.build());
    /// server.start()?;
    ///
    /// // An in-memory connection: one end to the server, one to the channel.
    /// let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    /// server.serve_connection(server_end, "memory", &grpc_core::insecure_server_credentials())?;
    /// let client_end = Mutex::new(Some(client_end));
    /// let channel = ChannelBuilder::new("localhost")
    ///     .connector(move || {
    ///         let end = client_end.lock().map(|mut end| end.take()).ok().flatten();
    ///         async move { end.ok_or_else(|| std::io::Error::other("the pipe is used up")) }
    ///     })
    ///     .build()?;
    /// let echo = channel.unary_unary::<String, String>("/demo.Echo/Echo");
    /// assert_eq!(echo.call_async("hi".to_string()).await?, "hi");
    /// server.stop(None).await;
    /// # Ok(()) }
    /// ```
    pub fn serve_connection(
        &self,
        io: impl AsyncIo,
        peer: &str,
        credentials: &ServerCredentials,
    ) -> Result<(), Error> {
        if *self.shared.phase.borrow() != Phase::Serving {
            return Err(Error::new(
                Kind::BadState,
                "serve_connection needs a started server that is not stopping",
            ));
        }
        let guard = self.shared.task_guard();
        let server = Arc::clone(&self.shared);
        self.shared.handle.spawn(secure_and_serve(
            io,
            peer.to_owned(),
            (None, None),
            credentials.security.clone(),
            server,
            guard,
        ));
        Ok(())
    }

    fn add_port(&self, address: &str, security: ServerSecurity) -> Result<u16, Error> {
        if *self.shared.phase.borrow() != Phase::NotStarted {
            return Err(Error::new(
                Kind::BadState,
                "ports must be added before the server starts",
            ));
        }
        let listener = Listener::bind(address)?;
        let port = listener.port();
        if let Some(addr) = listener.local_addr() {
            self.shared
                .bound
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .push(addr);
        }
        self.listeners().push((listener, security));
        Ok(port)
    }

    /// The addresses bound so far.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.shared
            .bound
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Starts serving on every added port (a server without ports serves
    /// only what [`serve_connection`](Self::serve_connection) hands it).
    /// Fails when started twice.
    pub fn start(&self) -> Result<(), Error> {
        let listeners = {
            let mut listeners = self.listeners();
            if *self.shared.phase.borrow() != Phase::NotStarted {
                return Err(Error::new(Kind::BadState, "the server was already started"));
            }
            std::mem::take(&mut *listeners)
        };
        let _enter = self.shared.handle.enter();
        let mut tokio_listeners = Vec::new();
        for (listener, security) in listeners {
            tokio_listeners.push((listener.into_tokio()?, security));
        }
        self.shared.phase.send_replace(Phase::Serving);
        for (listener, security) in tokio_listeners {
            let guard = self.shared.task_guard();
            let server = Arc::clone(&self.shared);
            self.shared
                .handle
                .spawn(accept_loop(listener, security, server, guard));
        }
        Ok(())
    }

    /// Stops the server (grpcio's `stop(grace)`): new connections and RPCs
    /// are refused at once (GOAWAY, then `UNAVAILABLE`); in-flight RPCs get
    /// `grace` to finish and are cancelled after it; `None` cancels them
    /// now. Returns a handle to wait on. Idempotent. The first call runs
    /// the [stop callbacks](Self::add_stop_callback) before anything else.
    pub fn stop(&self, grace: Option<Duration>) -> StopHandle {
        let handle = StopHandle {
            terminated: self.shared.terminated.clone(),
        };
        self.run_stop_callbacks();
        let previous = *self.shared.phase.borrow();
        match previous {
            Phase::NotStarted => {
                self.shared.phase.send_replace(Phase::Terminated);
                self.listeners().clear();
                self.shared.pool.shutdown();
                self.shared.terminated.complete(());
                return handle;
            }
            Phase::Terminated => return handle,
            Phase::Serving | Phase::Draining | Phase::Cancelling => {}
        }
        let target = if grace.is_none_or(|grace| grace.is_zero()) {
            Phase::Cancelling
        } else {
            Phase::Draining
        };
        self.shared.phase.send_if_modified(|phase| {
            if *phase < target {
                *phase = target;
                true
            } else {
                false
            }
        });
        if previous == Phase::Serving {
            let shared = Arc::clone(&self.shared);
            self.shared.handle.spawn(async move {
                let grace = grace.unwrap_or(Duration::ZERO);
                if tokio::time::timeout(grace, shared.all_tasks_done())
                    .await
                    .is_err()
                {
                    shared.phase.send_if_modified(|phase| {
                        if *phase < Phase::Cancelling {
                            *phase = Phase::Cancelling;
                            true
                        } else {
                            false
                        }
                    });
                    shared.all_tasks_done().await;
                }
                shared.phase.send_replace(Phase::Terminated);
                shared.pool.shutdown();
                shared.terminated.complete(());
            });
        }
        handle
    }

    /// Serves inside an existing tokio runtime until `shutdown` completes,
    /// then stops with `grace` and waits for termination (grpc.aio's
    /// `start()` + `wait_for_termination()` + `stop(grace)`). Starts the
    /// server first unless it already runs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), grpc_core::Error> {
    /// use std::time::Duration;
    /// let server = grpc_core::Server::builder().build();
    /// server.add_insecure_port("127.0.0.1:0")?;
    /// let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    /// stop_tx.send(()).unwrap(); // e.g. from a Ctrl-C handler
    /// server.serve(async { let _ = stop_rx.await; }, Some(Duration::from_secs(5))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
        grace: Option<Duration>,
    ) -> Result<(), Error> {
        if *self.shared.phase.borrow() == Phase::NotStarted {
            self.start()?;
        }
        shutdown.await;
        self.stop(grace).await;
        Ok(())
    }

    /// Waits asynchronously until the server terminates (after a `stop`).
    pub async fn terminated(&self) {
        StopHandle {
            terminated: self.shared.terminated.clone(),
        }
        .await
    }

    /// Blocks until the server terminates or `timeout` passes (forever with
    /// `None`). Returns true if the server terminated.
    pub fn wait_for_termination(&self, timeout: Option<Duration>) -> bool {
        self.shared.terminated.wait(timeout).is_some()
    }

    /// Blocking handlers queued waiting for a free worker.
    pub fn queued_rpcs(&self) -> usize {
        self.shared.pool.queued()
    }

    /// RPCs in progress (admitted and not yet finished).
    pub fn active_rpcs(&self) -> usize {
        self.shared.active_rpcs.load(Ordering::Acquire)
    }
}

/// A [`Server`] handle that does not keep it alive (see
/// [`Server::downgrade`]).
#[derive(Clone)]
pub struct WeakServer {
    shared: Weak<ServerShared>,
}

impl WeakServer {
    /// The server, unless it has been dropped.
    pub fn upgrade(&self) -> Option<Server> {
        self.shared.upgrade().map(|shared| Server { shared })
    }
}

impl std::fmt::Debug for WeakServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakServer")
            .field("alive", &(self.shared.strong_count() > 0))
            .finish()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("phase", &*self.shared.phase.borrow())
            .field("active_rpcs", &self.active_rpcs())
            .finish()
    }
}
