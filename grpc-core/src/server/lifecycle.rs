//! [`Server`]: ports, start, graceful stop, and waiting for termination.
//!
//! ```text
//!   NotStarted ──start()──▶ Serving ──stop(grace)──▶ Draining ──grace over──▶ Cancelling
//!                                                       │ all RPCs done            │ all done
//!                                                       └──────────▶ Terminated ◀──┘
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;

use super::builder::ServerConfig;
use super::connection::{Listener, accept_loop};
use super::handler::MethodEntry;
use super::pool::WorkerPool;
use super::registry::{Registry, Service};
use crate::error::{Error, Kind};
use crate::sync::Completion;

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
    listeners: Mutex<Vec<Listener>>,
    bound: Mutex<Vec<SocketAddr>>,
    phase: watch::Sender<Phase>,
    pool: WorkerPool,
    active_rpcs: AtomicUsize,
    live_tasks: AtomicUsize,
    idle: tokio::sync::Notify,
    terminated: Completion<()>,
    /// Message descriptors for Connect's JSON codec and GET requests.
    descriptors: super::protocol::Descriptors,
}

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

    pub(crate) fn pool(&self) -> &WorkerPool {
        &self.pool
    }

    pub(crate) fn lookup(&self, path: &str) -> Option<Arc<MethodEntry>> {
        self.registry
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .lookup(path)
            .cloned()
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
                descriptors: super::protocol::Descriptors::default(),
            }),
        }
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<Listener>> {
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

    /// Makes the messages of an encoded `google.protobuf.FileDescriptorSet`
    /// known to the server (imports included), so the methods it describes
    /// also accept Connect's JSON codec (`application/json`,
    /// `application/connect+json`), with the proto3 JSON mapping, and GET
    /// requests for methods marked `idempotency_level = NO_SIDE_EFFECTS`.
    /// Fails when the bytes are not a valid, self-contained set.
    pub fn add_file_descriptor_set(&self, encoded: &[u8]) -> Result<(), Error> {
        self.shared.descriptors.add(encoded)
    }

    /// Binds `address` (`[::]:50051`, `127.0.0.1:0`, `localhost:0`,
    /// `unix:/path`) and returns the bound port (0 for Unix sockets). Port 0
    /// picks a free port. Must be called before [`start`](Self::start).
    pub fn add_insecure_port(&self, address: &str) -> Result<u16, Error> {
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
        self.listeners().push(listener);
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

    /// Starts serving on every added port. Fails when started twice or
    /// without ports.
    pub fn start(&self) -> Result<(), Error> {
        let listeners = {
            let mut listeners = self.listeners();
            if *self.shared.phase.borrow() != Phase::NotStarted {
                return Err(Error::new(Kind::BadState, "the server was already started"));
            }
            if listeners.is_empty() {
                return Err(Error::new(
                    Kind::BadState,
                    "the server has no ports; call add_insecure_port first",
                ));
            }
            std::mem::take(&mut *listeners)
        };
        let _enter = self.shared.handle.enter();
        let mut tokio_listeners = Vec::new();
        for listener in listeners {
            tokio_listeners.push(listener.into_tokio()?);
        }
        self.shared.phase.send_replace(Phase::Serving);
        for listener in tokio_listeners {
            let guard = self.shared.task_guard();
            let server = Arc::clone(&self.shared);
            self.shared
                .handle
                .spawn(accept_loop(listener, server, guard));
        }
        Ok(())
    }

    /// Stops the server (grpcio's `stop(grace)`): new connections and RPCs
    /// are refused at once (GOAWAY, then `UNAVAILABLE`); in-flight RPCs get
    /// `grace` to finish and are cancelled after it; `None` cancels them
    /// now. Returns a handle to wait on. Idempotent.
    pub fn stop(&self, grace: Option<Duration>) -> StopHandle {
        let handle = StopHandle {
            terminated: self.shared.terminated.clone(),
        };
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

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("phase", &*self.shared.phase.borrow())
            .field("active_rpcs", &self.active_rpcs())
            .finish()
    }
}
