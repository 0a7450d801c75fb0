//! [`UnaryCall`]: grpc.aio's call object for a unary-response RPC, which
//! is also the future of its response.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use super::call::Call;
use crate::metadata::Metadata;
use crate::status::{Code, RpcError, Status};

/// The exchange that produces the response.
type Exchange<Resp> = Pin<Box<dyn Future<Output = Result<Resp, RpcError>> + Send>>;

enum Driver<Resp> {
    Running(Exchange<Resp>),
    Done(Result<Resp, RpcError>),
    Taken,
}

/// An in-flight unary-response RPC, as grpc.aio's `UnaryUnaryCall`:
/// awaiting it gives the response, and until then it answers the call
/// methods (`initial_metadata().await`, `code().await`,
/// `wait_for_connection().await`, `cancel()`, ...). It owns what it needs
/// (`'static`), so it can be spawned or collected. The RPC advances while
/// the call or one of its awaited methods is polled; dropping it before the
/// end cancels the RPC on the wire.
///
/// ```no_run
/// # async fn demo(say_hello: grpc_core::UnaryUnary<String, String>) -> Result<(), grpc_core::RpcError> {
/// let call = say_hello.call_async("world".to_string());
/// println!("headers: {:?}", call.initial_metadata().await);
/// let reply = call.await?;
/// // Futures that outlive the stub's temporaries:
/// let calls: Vec<_> = (0..3).map(|i| say_hello.call_async(format!("{i}"))).collect();
/// # Ok(()) }
/// ```
pub struct UnaryCall<Resp> {
    call: Call,
    driver: Mutex<Driver<Resp>>,
}

impl<Resp> UnaryCall<Resp> {
    pub(crate) fn new<F>(call: Call, exchange: F) -> UnaryCall<Resp>
    where
        F: Future<Output = Result<Resp, RpcError>> + Send + 'static,
    {
        UnaryCall {
            call,
            driver: Mutex::new(Driver::Running(Box::pin(exchange))),
        }
    }

    /// Advances the exchange, keeping its result for the call's awaiter.
    fn drive(&self, cx: &mut Context<'_>) {
        let mut driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
        if let Driver::Running(exchange) = &mut *driver
            && let Poll::Ready(result) = exchange.as_mut().poll(cx)
        {
            *driver = Driver::Done(result);
        }
    }

    /// Waits for `ready`, advancing the RPC meanwhile.
    async fn drive_until<T>(&self, mut ready: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
        std::future::poll_fn(|cx| {
            if let Poll::Ready(value) = ready(cx) {
                return Poll::Ready(value);
            }
            self.drive(cx);
            ready(cx)
        })
        .await
    }

    /// The final status, once the RPC ends.
    pub async fn status(&self) -> Status {
        let shared = self.call.shared();
        self.drive_until(|cx| shared.poll_status(cx)).await
    }

    /// The server's initial metadata, once it arrives (empty when the RPC
    /// ended without any).
    pub async fn initial_metadata(&self) -> Metadata {
        let shared = self.call.shared();
        self.drive_until(|cx| shared.poll_initial_metadata(cx))
            .await
    }

    /// The server's trailing metadata, once the RPC ends.
    pub async fn trailing_metadata(&self) -> Metadata {
        self.status().await.metadata().clone()
    }

    /// The status code, once the RPC ends.
    pub async fn code(&self) -> Code {
        self.status().await.code()
    }

    /// The status details, once the RPC ends.
    pub async fn details(&self) -> String {
        self.status().await.details().to_owned()
    }

    /// Waits until the RPC is under way on a connection (its request
    /// headers went out): `Err` when it failed before (no server reachable,
    /// deadline, cancellation), as grpc.aio's `wait_for_connection` raises.
    pub async fn wait_for_connection(&self) -> Result<(), RpcError> {
        let shared = self.call.shared();
        let opened = self.drive_until(|cx| shared.poll_opened(cx)).await;
        connection_outcome(&self.call, opened, self.status()).await
    }

    /// True while the RPC has not ended.
    pub fn is_active(&self) -> bool {
        self.call.is_active()
    }

    /// Time left before the deadline, if there is one.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.call.time_remaining()
    }

    /// Cancels the RPC; awaiting the call then gives a `CANCELLED` error.
    pub fn cancel(&self) {
        self.call.cancel();
    }

    /// Runs `callback` when the RPC ends; false if it already has.
    pub fn add_callback(&self, callback: impl FnOnce() + Send + 'static) -> bool {
        self.call.add_callback(callback)
    }

    /// The blocking [`Call`] view of the same RPC.
    pub fn call(&self) -> &Call {
        &self.call
    }
}

/// What `wait_for_connection` answers once the stream `opened` or not;
/// `status` is awaited only when it did not.
pub(crate) async fn connection_outcome(
    call: &Call,
    opened: bool,
    status: impl Future<Output = Status>,
) -> Result<(), RpcError> {
    if opened {
        return Ok(());
    }
    let status = status.await;
    if status.is_ok() {
        Ok(())
    } else {
        Err(call.shared().error(status))
    }
}

/// The call holds its exchange boxed and never pins its response.
impl<Resp> Unpin for UnaryCall<Resp> {}

impl<Resp> Future for UnaryCall<Resp> {
    type Output = Result<Resp, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let driver = self
            .get_mut()
            .driver
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let result = match std::mem::replace(driver, Driver::Taken) {
            Driver::Running(mut exchange) => match exchange.as_mut().poll(cx) {
                Poll::Ready(result) => result,
                Poll::Pending => {
                    *driver = Driver::Running(exchange);
                    return Poll::Pending;
                }
            },
            Driver::Done(result) => result,
            Driver::Taken => Err(RpcError::from(Status::failed_precondition(
                "the UnaryCall was awaited again after it completed",
            ))),
        };
        Poll::Ready(result)
    }
}

impl<Resp> Drop for UnaryCall<Resp> {
    fn drop(&mut self) {
        // The exchange stops when dropped; a task that drives the call
        // (request writers) stops on the cancellation.
        self.call.cancel();
    }
}

impl<Resp> std::fmt::Debug for UnaryCall<Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnaryCall")
            .field("call", &self.call)
            .finish()
    }
}
