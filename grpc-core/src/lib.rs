//! # grpc-core: the rustgrpc runtime
//!
//! gRPC over HTTP/2 on tokio + h2 + prost, with the client and server surface
//! of Python's grpcio: multi-callables with `call` / `with_call` / `future`,
//! [`Call`] and [`CallFuture`] objects, [`ServicerContext`], and a [`Server`]
//! whose blocking handlers run on a worker pool.
//!
//! ## Layout
//! - [`Status`], [`Code`], [`RpcError`]: how calls end.
//! - [`Metadata`]: ASCII and `-bin` metadata.
//! - [`Channel`], [`ChannelBuilder`], [`insecure_channel`]: the client connection.
//! - [`UnaryUnary`], [`UnaryStream`], [`StreamUnary`], [`StreamStream`]: typed
//!   methods (generated stubs hand these out), with [`CallOptions`].
//! - [`intercept_channel`], [`ClientInterceptor`], [`ServerInterceptor`]:
//!   middleware around every call, on both faces; [`RawBytes`] and
//!   [`Server::add_fallback`]: methods over raw bytes and a handler for
//!   unregistered methods (a transparent proxy).
//! - [`Server`], [`ServiceBuilder`], [`ServicerContext`]: serving; client
//!   streams arrive as [`Requests`] (an `Iterator`, blocking handlers) or a
//!   [`RequestStream`] (a `Stream`, async handlers).
//! - [`ssl_channel_credentials`], [`secure_channel`], [`ssl_server_credentials`],
//!   [`CallCredentials`]: TLS, mutual TLS and call credentials, on rustls.
//! - [`AsyncIo`]: any byte stream can carry a connection
//!   ([`Server::serve_connection`], [`ChannelBuilder::connector`]).
//!
//! ## One async core, a blocking face
//! Every socket is driven by tasks on a tokio runtime (a shared one, started
//! on first use). A blocking call waits for its result on the calling thread
//! and never drives a connection; blocking handlers run on the server's
//! worker pool (`max_workers`), never on a thread that drives a socket. So a
//! handler that computes for seconds cannot freeze a stream, the connection
//! or the server.
//!
//! ## Two faces on one core
//! Every multi-callable also has an async face: `call_async` /
//! `with_call_async` (grpcio's `grpc.aio`), awaited on the caller's tokio
//! runtime. Server-streaming and bidi calls give a [`ResponseStream`], a
//! [`Stream`] that also answers the call methods (`initial_metadata().await`,
//! `code().await`, `cancel()`, ...); request streams are any `Stream`, or
//! awaited `write()`s on a call started with `start_async` (a
//! [`StreamUnaryCall`] or [`StreamStreamCall`]). Unary-response calls give
//! a [`UnaryCall`], the future of the response that also answers the call
//! methods while in flight. Per-message [`WriteOptions`] (a request sent
//! uncompressed) work on both faces: [`Writes`] of [`WithOptions`] items.
//! Dropping a call future or a `ResponseStream` before the end cancels the
//! RPC on the wire (RST_STREAM CANCEL), and the server sees the cancellation.
//! On the server, async handlers (`ServiceBuilder::unary_unary_async` & co.,
//! or a generated `Async<Service>Servicer`) run as tasks next to blocking
//! ones on the same [`Server`], with the same [`ServicerContext`], and read
//! client streams as a [`RequestStream`];
//! [`Server::serve`] runs a server inside an existing runtime.
//!
//! One [`Channel`] serves blocking and async callers at once. A blocking
//! call made inside a tokio runtime hands its worker off
//! (`block_in_place`) on a multi-thread runtime; inside a current-thread
//! runtime that drives the channel it would deadlock, so it fails at once
//! with `FAILED_PRECONDITION` saying to use the async face.
//!
//! ## Quick start
//! ```
//! use grpc_core::{insecure_channel, Server, ServiceBuilder, Status};
//!
//! // A server with one method, registered by hand (generated code does this).
//! let server = Server::builder().max_workers(4).build();
//! let mut service = ServiceBuilder::new("demo.Echo");
//! service.unary_unary("Echo", |request: String, _ctx| Ok::<_, Status>(request));
//! server.add_service(service.build());
//! let port = server.add_insecure_port("127.0.0.1:0")?;
//! server.start()?;
//!
//! let channel = insecure_channel(&format!("127.0.0.1:{port}"))?;
//! let echo = channel.unary_unary::<String, String>("/demo.Echo/Echo");
//! assert_eq!(echo.call("hello".to_string())?, "hello");
//! server.stop(None).wait();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod channel;
pub mod channelz;
mod client;
mod codec;
pub mod diagnostics;
mod error;
mod metadata;
mod runtime;
mod security;
mod server;
mod status;
mod stream;
mod sync;
mod transport;
mod wire;

pub use channel::{
    Channel, ChannelBuilder, ChannelConnectivity, HedgingPolicy, LbPolicy, MethodConfig,
    ReadyFuture, Resolution, ResolvedAddress, Resolver, RetryPolicy, RetryThrottling,
    ServiceConfig, Subscription, channel_ready_future, insecure_channel, secure_channel,
};
pub use client::{
    AuthMetadataContext, Call, CallCredentials, CallFuture, CallOptions, ClientCallDetails,
    ClientContinuation, ClientInterceptor, ClientInterceptors, ClientProtocol, ClientResponse,
    HttpVersion, IntoRequestStream, IntoRequests, MessageStream, MethodKind, RequestMessages,
    RequestWriter, ResponseIterator, ResponsePart, ResponseStream, StreamStream, StreamStreamCall,
    StreamUnary, StreamUnaryCall, UnaryCall, UnaryStream, UnaryUnary, WithOptions, WriteOptions,
    Writes, access_token_call_credentials, composite_call_credentials, intercept_channel,
    metadata_call_credentials, metadata_call_credentials_async,
};
pub use codec::{
    BytesCodec, Codec, CodecSide, Compression, Decoder, Encoder, JsonCodec, ProstCodec, RawBytes,
};
pub use error::Error;
pub use metadata::{Metadata, MetadataValue};
pub use runtime::IO_THREADS_ENV;
pub use security::{
    ChannelCredentials, ClientAuth, ServerCertificateConfiguration, ServerCredentials,
    composite_channel_credentials, dynamic_ssl_server_credentials, insecure_server_credentials,
    local_channel_credentials, local_server_credentials, ssl_channel_credentials,
    ssl_server_certificate_configuration, ssl_server_credentials,
};
pub use server::{
    Continuation, Cors, HandlerCallDetails, Protocol, RequestStream, Requests, Server,
    ServerBuilder, ServerInterceptor, Service, ServiceBuilder, ServicerContext, StopHandle,
    WeakServer,
};
pub use status::{Code, RpcError, Status};
pub use transport::io::AsyncIo;

/// The async stream trait ([`futures_core::Stream`]): what a
/// [`ResponseStream`] and a [`RequestStream`] are, what async request streams and
/// server-streaming async handlers provide, and what generated async
/// servicers name, re-exported so that they need no extra dependency.
pub use futures_core::Stream;

/// The default receive limit (4 MiB) on both sides.
pub use channel::DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH;
