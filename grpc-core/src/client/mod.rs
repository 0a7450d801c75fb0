//! The client: call options, the Call and CallFuture objects, and the four
//! kinds of multi-callable, all over one async exchange ([`rpc`]).

mod aio;
pub(crate) mod call;
mod credentials;
mod future;
mod interceptor;
mod multicallable;
mod options;
pub(crate) mod protocol;
mod requests;
mod response_stream;
mod responses;
pub(crate) mod retry;
pub(crate) mod rpc;
mod unary_call;
mod write;
mod writer;

pub use call::Call;
pub(crate) use credentials::compose;
pub use credentials::{
    AuthMetadataContext, CallCredentials, access_token_call_credentials,
    composite_call_credentials, metadata_call_credentials, metadata_call_credentials_async,
};
pub use future::CallFuture;
pub use interceptor::{
    ClientCallDetails, ClientContinuation, ClientInterceptor, ClientInterceptors, ClientResponse,
    MessageStream, MethodKind, RequestMessages, ResponsePart, intercept_channel,
};
pub use multicallable::{StreamStream, StreamUnary, UnaryStream, UnaryUnary};
pub use options::CallOptions;
pub use protocol::{ClientProtocol, HttpVersion};
pub use response_stream::ResponseStream;
pub use responses::ResponseIterator;
pub use unary_call::UnaryCall;
pub use write::{IntoRequestStream, IntoRequests, WithOptions, WriteOptions, Writes};
pub use writer::{RequestWriter, StreamStreamCall, StreamUnaryCall};
