//! The four multi-callables (grpcio's `UnaryUnaryMultiCallable` & co.):
//! typed handles for one method with `call`, `with_call` and `future`.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use tracing::Instrument;

use super::call::{Call, CallShared};
use super::future::CallFuture;
use super::options::CallOptions;
use super::requests::spawn_request_pump;
use super::response_stream::ResponseStream;
use super::responses::ResponseIterator;
use super::rpc::{self, Delivery, Invocation, Outgoing};
use super::write::{IntoRequests, WithOptions, WriteOptions};
use super::writer::EncodeFn;
use crate::channel::Channel;
use crate::codec::message::{DecodeFn, PROTO, decode_fn};
use crate::codec::proto::encode_frame;
use crate::codec::{Codec, CodecSide, Decoder, Encoder, ProstCodec};
use crate::runtime::block_on;
use crate::status::{RpcError, Status};
use crate::stream::inbox::inbox;
use crate::stream::reader::decode_response;

/// A method on a channel with its call options.
#[derive(Clone, Debug)]
pub(super) struct Method {
    pub(super) channel: Channel,
    path: Cow<'static, str>,
    options: CallOptions,
    /// The content-subtype of the multi-callable's codec.
    codec: &'static str,
}

impl Method {
    pub(super) fn invocation(&self) -> Invocation<'_> {
        Invocation {
            channel: &self.channel,
            path: &self.path,
            options: &self.options,
            codec: self.codec,
        }
    }

    /// The call's timeout, or its method config's when shorter.
    fn timeout(&self) -> Option<std::time::Duration> {
        let configured = self
            .channel
            .method_config(&self.path)
            .and_then(|method| method.timeout);
        match (self.options.timeout, configured) {
            (Some(call), Some(config)) => Some(call.min(config)),
            (call, config) => call.or(config),
        }
    }

    /// The largest request message: the channel's limit, or the method
    /// config's when smaller.
    fn max_send_message(&self) -> usize {
        let channel = self.channel.config().max_send_message_length;
        self.channel
            .method_config(&self.path)
            .and_then(|method| method.max_request_message_bytes)
            .map_or(channel, |limit| limit.min(channel))
    }

    pub(super) fn new_call(&self) -> Arc<CallShared> {
        CallShared::new(self.timeout())
    }

    pub(super) fn encode<C: Encoder<Req>, Req>(
        &self,
        codec: &C,
        request: &Req,
    ) -> Result<Bytes, Status> {
        self.encode_with(codec, request, WriteOptions::new())
    }

    /// [`encode`](Self::encode) with per-message options.
    pub(super) fn encode_with<C: Encoder<Req>, Req>(
        &self,
        codec: &C,
        request: &Req,
        options: WriteOptions,
    ) -> Result<Bytes, Status> {
        encode_frame(
            codec,
            request,
            options.compression(self.invocation().compression()),
            self.max_send_message(),
        )
        .map_err(|status| match status.code() {
            crate::Code::ResourceExhausted => status,
            _ => Status::internal(format!(
                "Exception serializing request! ({})",
                status.details()
            )),
        })
    }

    /// [`encode_with`](Self::encode_with) as a shareable function, for
    /// calls fed by `write()`.
    pub(super) fn encoder<C: Encoder<Req>, Req>(&self, codec: &C) -> EncodeFn<Req> {
        let (method, codec) = (self.clone(), codec.clone());
        Arc::new(move |request, options| method.encode_with(&codec, request, options))
    }

    fn request_pump<C, Req, I>(&self, codec: &C, requests: I) -> Result<Outgoing, Status>
    where
        C: Encoder<Req>,
        I: Iterator<Item = WithOptions<Req>> + Send + 'static,
    {
        spawn_request_pump(
            codec.clone(),
            requests,
            self.invocation().compression(),
            self.max_send_message(),
        )
        .map(Outgoing::Stream)
    }

    /// Runs a unary-response RPC to its end and records the outcome on `call`.
    pub(super) async fn unary_response<C: Decoder<Resp>, Resp>(
        &self,
        codec: &C,
        call: &Arc<CallShared>,
        outgoing: Result<Outgoing, Status>,
    ) -> Result<Resp, RpcError> {
        let result = match outgoing {
            Err(status) => Err(status),
            Ok(outgoing) => {
                let mut slot = None;
                let status = rpc::run(
                    self.invocation(),
                    call,
                    outgoing,
                    Delivery::Single(&mut slot),
                )
                .await;
                match (status.is_ok(), slot) {
                    (true, Some(payload)) => decode_response(payload, |bytes| codec.decode(bytes))
                        .map(|response| (response, status)),
                    (true, None) => Err(Status::internal(
                        "Server sent no message for a unary-response RPC",
                    )),
                    (false, _) => Err(status),
                }
            }
        };
        match result {
            Ok((response, status)) => {
                call.finish(status);
                Ok(response)
            }
            Err(status) => {
                call.finish(status.clone());
                Err(call.error(status))
            }
        }
    }

    /// Starts a streaming-response RPC on the channel's runtime.
    fn streaming_response<Resp>(
        &self,
        outgoing: Result<Outgoing, Status>,
        decode: DecodeFn<Resp>,
    ) -> ResponseIterator<Resp> {
        let handle = self.channel.handle().clone();
        let responses = self.spawn_streaming(outgoing, &handle, decode);
        ResponseIterator::new(responses, handle)
    }

    /// Runs a streaming-response RPC as a task on `handle`; the responses
    /// arrive through the returned stream.
    pub(super) fn spawn_streaming<Resp>(
        &self,
        outgoing: Result<Outgoing, Status>,
        handle: &tokio::runtime::Handle,
        decode: DecodeFn<Resp>,
    ) -> ResponseStream<Resp> {
        let call = self.new_call();
        call.driven_by(handle);
        let (tx, rx) = inbox();
        let method = self.clone();
        let shared = Arc::clone(&call);
        match outgoing {
            Err(status) => call.finish(status),
            Ok(outgoing) => {
                spawn_boxed(handle, async move {
                    let status = rpc::run(
                        method.invocation(),
                        &shared,
                        outgoing,
                        Delivery::Forward(tx),
                    )
                    .await;
                    shared.finish(status);
                });
            }
        }
        ResponseStream::new(Call::new(call), rx, decode)
    }

    /// Starts a unary-response RPC on the channel's runtime.
    fn future<C, Resp>(&self, codec: &C, outgoing: Result<Outgoing, Status>) -> CallFuture<Resp>
    where
        C: Decoder<Resp>,
        Resp: Send + 'static,
    {
        let call = self.new_call();
        call.driven_by(self.channel.handle());
        let future = CallFuture::new(Call::new(Arc::clone(&call)));
        let method = self.clone();
        let codec = codec.clone();
        let done = future.clone();
        spawn_boxed(self.channel.handle(), async move {
            let result = method.unary_response(&codec, &call, outgoing).await;
            done.complete(result);
        });
        future
    }
}

macro_rules! multicallable_common {
    ($type:ident, $pattern:literal) => {
        impl<Req, Resp> $type<Req, Resp> {
            #[doc = concat!("A ", $pattern, " method at `path` (`/package.Service/Method`) on `channel`, with protobuf messages.")]
            pub fn new(channel: Channel, path: impl Into<Cow<'static, str>>) -> Self {
                $type {
                    method: Method {
                        channel,
                        path: path.into(),
                        options: CallOptions::new(),
                        codec: PROTO,
                    },
                    codec: ProstCodec,
                    _types: PhantomData,
                }
            }
        }

        impl<Req, Resp, C: Codec> $type<Req, Resp, C> {
            /// The same method with these call options (timeout, metadata,
            /// wait_for_ready, compression, credentials).
            pub fn with_options(mut self, options: CallOptions) -> Self {
                self.method.options = options;
                self
            }

            /// The same method with its messages in `codec`'s format, sent
            /// as `application/grpc+<name>` (e.g. [`JsonCodec`](crate::JsonCodec),
            /// [`BytesCodec`](crate::BytesCodec), or your own [`Codec`]).
            pub fn with_codec<D: Codec>(self, codec: D) -> $type<Req, Resp, D> {
                let codec = codec.for_method(&self.method.path, CodecSide::Client);
                let mut method = self.method;
                method.codec = codec.name();
                $type {
                    method,
                    codec,
                    _types: PhantomData,
                }
            }

            /// The method path.
            pub fn path(&self) -> &str {
                &self.method.path
            }
        }

        impl<Req, Resp, C: Clone> Clone for $type<Req, Resp, C> {
            fn clone(&self) -> Self {
                $type {
                    method: self.method.clone(),
                    codec: self.codec.clone(),
                    _types: PhantomData,
                }
            }
        }

        impl<Req, Resp, C> std::fmt::Debug for $type<Req, Resp, C> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    .field("path", &self.method.path)
                    .field("options", &self.method.options)
                    .field("codec", &self.method.codec)
                    .finish()
            }
        }
    };
}

/// A unary-unary method: one request, one response.
///
/// ```no_run
/// use grpc_core::{insecure_channel, UnaryUnary};
/// let channel = insecure_channel("localhost:50051")?;
/// // Generated stubs build these for you; by hand, name the path and types:
/// let say_hello: UnaryUnary<String, String> = UnaryUnary::new(channel, "/helloworld.Greeter/SayHello");
/// let reply = say_hello.call("world".to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Messages are protobuf unless the multi-callable is given another
/// [`Codec`] ([`with_codec`](Self::with_codec)), the third type parameter.
pub struct UnaryUnary<Req, Resp, C = ProstCodec> {
    pub(super) method: Method,
    pub(super) codec: C,
    _types: PhantomData<fn(Req) -> Resp>,
}

multicallable_common!(UnaryUnary, "unary-unary");

impl<Req, Resp, C> UnaryUnary<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
    Resp: Send + 'static,
{
    /// Sends `request` and waits for the response.
    pub fn call(&self, request: Req) -> Result<Resp, RpcError> {
        self.with_call(request).map(|(response, _)| response)
    }

    /// Like [`call`](Self::call), also returning the [`Call`] (status,
    /// metadata).
    ///
    /// The calling thread encodes the request and waits; the exchange runs
    /// as a task on the channel's I/O runtime, so callers on many threads
    /// never contend for the connection's locks or the runtime's timers.
    pub fn with_call(&self, request: Req) -> Result<(Resp, Call), RpcError> {
        let call = self.method.new_call();
        let outgoing = self.method.encode(&self.codec, &request).map(Outgoing::One);
        let (method, codec, shared) = (self.method.clone(), self.codec.clone(), Arc::clone(&call));
        let handle = self.method.channel.handle();
        // In the caller's span, as if it ran here; boxed (see `spawn_boxed`).
        let exchange = spawn_boxed(
            handle,
            async move { method.unary_response(&codec, &shared, outgoing).await }
                .instrument(tracing::Span::current()),
        );
        let result = block_on(handle, exchange)?.map_err(|error| {
            RpcError::from(Status::internal(format!("the call's task failed: {error}")))
        })?;
        result.map(|response| (response, Call::new(call)))
    }

    /// Starts the RPC in the background and returns its [`CallFuture`].
    pub fn future(&self, request: Req) -> CallFuture<Resp> {
        let outgoing = self.method.encode(&self.codec, &request).map(Outgoing::One);
        self.method.future(&self.codec, outgoing)
    }
}

/// A unary-stream method: one request, a stream of responses.
///
/// See [`ResponseIterator`] for reading the responses.
pub struct UnaryStream<Req, Resp, C = ProstCodec> {
    pub(super) method: Method,
    pub(super) codec: C,
    _types: PhantomData<fn(Req) -> Resp>,
}

multicallable_common!(UnaryStream, "unary-stream");

impl<Req, Resp, C> UnaryStream<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
{
    /// Sends `request`; the responses arrive through the returned iterator.
    /// Fails at once only when the request cannot be encoded.
    pub fn call(&self, request: Req) -> Result<ResponseIterator<Resp>, RpcError> {
        let frame = self
            .method
            .encode(&self.codec, &request)
            .map_err(RpcError::from)?;
        let decode = decode_fn(&self.codec);
        Ok(self
            .method
            .streaming_response(Ok(Outgoing::One(frame)), decode))
    }
}

/// A stream-unary method: a stream of requests, one response.
///
/// The requests come from any iterator, drawn on its own thread: it may
/// block (a queue, a sleep) without stalling the connection. For
/// per-message [`WriteOptions`] (a message sent uncompressed), pass
/// [`Writes`](crate::Writes) of [`WithOptions`] items.
///
/// ```no_run
/// # fn demo(record: &grpc_core::StreamUnary<String, String>) -> Result<(), grpc_core::RpcError> {
/// let summary = record.call((0..10).map(|i| format!("point {i}")))?;
/// let (summary, call) = record.with_call(vec!["a".to_string()].into_iter())?;
/// let future = record.future(std::iter::once("b".to_string()));
/// # Ok(()) }
/// ```
pub struct StreamUnary<Req, Resp, C = ProstCodec> {
    pub(super) method: Method,
    pub(super) codec: C,
    _types: PhantomData<fn(Req) -> Resp>,
}

multicallable_common!(StreamUnary, "stream-unary");

impl<Req, Resp, C> StreamUnary<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
    Req: 'static,
    Resp: Send + 'static,
{
    /// Sends every request of `requests`, then waits for the response.
    pub fn call<I>(&self, requests: I) -> Result<Resp, RpcError>
    where
        I: IntoRequests<Req>,
    {
        self.with_call(requests).map(|(response, _)| response)
    }

    /// Like [`call`](Self::call), also returning the [`Call`].
    pub fn with_call<I>(&self, requests: I) -> Result<(Resp, Call), RpcError>
    where
        I: IntoRequests<Req>,
    {
        let call = self.method.new_call();
        let outgoing = self
            .method
            .request_pump(&self.codec, requests.into_requests());
        let result = block_on(
            self.method.channel.handle(),
            self.method.unary_response(&self.codec, &call, outgoing),
        )?;
        result.map(|response| (response, Call::new(call)))
    }

    /// Starts the RPC in the background and returns its [`CallFuture`].
    pub fn future<I>(&self, requests: I) -> CallFuture<Resp>
    where
        I: IntoRequests<Req>,
    {
        let outgoing = self
            .method
            .request_pump(&self.codec, requests.into_requests());
        self.method.future(&self.codec, outgoing)
    }
}

/// A stream-stream (bidi) method: requests and responses flow at once.
///
/// ```no_run
/// # fn demo(chat: &grpc_core::StreamStream<String, String>) -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = std::sync::mpsc::sync_channel(10);
/// let responses = chat.call(rx.into_iter())?;
/// let printer = std::thread::spawn(move || for r in responses { println!("{r:?}") });
/// tx.send("hello".to_string())?;
/// drop(tx); // half-close
/// printer.join().unwrap();
/// # Ok(()) }
/// ```
pub struct StreamStream<Req, Resp, C = ProstCodec> {
    pub(super) method: Method,
    pub(super) codec: C,
    _types: PhantomData<fn(Req) -> Resp>,
}

multicallable_common!(StreamStream, "stream-stream");

impl<Req, Resp, C> StreamStream<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
    Req: 'static,
{
    /// Starts the RPC: `requests` is drawn on its own thread while the
    /// responses arrive through the returned iterator.
    pub fn call<I>(&self, requests: I) -> Result<ResponseIterator<Resp>, RpcError>
    where
        I: IntoRequests<Req>,
    {
        let outgoing = self
            .method
            .request_pump(&self.codec, requests.into_requests());
        Ok(self
            .method
            .streaming_response(outgoing, decode_fn(&self.codec)))
    }
}

impl Channel {
    /// A unary-unary multi-callable for `path` (grpcio's `channel.unary_unary`).
    pub fn unary_unary<Req, Resp>(
        &self,
        path: impl Into<Cow<'static, str>>,
    ) -> UnaryUnary<Req, Resp> {
        UnaryUnary::new(self.clone(), path)
    }

    /// A unary-stream multi-callable for `path`.
    pub fn unary_stream<Req, Resp>(
        &self,
        path: impl Into<Cow<'static, str>>,
    ) -> UnaryStream<Req, Resp> {
        UnaryStream::new(self.clone(), path)
    }

    /// A stream-unary multi-callable for `path`.
    pub fn stream_unary<Req, Resp>(
        &self,
        path: impl Into<Cow<'static, str>>,
    ) -> StreamUnary<Req, Resp> {
        StreamUnary::new(self.clone(), path)
    }

    /// A stream-stream multi-callable for `path`.
    pub fn stream_stream<Req, Resp>(
        &self,
        path: impl Into<Cow<'static, str>>,
    ) -> StreamStream<Req, Resp> {
        StreamStream::new(self.clone(), path)
    }
}

/// Spawns a call's exchange boxed. Its state machine is some 4 KiB, and
/// tokio moves a task's future whole several times on the way into the
/// runtime (and rewrites it when it ends); boxed, those are moves of a
/// pointer, for one allocation.
pub(super) fn spawn_boxed<F>(
    handle: &tokio::runtime::Handle,
    exchange: F,
) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle.spawn(Box::pin(exchange))
}
