//! Where a handler runs: a blocking handler's future on the worker pool,
//! an async handler's as a task, an interceptor chain as a task around
//! either. Every placement owns the RPC's [`HandlerEnd`]: it delivers the
//! handler's status, and if the placement is dropped without one (a
//! panicking interceptor, an aborted task) the RPC ends with `INTERNAL`.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use super::context::ServicerContext;
use super::handler::{Handler, HandlerFuture, Input, MethodEntry};
use super::interceptor::Innermost;
use super::lifecycle::ServerShared;
use super::pool::WorkerPool;
use crate::status::Status;
use crate::stream::outbox::HandlerEnd;

/// How long a blocking RPC may wait for a worker before it is logged.
const QUEUE_WAIT_WARNING: Duration = Duration::from_secs(1);

/// Starts the handler: with no interceptors, a blocking handler's future
/// is polled by the worker pool and an async handler runs as a task of its
/// own (measured faster than polling it inside the RPC loop), aborted when
/// the RPC ends first. Interceptors run on a task of their own around it.
pub(crate) fn dispatch(
    server: &ServerShared,
    entry: &MethodEntry,
    input: Input,
    ctx: &ServicerContext,
) -> Option<AbortOnDrop> {
    let end = HandlerEnd::new(ctx.clone());
    let interceptors = &server.config().interceptors;
    if !interceptors.is_empty() {
        let handler = handler_run(server, entry, input);
        let chain = interceptors.clone();
        let chain_ctx = ctx.clone();
        // Not aborted with the RPC: the chain sees how the call ended.
        tokio::spawn(async move { end.finish(chain.run(chain_ctx, handler).await) });
        return None;
    }
    let placement = Placement::of(server, entry);
    start_handler(&entry.handler, input, ctx, placement, move |status| {
        end.finish(status)
    })
}

/// What a handler needs to know of where it runs.
struct Placement {
    /// Polls blocking handlers.
    pool: WorkerPool,
    /// The method, named in blocked-executor warnings.
    method: Arc<str>,
    /// An async handler's poll longer than this is reported.
    threshold: Duration,
}

impl Placement {
    fn of(server: &ServerShared, entry: &MethodEntry) -> Placement {
        Placement {
            pool: server.pool().clone(),
            method: Arc::clone(&entry.path),
            threshold: server.config().blocking_warning,
        }
    }
}

/// Starts a handler where it runs: a blocking handler's future polled by
/// the worker pool, an async handler as a task of its own (watched for
/// polls that block its thread, aborted when the returned guard drops).
/// `then` receives the status the handler ended with.
fn start_handler(
    handler: &Handler,
    input: Input,
    ctx: &ServicerContext,
    placement: Placement,
    then: impl FnOnce(Status) + Send + 'static,
) -> Option<AbortOnDrop> {
    match handler {
        Handler::Blocking(handler) => {
            let run = on_worker(handler(input, ctx.clone()), ctx.clone());
            placement
                .pool
                .spawn(Box::pin(async move { then(run.await) }));
            None
        }
        Handler::Async(handler) => {
            let watched = WatchPolls {
                future: handler(input, ctx.clone()),
                method: placement.method,
                threshold: placement.threshold,
            };
            let task = tokio::spawn(async move { then(watched.await) });
            Some(AbortOnDrop(task.abort_handle()))
        }
    }
}

/// The handler as the end of an interceptor chain: started as without
/// interceptors, its status awaited; if the RPC ends first, the status the
/// client was sent (and the handler is stopped).
fn handler_run(server: &ServerShared, entry: &MethodEntry, input: Input) -> Innermost {
    let handler = entry.handler.clone();
    let placement = Placement::of(server, entry);
    Box::new(move |ctx: ServicerContext| {
        Box::pin(async move {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let _async_handler = start_handler(&handler, input, &ctx, placement, move |status| {
                let _ = done_tx.send(status);
            });
            tokio::select! {
                done = done_rx => done.unwrap_or_else(|_| {
                    Status::internal("the handler ended without a status")
                }),
                code = ctx.ended() => Status::new(code, "the RPC ended before its handler returned"),
            }
        })
    })
}

/// A blocking handler's run as the pool polls it: skipped when the RPC
/// ended while it waited for a worker, and logged when that wait was long.
fn on_worker(handler: HandlerFuture, ctx: ServicerContext) -> HandlerFuture {
    let queued_at = Instant::now();
    Box::pin(async move {
        let waited = queued_at.elapsed();
        if waited >= QUEUE_WAIT_WARNING {
            tracing::warn!(
                method = ctx.method(),
                waited_ms = waited.as_millis() as u64,
                "RPC waited for a free worker: every worker was busy (raise max_workers or bound the load with maximum_concurrent_rpcs)"
            );
        }
        if !ctx.is_active() {
            return Status::cancelled("the RPC ended before a worker was free");
        }
        handler.await
    })
}

/// Runs an async handler, reporting every poll that held the executor
/// thread longer than `threshold` (blocking work in async code).
struct WatchPolls<F> {
    future: F,
    method: Arc<str>,
    threshold: Duration,
}

impl<F: Future + Unpin> Future for WatchPolls<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<F::Output> {
        let started = Instant::now();
        let polled = std::pin::Pin::new(&mut self.future).poll(cx);
        let took = started.elapsed();
        if took >= self.threshold {
            tracing::warn!(
                method = &*self.method,
                blocked_ms = took.as_millis() as u64,
                "async handler blocked its executor thread; move blocking work to ServicerContext::run_blocking"
            );
        }
        polled
    }
}

/// Aborts an async handler's task when the RPC is over.
pub(crate) struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
