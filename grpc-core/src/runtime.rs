//! The shared tokio runtime that drives every socket for blocking users, and
//! the small synchronisation pieces the blocking face stands on.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio::runtime::{Handle, Runtime};
use tokio::sync::Notify;

use crate::error::{Error, Kind};

/// Environment variable that sets the number of I/O threads of the shared runtime.
pub const IO_THREADS_ENV: &str = "RUSTGRPC_IO_THREADS";

static SHARED: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process-wide I/O runtime (built on first use), used by channels and
/// servers that are not handed a runtime of their own.
pub(crate) fn shared_handle() -> Result<Handle, Error> {
    let runtime = SHARED.get_or_init(|| {
        let threads = std::env::var(IO_THREADS_ENV)
            .ok()
            .and_then(|value| value.parse::<usize>().ok())
            .filter(|threads| *threads > 0)
            // One per CPU this process may use (its affinity mask and
            // cgroup quota), as tokio's own default: a second I/O thread on
            // one CPU only adds context switches.
            .unwrap_or_else(|| thread::available_parallelism().map_or(2, |n| n.get()));
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("grpc-io")
            .enable_all()
            .build()
            .map_err(|error| error.to_string())
    });
    match runtime {
        Ok(runtime) => Ok(runtime.handle().clone()),
        Err(message) => Err(Error::new(
            Kind::Runtime,
            format!("failed to start the gRPC I/O runtime: {message}"),
        )),
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
}

/// Runs `future` to completion on the calling thread, parking between polls.
/// Sockets and timers stay with the runtime behind `handle`; this thread only
/// waits, so a blocking caller never drives a connection.
///
/// Called from inside a tokio runtime, the wait is made safe or refused:
/// on a multi-thread runtime the worker hands its other tasks off first
/// (`block_in_place`); on a current-thread runtime that may be the one
/// driving the channel, waiting could never end, so it fails instead.
pub(crate) fn block_on<F: Future>(handle: &Handle, future: F) -> Result<F::Output, crate::Status> {
    use tokio::runtime::RuntimeFlavor;
    let Ok(current) = Handle::try_current() else {
        return Ok(enter_and_wait(handle, future));
    };
    match current.runtime_flavor() {
        RuntimeFlavor::CurrentThread if handle.runtime_flavor() == RuntimeFlavor::CurrentThread => {
            Err(crate::Status::failed_precondition(
                "a blocking gRPC call was made inside a current-thread tokio runtime that \
                 drives its channel, which would deadlock; use the async face (call_async), \
                 or build the channel outside the runtime or with ChannelBuilder::runtime \
                 on a multi-thread runtime",
            ))
        }
        RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(|| {
            enter_and_wait(handle, future)
        })),
        _ => Ok(enter_and_wait(handle, future)),
    }
}

fn enter_and_wait<F: Future>(handle: &Handle, future: F) -> F::Output {
    let _enter = handle.enter();
    wait(future)
}

/// The runtime new async work should run on: the caller's when there is
/// one, else `fallback`.
pub(crate) fn current_or(fallback: &Handle) -> Handle {
    Handle::try_current().unwrap_or_else(|_| fallback.clone())
}

/// Runs `future` to completion on the calling thread without entering a
/// runtime (for futures that need no timer or socket, such as channel reads).
pub(crate) fn wait<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    THREAD_WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            thread::park();
        }
    })
}

/// A one-way switch that async code can wait on; cheap to check. Shared
/// through an `Arc` as a [`CancelToken`], or embedded in a larger shared
/// struct.
#[derive(Default)]
pub(crate) struct CancelFlag {
    cancelled: AtomicBool,
    notify: Notify,
}

impl CancelFlag {
    /// Flips the switch; true if this call flipped it.
    pub(crate) fn cancel(&self) -> bool {
        let first = !self.cancelled.swap(true, Ordering::AcqRel);
        if first {
            self.notify.notify_waiters();
        }
        first
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Completes once the switch is flipped.
    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// A shared [`CancelFlag`].
#[derive(Clone, Default)]
pub(crate) struct CancelToken {
    inner: Arc<CancelFlag>,
}

impl CancelToken {
    pub(crate) fn new() -> CancelToken {
        CancelToken::default()
    }
}

impl std::ops::Deref for CancelToken {
    type Target = CancelFlag;

    fn deref(&self) -> &CancelFlag {
        &self.inner
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Waits until `deadline` when there is one, forever otherwise. Deadlines
/// are on tokio's clock, so a paused test clock (`tokio::time::pause`)
/// governs them.
pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn block_on_waits_for_runtime_timers() {
        let handle = shared_handle().unwrap();
        let start = Instant::now();
        let value = block_on(&handle, async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            7
        })
        .unwrap();
        assert_eq!(value, 7);
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn blocking_inside_a_current_thread_runtime_that_drives_the_channel_is_refused() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime.handle().clone();
        let status = runtime
            .block_on(async { block_on(&handle, async { 1 }) })
            .unwrap_err();
        assert_eq!(status.code(), crate::Code::FailedPrecondition);
        assert!(status.details().contains("call_async"));
        // From a multi-thread runtime the same wait works.
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = shared_handle().unwrap();
        let value = multi.block_on(async {
            tokio::spawn(async move { block_on(&shared, async { 2 }) })
                .await
                .unwrap()
        });
        assert_eq!(value.unwrap(), 2);
    }

    #[test]
    fn cancel_token_wakes_waiters() {
        let handle = shared_handle().unwrap();
        let token = CancelToken::new();
        let waiter = {
            let token = token.clone();
            handle.spawn(async move { token.cancelled().await })
        };
        assert!(token.cancel());
        assert!(!token.cancel());
        block_on(&handle, waiter).unwrap().unwrap();
    }
}
