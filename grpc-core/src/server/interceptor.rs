//! Server interceptors (grpcio's `grpc.ServerInterceptor`): code that runs
//! around every RPC's handler, registered on the [`ServerBuilder`].
//!
//! An interceptor is async and runs on the RPC's own task, never on the
//! worker pool: it can reject a call (`UNAUTHENTICATED`) before any worker
//! is touched, await a token check without blocking a thread, hand the
//! handler a request-scoped value through the [`ServicerContext`], and see
//! the final status, trailing metadata and duration once the handler ends.
//! One interceptor serves blocking and async servicers alike. The first
//! interceptor registered is the outermost.
//!
//! [`ServerBuilder`]: crate::ServerBuilder

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::context::ServicerContext;
use crate::metadata::Metadata;
use crate::status::Status;

/// What an interceptor knows of a call before its handler runs (grpcio's
/// `HandlerCallDetails`): the method, the invocation metadata, the peer
/// and its credentials, and the context the handler will get.
#[derive(Clone)]
pub struct HandlerCallDetails {
    ctx: ServicerContext,
}

impl HandlerCallDetails {
    pub(crate) fn new(ctx: ServicerContext) -> HandlerCallDetails {
        HandlerCallDetails { ctx }
    }

    /// The full method name, `/package.Service/Method`.
    pub fn method(&self) -> &str {
        self.ctx.method()
    }

    /// The metadata the client sent.
    pub fn invocation_metadata(&self) -> &Metadata {
        self.ctx.invocation_metadata()
    }

    /// The client's address (`ipv4:127.0.0.1:5000`, `unix:/path`, ...).
    pub fn peer(&self) -> &str {
        self.ctx.peer()
    }

    /// The transport's authentication properties (see
    /// [`ServicerContext::auth_context`]).
    pub fn auth_context(&self) -> HashMap<String, Vec<Bytes>> {
        self.ctx.auth_context()
    }

    /// The context the handler will get: an interceptor can set trailing
    /// metadata, check the deadline, or leave a value for the handler with
    /// [`ServicerContext::insert_extension`].
    pub fn context(&self) -> &ServicerContext {
        &self.ctx
    }
}

impl fmt::Debug for HandlerCallDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerCallDetails")
            .field("method", &self.method())
            .field("peer", &self.peer())
            .finish()
    }
}

/// Code that runs around every RPC (grpcio's `ServerInterceptor`).
///
/// `intercept_service` calls `continuation` to run the rest of the chain
/// and the handler, and returns the status the call ends with: the one the
/// continuation returned (possibly changed), or its own to reject the call
/// without running the handler.
///
/// ```
/// use grpc_core::{Continuation, HandlerCallDetails, ServerInterceptor, Status};
///
/// /// Requires `authorization: Bearer <token>`; tells the handler who called.
/// struct Auth;
///
/// #[derive(Clone)]
/// struct User(String);
///
/// impl ServerInterceptor for Auth {
///     async fn intercept_service(
///         &self,
///         continuation: Continuation,
///         details: &HandlerCallDetails,
///     ) -> Status {
///         let token = details.invocation_metadata().get("authorization");
///         match token.and_then(|value| value.strip_prefix("Bearer ")) {
///             Some("secret") => {
///                 details.context().insert_extension(User("alice".into()));
///                 continuation.call(details).await
///             }
///             _ => Status::unauthenticated("a valid bearer token is required"),
///         }
///     }
/// }
///
/// let server = grpc_core::Server::builder().interceptor(Auth).build();
/// # drop(server);
/// ```
pub trait ServerInterceptor: Send + Sync + 'static {
    /// Runs around one call; see the trait's documentation.
    fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> impl Future<Output = Status> + Send;
}

type BoxedStatus<'a> = Pin<Box<dyn Future<Output = Status> + Send + 'a>>;

/// [`ServerInterceptor`] in a shape that can be stored behind `dyn`.
trait ErasedInterceptor: Send + Sync + 'static {
    fn intercept<'a>(
        &'a self,
        continuation: Continuation,
        details: &'a HandlerCallDetails,
    ) -> BoxedStatus<'a>;
}

impl<T: ServerInterceptor> ErasedInterceptor for T {
    fn intercept<'a>(
        &'a self,
        continuation: Continuation,
        details: &'a HandlerCallDetails,
    ) -> BoxedStatus<'a> {
        Box::pin(self.intercept_service(continuation, details))
    }
}

/// The server's interceptors, outermost first.
#[derive(Clone, Default)]
pub(crate) struct Interceptors(Arc<[Arc<dyn ErasedInterceptor>]>);

impl Interceptors {
    /// These interceptors with `interceptor` added innermost.
    pub(crate) fn with(&self, interceptor: impl ServerInterceptor) -> Interceptors {
        let mut all: Vec<Arc<dyn ErasedInterceptor>> = self.0.iter().cloned().collect();
        all.push(Arc::new(interceptor));
        Interceptors(all.into())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs the chain around `handler` (which runs the handler and returns
    /// its status).
    pub(crate) async fn run(&self, ctx: ServicerContext, handler: Innermost) -> Status {
        let details = HandlerCallDetails::new(ctx);
        let continuation = Continuation {
            chain: self.clone(),
            next: 0,
            handler,
        };
        continuation.call(&details).await
    }
}

impl fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} interceptor(s)", self.0.len())
    }
}

/// Runs the handler itself, at the end of the chain.
pub(crate) type Innermost = Box<dyn FnOnce(ServicerContext) -> BoxedStatus<'static> + Send>;

/// The rest of the chain: the next interceptors, then the handler
/// (grpcio's `continuation`). Calling it runs them and returns the status
/// the call ended with; not calling it means the handler never runs.
pub struct Continuation {
    chain: Interceptors,
    next: usize,
    handler: Innermost,
}

impl Continuation {
    /// Runs the rest of the chain and the handler; returns the status the
    /// call ends with (`DEADLINE_EXCEEDED` or `CANCELLED` when it ended
    /// before the handler returned).
    pub async fn call(self, details: &HandlerCallDetails) -> Status {
        let Continuation {
            chain,
            next,
            handler,
        } = self;
        match chain.0.get(next).cloned() {
            Some(interceptor) => {
                let rest = Continuation {
                    chain,
                    next: next + 1,
                    handler,
                };
                interceptor.intercept(rest, details).await
            }
            None => handler(details.ctx.clone()).await,
        }
    }
}

impl fmt::Debug for Continuation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuation")
            .field("remaining", &(self.chain.0.len() - self.next))
            .finish()
    }
}
