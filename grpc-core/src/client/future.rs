//! [`CallFuture`]: grpcio's call future (`result`, `exception`, `done`,
//! `cancel`, `add_done_callback`) for unary-response RPCs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::call::{Call, delegate_call_methods};
use crate::status::RpcError;
use crate::sync::Completion;

/// A unary-response RPC running in the background; also a [`Call`].
///
/// ```no_run
/// # fn demo(stub: &grpc_core::UnaryUnary<String, String>) {
/// use std::time::Duration;
/// let future = stub.future("hi".to_string());
/// match future.result(Some(Duration::from_secs(10))) {
///     Ok(reply) => println!("{reply}"),
///     Err(e) if e.is_future_timeout() => println!("Future timed out"),
///     Err(e) => println!("RPC failed: {:?} - {}", e.code(), e.details()),
/// }
/// # }
/// ```
pub struct CallFuture<T> {
    call: Call,
    result: Completion<Result<T, RpcError>>,
    cancelled: Arc<AtomicBool>,
}

impl<T> Clone for CallFuture<T> {
    fn clone(&self) -> Self {
        CallFuture {
            call: self.call.clone(),
            result: self.result.clone(),
            cancelled: Arc::clone(&self.cancelled),
        }
    }
}

delegate_call_methods!(CallFuture);

impl<T> CallFuture<T> {
    pub(crate) fn new(call: Call) -> CallFuture<T> {
        CallFuture {
            call,
            result: Completion::new(),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Publishes the outcome (the driver calls this once).
    pub(crate) fn complete(&self, result: Result<T, RpcError>) {
        let result = match result {
            Err(error) if self.cancelled.load(Ordering::Acquire) && error.is_cancelled() => {
                Err(RpcError::future_cancelled())
            }
            other => other,
        };
        self.result.complete(result);
    }

    /// Inside the current-thread runtime that drives the RPC a blocking
    /// wait could never end: the future completes with `FAILED_PRECONDITION`
    /// at once instead (see `CallShared::refuse_blocking_wait`).
    fn refuse_blocking_wait(&self) {
        if let Some(status) = self.call.shared().refuse_blocking_wait() {
            self.complete(Err(self.call.shared().error(status)));
        }
    }

    /// True once the RPC has ended (successfully, failed or cancelled).
    pub fn done(&self) -> bool {
        self.result.is_complete()
    }

    /// True while the RPC is in progress.
    pub fn running(&self) -> bool {
        !self.done()
    }

    /// True when [`cancel`](Self::cancel) stopped the RPC.
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
            && self
                .result
                .peek(|result| matches!(result, Err(error) if error.is_future_cancelled()))
                .unwrap_or(true)
    }

    /// Cancels the RPC; returns false when it has already ended.
    pub fn cancel(&self) -> bool {
        if self.done() {
            return false;
        }
        self.cancelled.store(true, Ordering::Release);
        self.call.cancel();
        true
    }

    /// The error the RPC ended with, `None` when it succeeded. Waits up to
    /// `timeout` (forever with `None`); a timeout yields an error with
    /// `is_future_timeout()`.
    pub fn exception(&self, timeout: Option<Duration>) -> Option<RpcError> {
        self.refuse_blocking_wait();
        match self
            .result
            .wait_with(timeout, |result| result.as_ref().err().cloned())
        {
            Some(error) => error,
            None => Some(RpcError::future_timeout()),
        }
    }

    /// Runs `callback` with this future once it is done (at once if it is).
    pub fn add_done_callback(&self, callback: impl FnOnce(&CallFuture<T>) + Send + 'static)
    where
        T: Send + 'static,
    {
        let future = self.clone();
        self.result.on_complete(Box::new(move || callback(&future)));
    }
}

impl<T: Clone> CallFuture<T> {
    /// The response, waiting up to `timeout` (forever with `None`). A timeout
    /// is an error with `is_future_timeout()`, a cancelled future one with
    /// `is_future_cancelled()`; otherwise the error is the RPC's.
    pub fn result(&self, timeout: Option<Duration>) -> Result<T, RpcError> {
        self.refuse_blocking_wait();
        self.result
            .wait(timeout)
            .unwrap_or_else(|| Err(RpcError::future_timeout()))
    }
}

/// Awaiting a `CallFuture` yields its result (grpc.aio style:
/// `stub.say_hello().future(req).await`).
impl<T: Clone> std::future::Future for CallFuture<T> {
    type Output = Result<T, RpcError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.result.poll_with(cx, Clone::clone)
    }
}

impl<T> std::fmt::Debug for CallFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture")
            .field("done", &self.done())
            .field("cancelled", &self.cancelled.load(Ordering::Relaxed))
            .finish()
    }
}
