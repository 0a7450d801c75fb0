//! The server: [`Server`] and its builder, the method registry
//! ([`ServiceBuilder`]), [`ServicerContext`], the worker pool that runs
//! blocking handlers, and the per-connection and per-RPC tasks.

mod builder;
mod bursts;
mod connection;
mod context;
mod dispatch;
mod handler;
mod interceptor;
mod lifecycle;
mod lifetime;
mod pool;
pub(crate) mod protocol;
mod registry;
mod request_stream;
mod requests;
mod rpc;

pub use builder::ServerBuilder;
pub use context::ServicerContext;
pub use interceptor::{Continuation, HandlerCallDetails, ServerInterceptor};
pub use lifecycle::{Server, StopHandle, WeakServer};
pub use protocol::{Cors, Protocol};
pub use registry::{Service, ServiceBuilder};
pub use request_stream::RequestStream;
pub use requests::Requests;
