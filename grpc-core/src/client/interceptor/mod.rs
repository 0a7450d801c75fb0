//! Client interceptors (grpcio's `grpc.intercept_channel` and its four
//! `*ClientInterceptor` classes): code that runs around every call made on
//! a channel, on both faces.
//!
//! One trait, [`ClientInterceptor`], covers the four kinds of method: an
//! interceptor sees the [`ClientCallDetails`] (and their
//! [`kind`](ClientCallDetails::kind)), the requests as serialized messages
//! ([`RequestMessages`]) and gets the response the same way
//! ([`ClientResponse`]), so one interceptor serves every method of every
//! service. It is async and runs on the call's driver, so it may await (a
//! token fetch) without blocking a thread; blocking calls (`call`,
//! `with_call`, `future`) and async ones (`call_async`, response streams)
//! go through the same chain.
//!
//! An interceptor may change the details, answer without calling the
//! continuation (a cache, a fake), call it several times (a retry), and
//! wrap the request and response streams. The first interceptor of
//! [`intercept_channel`] is the outermost, as in grpcio.

mod details;
mod messages;
mod wire;

pub use details::{ClientCallDetails, MethodKind};
pub use messages::{ClientResponse, MessageStream, RequestMessages, ResponsePart};

pub(crate) use wire::run;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::channel::Channel;

/// Code that runs around every call on an intercepted channel (grpcio's
/// `UnaryUnaryClientInterceptor`, `UnaryStreamClientInterceptor`,
/// `StreamUnaryClientInterceptor` and `StreamStreamClientInterceptor` in
/// one trait).
///
/// `intercept` calls `continuation` with the (possibly changed) details
/// and requests to run the rest of the chain and the call itself, and
/// returns the response the caller gets.
///
/// ```
/// use grpc_core::{ClientCallDetails, ClientContinuation, ClientInterceptor, ClientResponse, RequestMessages};
///
/// /// Adds a header to every call (grpcio's header manipulator).
/// struct AddHeader(&'static str, &'static str);
///
/// impl ClientInterceptor for AddHeader {
///     async fn intercept(
///         &self,
///         mut details: ClientCallDetails,
///         requests: RequestMessages,
///         continuation: ClientContinuation,
///     ) -> ClientResponse {
///         if let Err(error) = details.metadata.insert(self.0, self.1) {
///             return ClientResponse::error(grpc_core::Status::internal(error.to_string()));
///         }
///         continuation.call(details, requests).await
///     }
/// }
///
/// let channel = grpc_core::insecure_channel("localhost:50051")?;
/// let channel = grpc_core::intercept_channel(channel, AddHeader("x-team", "blue"));
/// # Ok::<(), grpc_core::Error>(())
/// ```
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Runs around one call; see the trait's documentation.
    fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> impl Future<Output = ClientResponse> + Send;
}

type BoxedResponse<'a> = Pin<Box<dyn Future<Output = ClientResponse> + Send + 'a>>;

/// [`ClientInterceptor`] in a shape that can be stored behind `dyn`.
trait ErasedInterceptor: Send + Sync + 'static {
    fn intercept_erased(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> BoxedResponse<'_>;
}

impl<T: ClientInterceptor> ErasedInterceptor for T {
    fn intercept_erased(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> BoxedResponse<'_> {
        Box::pin(self.intercept(details, requests, continuation))
    }
}

/// An ordered list of client interceptors, outermost first.
///
/// ```
/// # use grpc_core::{ClientCallDetails, ClientContinuation, ClientInterceptor, ClientResponse, RequestMessages};
/// # struct Log; struct Auth;
/// # impl ClientInterceptor for Log { async fn intercept(&self, d: ClientCallDetails, r: RequestMessages, c: ClientContinuation) -> ClientResponse { c.call(d, r).await } }
/// # impl ClientInterceptor for Auth { async fn intercept(&self, d: ClientCallDetails, r: RequestMessages, c: ClientContinuation) -> ClientResponse { c.call(d, r).await } }
/// let channel = grpc_core::insecure_channel("localhost:50051")?;
/// // Log sees every call first, then Auth.
/// let interceptors = grpc_core::ClientInterceptors::new().with(Log).with(Auth);
/// let channel = grpc_core::intercept_channel(channel, interceptors);
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientInterceptors(Arc<[Arc<dyn ErasedInterceptor>]>);

impl ClientInterceptors {
    /// No interceptors.
    pub fn new() -> ClientInterceptors {
        ClientInterceptors::default()
    }

    /// These interceptors with `interceptor` added innermost.
    pub fn with(self, interceptor: impl ClientInterceptor) -> ClientInterceptors {
        let mut all: Vec<Arc<dyn ErasedInterceptor>> = self.0.iter().cloned().collect();
        all.push(Arc::new(interceptor));
        ClientInterceptors(all.into())
    }

    /// `self` around `inner`: `self`'s interceptors run first.
    fn around(&self, inner: &ClientInterceptors) -> ClientInterceptors {
        ClientInterceptors(self.0.iter().chain(inner.0.iter()).cloned().collect())
    }

    /// How many interceptors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: ClientInterceptor> From<T> for ClientInterceptors {
    fn from(interceptor: T) -> ClientInterceptors {
        ClientInterceptors::new().with(interceptor)
    }
}

impl fmt::Debug for ClientInterceptors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} client interceptor(s)", self.0.len())
    }
}

/// A channel whose calls all go through `interceptors` (grpcio's
/// `grpc.intercept_channel`): generated stubs and multi-callables made on it
/// work unchanged, on both faces. The first interceptor is the outermost;
/// intercepting an intercepted channel puts the new interceptors outside
/// the old ones. The returned channel shares `channel`'s connection.
pub fn intercept_channel(channel: Channel, interceptors: impl Into<ClientInterceptors>) -> Channel {
    let interceptors = interceptors.into();
    let chain = match &channel.interceptors {
        Some(inner) => interceptors.around(inner),
        None => interceptors,
    };
    let mut intercepted = channel;
    intercepted.interceptors = (!chain.is_empty()).then_some(chain);
    intercepted
}

/// The rest of the chain: the next interceptors, then the call on the wire
/// (grpcio's `continuation`). Cheap to clone; each
/// [`call`](Self::call) starts the rest of the call anew (a retry).
#[derive(Clone)]
pub struct ClientContinuation {
    chain: ClientInterceptors,
    next: usize,
    wire: Arc<wire::Wire>,
}

impl ClientContinuation {
    /// Runs the rest of the chain and the call with these details and
    /// requests. Returns as soon as the call is under way; read the
    /// response (or [`collect`](ClientResponse::collect) it) for the
    /// messages and the status.
    pub async fn call(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
    ) -> ClientResponse {
        match self.chain.0.get(self.next) {
            Some(interceptor) => {
                let rest = ClientContinuation {
                    chain: self.chain.clone(),
                    next: self.next + 1,
                    wire: Arc::clone(&self.wire),
                };
                interceptor.intercept_erased(details, requests, rest).await
            }
            None => self.wire.call(details, requests),
        }
    }
}

impl fmt::Debug for ClientContinuation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientContinuation")
            .field("remaining", &(self.chain.len() - self.next))
            .finish()
    }
}
