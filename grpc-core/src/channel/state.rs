//! Connectivity state: what the channel's connection is doing, watchers of
//! it, and the "ready" future.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Channel;
use crate::status::{RpcError, Status};
use crate::sync::Completion;
use crate::transport::client_watch::WireSeen;

/// The connection state machine, one value at a time:
///
/// ```text
///            first call / try_to_connect
///   Idle ─────────────────────────────────▶ Connecting
///    ▲                                       │      │
///    │ connection ended        handshake ok  │      │ connect failed
///    │                                       ▼      ▼
///    └─────────────────────────────────── Ready   TransientFailure
///                                                   │ backoff elapsed
///                                                   └──────▶ Connecting
///   close() from any state ─▶ Shutdown
/// ```
///
/// (One per subchannel; the channel's state aggregates them.)
pub(crate) enum ConnState {
    Idle,
    Connecting,
    Ready {
        sender: h2::client::SendRequest<Bytes>,
        generation: u64,
        wire: WireSeen,
    },
    TransientFailure {
        error: Status,
        retry_at: Instant,
    },
    Shutdown,
}

/// grpcio's `ChannelConnectivity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelConnectivity {
    /// No connection and no attempt in progress.
    Idle,
    /// A connection attempt is in progress.
    Connecting,
    /// Connected; calls go out at once.
    Ready,
    /// The last attempt failed; the next waits for a backoff.
    TransientFailure,
    /// The channel was closed.
    Shutdown,
}

impl ConnState {
    pub(crate) fn connectivity(&self) -> ChannelConnectivity {
        match self {
            ConnState::Idle => ChannelConnectivity::Idle,
            ConnState::Connecting => ChannelConnectivity::Connecting,
            ConnState::Ready { .. } => ChannelConnectivity::Ready,
            ConnState::TransientFailure { .. } => ChannelConnectivity::TransientFailure,
            ConnState::Shutdown => ChannelConnectivity::Shutdown,
        }
    }
}

/// A subscription made by [`Channel::subscribe`]; dropping it keeps the
/// callback registered, [`Subscription::unsubscribe`] removes it.
#[derive(Debug)]
pub struct Subscription {
    task: tokio::task::JoinHandle<()>,
}

impl Subscription {
    /// Stops calling the callback.
    pub fn unsubscribe(self) {
        self.task.abort();
    }
}

impl Channel {
    /// The current connectivity state; with `try_to_connect`, an idle channel
    /// starts connecting (grpcio's `_channel_connectivity_state`).
    ///
    /// ```
    /// use grpc_core::ChannelConnectivity;
    /// let channel = grpc_core::insecure_channel("localhost:1")?;
    /// assert_eq!(channel.connectivity(), ChannelConnectivity::Idle);
    /// # Ok::<(), grpc_core::Error>(())
    /// ```
    pub fn connectivity(&self) -> ChannelConnectivity {
        *self.inner().state.borrow()
    }

    /// Like [`connectivity`](Channel::connectivity), but starts a connection
    /// attempt when the channel is idle.
    pub fn connectivity_and_connect(&self) -> ChannelConnectivity {
        self.start_connect();
        self.connectivity()
    }

    /// Calls `callback` with the current state and then every change
    /// (grpcio's `channel.subscribe`). With `try_to_connect`, an idle channel
    /// starts connecting. The callback runs on an I/O thread: keep it short.
    ///
    /// ```no_run
    /// let channel = grpc_core::insecure_channel("localhost:50051")?;
    /// let subscription = channel.subscribe(|state| println!("{state:?}"), true);
    /// // ...
    /// subscription.unsubscribe();
    /// # Ok::<(), grpc_core::Error>(())
    /// ```
    pub fn subscribe(
        &self,
        callback: impl Fn(ChannelConnectivity) + Send + 'static,
        try_to_connect: bool,
    ) -> Subscription {
        let mut rx = self.inner().state.subscribe();
        // The state at the time of the call comes first, even if it has
        // changed by the time the task runs.
        let initial = *rx.borrow_and_update();
        if try_to_connect {
            self.start_connect();
        }
        let task = self.handle().spawn(async move {
            callback(initial);
            let mut last = Some(initial);
            loop {
                if last == Some(ChannelConnectivity::Shutdown) || rx.changed().await.is_err() {
                    return;
                }
                let now = *rx.borrow_and_update();
                if last != Some(now) {
                    callback(now);
                    last = Some(now);
                }
            }
        });
        Subscription { task }
    }

    /// Waits until the channel is ready (connecting if needed), up to `timeout`.
    pub(crate) async fn wait_ready(&self) -> Result<(), Status> {
        self.ready_sender(true).await.map(drop)
    }
}

/// The future returned by [`channel_ready_future`].
#[derive(Clone)]
pub struct ReadyFuture {
    completion: Completion<Result<(), RpcError>>,
}

impl ReadyFuture {
    /// Waits up to `timeout` (forever with `None`) for the channel to be
    /// ready; a timeout is an error with `is_future_timeout()`.
    pub fn result(&self, timeout: Option<Duration>) -> Result<(), RpcError> {
        self.completion
            .wait(timeout)
            .unwrap_or_else(|| Err(RpcError::future_timeout()))
    }

    /// True once the channel is ready (or closed).
    pub fn done(&self) -> bool {
        self.completion.is_complete()
    }
}

/// Awaiting a `ReadyFuture` waits until the channel is ready (grpc.aio's
/// `await channel.channel_ready()`); bound it with `tokio::time::timeout`.
impl std::future::Future for ReadyFuture {
    type Output = Result<(), RpcError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.completion.poll_with(cx, Clone::clone)
    }
}

impl std::fmt::Debug for ReadyFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyFuture")
            .field("done", &self.done())
            .finish()
    }
}

/// A future that completes when `channel` is connected (grpcio's
/// `grpc.channel_ready_future`). Wait on it with `result(timeout)`, or
/// `.await` it.
///
/// ```no_run
/// use std::time::Duration;
/// let channel = grpc_core::insecure_channel("localhost:50051")?;
/// match grpc_core::channel_ready_future(&channel).result(Some(Duration::from_secs(5))) {
///     Ok(()) => println!("connected"),
///     Err(e) if e.is_future_timeout() => println!("not ready after 5s"),
///     Err(e) => println!("channel closed: {e}"),
/// }
/// # Ok::<(), grpc_core::Error>(())
/// ```
pub fn channel_ready_future(channel: &Channel) -> ReadyFuture {
    let completion = Completion::new();
    let done = completion.clone();
    let channel = channel.clone();
    let handle = channel.handle().clone();
    handle.spawn(async move {
        let result = channel.wait_ready().await.map_err(RpcError::from);
        done.complete(result);
    });
    ReadyFuture { completion }
}
