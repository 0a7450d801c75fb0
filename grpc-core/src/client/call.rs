//! [`Call`]: grpcio's invocation-side `Call`/`RpcContext` object.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::metadata::Metadata;
use crate::runtime::CancelFlag;
use crate::status::{Code, RpcError, Status};
use crate::sync::Slot;

/// The state one RPC shares between its driver and its users.
pub(crate) struct CallShared {
    deadline: Option<Instant>,
    cancel: CancelFlag,
    initial: Slot<Metadata>,
    outcome: Slot<Status>,
    /// Whether a task of a current-thread runtime drives the call.
    current_thread_driver: AtomicBool,
    /// True once the request headers went out on a connection; false when
    /// the RPC ended before.
    opened: Slot<bool>,
}

impl CallShared {
    pub(crate) fn new(timeout: Option<Duration>) -> Arc<CallShared> {
        Arc::new(CallShared {
            // A timeout too large to represent is no deadline at all.
            deadline: timeout.and_then(|timeout| Instant::now().checked_add(timeout)),
            cancel: CancelFlag::default(),
            initial: Slot::new(),
            outcome: Slot::new(),
            current_thread_driver: AtomicBool::new(false),
            opened: Slot::new(),
        })
    }

    /// Records the runtime whose task drives the call.
    pub(crate) fn driven_by(&self, handle: &Handle) {
        let current_thread = handle.runtime_flavor() == RuntimeFlavor::CurrentThread;
        self.current_thread_driver
            .store(current_thread, Ordering::Release);
    }

    /// Before a blocking wait on the call: inside a current-thread runtime
    /// that drives the call, the wait could never end (the driver cannot
    /// run while this thread waits), so the call fails with
    /// `FAILED_PRECONDITION` instead, as blocking calls made there do.
    /// Returns that status when it refused.
    pub(crate) fn refuse_blocking_wait(&self) -> Option<Status> {
        if self.is_finished() || !self.current_thread_driver.load(Ordering::Acquire) {
            return None;
        }
        let current = Handle::try_current().ok()?;
        if current.runtime_flavor() != RuntimeFlavor::CurrentThread {
            return None;
        }
        let status = Status::failed_precondition(
            "a blocking wait on a gRPC call (a Call, CallFuture or ResponseIterator method) \
             was made inside the current-thread tokio runtime that drives the call, which \
             would deadlock; await it instead (call_async, ResponseStream's async methods, \
             `future.await`), or build the channel outside the runtime",
        );
        self.fail(status.clone());
        Some(status)
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub(crate) fn cancel_token(&self) -> &CancelFlag {
        &self.cancel
    }

    pub(crate) fn set_initial_metadata(&self, metadata: Metadata) {
        self.initial.complete(metadata);
    }

    /// Records the final status (the first one wins) and runs callbacks.
    pub(crate) fn finish(&self, status: Status) {
        self.opened.complete(false);
        self.initial.complete(Metadata::new());
        self.outcome.complete(status);
    }

    /// Ends the call locally with `status` and stops its driver.
    pub(crate) fn fail(&self, status: Status) {
        self.finish(status);
        self.cancel.cancel();
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.outcome.is_complete()
    }

    /// Blocks until the call ends; returns its status.
    pub(crate) fn wait_status(&self) -> Status {
        self.refuse_blocking_wait();
        self.outcome
            .wait(None)
            .unwrap_or_else(|| Status::internal("call ended without a status"))
    }

    /// Waits asynchronously for the initial metadata (empty if none came).
    pub(crate) async fn initial_metadata_async(&self) -> Metadata {
        self.initial.wait_async(Metadata::clone).await
    }

    /// Polls for the initial metadata (empty if none came).
    pub(crate) fn poll_initial_metadata(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Metadata> {
        self.initial.poll_with(cx, Metadata::clone)
    }

    /// Records that the request headers went out on a connection.
    pub(crate) fn set_opened(&self) {
        self.opened.complete(true);
    }

    /// Polls for the outcome of opening the stream: true once the request
    /// headers went out, false when the RPC ended before.
    pub(crate) fn poll_opened(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<bool> {
        self.opened.poll_with(cx, |opened| *opened)
    }

    /// Waits asynchronously for the final status.
    pub(crate) async fn status_async(&self) -> Status {
        self.outcome.wait_async(Status::clone).await
    }

    /// Polls for the final status.
    pub(crate) fn poll_status(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Status> {
        self.outcome.poll_with(cx, Status::clone)
    }

    /// The error for a failed call, with the initial metadata it received.
    pub(crate) fn error(&self, status: Status) -> RpcError {
        let initial = self.initial.peek(Metadata::clone).unwrap_or_default();
        RpcError::from(status).with_initial_metadata(initial)
    }
}

/// An RPC as seen by its caller: metadata, status and control (grpcio's
/// `Call`). Returned by `with_call`, and answered by response iterators and
/// call futures. Cheap to clone; every clone is the same RPC.
///
/// Methods that report the outcome (`code`, `details`,
/// `trailing_metadata`) block until the RPC has ended.
///
/// ```no_run
/// # fn demo(stub: &grpc_core::UnaryUnary<String, String>) -> Result<(), grpc_core::RpcError> {
/// let (reply, call) = stub.with_call("hi".to_string())?;
/// println!("{:?} {} {:?}", call.code(), call.details(), call.trailing_metadata());
/// assert!(!call.is_active());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Call {
    shared: Arc<CallShared>,
}

impl Call {
    pub(crate) fn new(shared: Arc<CallShared>) -> Call {
        Call { shared }
    }

    pub(crate) fn shared(&self) -> &Arc<CallShared> {
        &self.shared
    }

    /// The server's initial metadata; blocks until it arrives (empty when
    /// the RPC ended without any).
    pub fn initial_metadata(&self) -> Metadata {
        self.shared.refuse_blocking_wait();
        self.shared.initial.wait(None).unwrap_or_default()
    }

    /// The server's trailing metadata; blocks until the RPC ends.
    pub fn trailing_metadata(&self) -> Metadata {
        self.shared.wait_status().metadata().clone()
    }

    /// The status code; blocks until the RPC ends.
    pub fn code(&self) -> Code {
        self.shared.wait_status().code()
    }

    /// The status details; blocks until the RPC ends.
    pub fn details(&self) -> String {
        self.shared.wait_status().details().to_owned()
    }

    /// The whole final status; blocks until the RPC ends.
    pub fn status(&self) -> Status {
        self.shared.wait_status()
    }

    /// True while the RPC has not ended.
    pub fn is_active(&self) -> bool {
        !self.shared.is_finished()
    }

    /// Time left before the deadline; `None` when the call has no deadline.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.shared
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Cancels the RPC: it ends with `CANCELLED` on both sides. Idempotent;
    /// no effect once the RPC has ended.
    pub fn cancel(&self) {
        if !self.shared.is_finished() {
            self.shared.cancel.cancel();
        }
    }

    /// Runs `callback` when the RPC ends. Returns false (and never runs it)
    /// when the RPC has already ended, as grpcio does.
    pub fn add_callback(&self, callback: impl FnOnce() + Send + 'static) -> bool {
        self.shared
            .outcome
            .add_callback_if_pending(Box::new(callback))
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Call");
        debug.field("active", &self.is_active());
        if let Some(status) = self.shared.outcome.peek(Status::clone) {
            debug.field("status", &status);
        }
        debug.finish()
    }
}

/// Implements grpcio's `Call` methods on a type with a `call: Call` field.
macro_rules! delegate_call_methods {
    ($type:ident) => {
        delegate_call_methods!($type, call);
    };
    ($type:ident, $($call:ident).+) => {
        impl<T> $type<T> {
            /// The server's initial metadata; blocks until it arrives.
            pub fn initial_metadata(&self) -> $crate::Metadata {
                self.call().initial_metadata()
            }
            /// The server's trailing metadata; blocks until the RPC ends.
            pub fn trailing_metadata(&self) -> $crate::Metadata {
                self.call().trailing_metadata()
            }
            /// The status code; blocks until the RPC ends.
            pub fn code(&self) -> $crate::Code {
                self.call().code()
            }
            /// The status details; blocks until the RPC ends.
            pub fn details(&self) -> String {
                self.call().details()
            }
            /// True while the RPC has not ended.
            pub fn is_active(&self) -> bool {
                self.call().is_active()
            }
            /// Time left before the deadline, if there is one.
            pub fn time_remaining(&self) -> Option<std::time::Duration> {
                self.call().time_remaining()
            }
            /// Runs `callback` when the RPC ends; false if it already has.
            pub fn add_callback(&self, callback: impl FnOnce() + Send + 'static) -> bool {
                self.call().add_callback(callback)
            }
            /// The [`Call`](crate::Call) object of this RPC.
            pub fn call(&self) -> &$crate::Call {
                &self.$($call).+
            }
        }
    };
}
pub(crate) use delegate_call_methods;
