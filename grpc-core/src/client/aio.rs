//! The async face of the multi-callables (grpcio's `grpc.aio`): the same
//! exchange as the blocking face, awaited on the caller's own runtime.
//!
//! Unary-response calls run inside the caller's [`UnaryCall`]: dropping it
//! resets the stream (RST_STREAM CANCEL) and the server sees the
//! cancellation. Streaming responses arrive through a [`ResponseStream`],
//! whose drop cancels the RPC the same way. Calls started without a request
//! stream (`start_async`) are fed by awaited `write()`s.
//!
//! Every returned `impl Future` captures only the method's type parameters
//! (`use<..>`), never the borrow of the multi-callable: the futures are
//! `'static` and outlive temporaries such as `stub.say_hello()`.

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::oneshot;

use super::call::{Call, CallShared};
use super::multicallable::{Method, StreamStream, StreamUnary, UnaryStream, UnaryUnary};
use super::response_stream::ResponseStream;
use super::rpc::{Outgoing, RequestStream};
use super::unary_call::UnaryCall;
use super::write::IntoRequestStream;
use super::writer::{RequestWriter, StreamStreamCall, StreamUnaryCall};
use crate::codec::message::{DecodeFn, decode_fn};
use crate::codec::{Decoder, Encoder};
use crate::runtime::current_or;
use crate::status::{RpcError, Status};

impl Method {
    /// Maps an async request stream to framed messages, encoded as drawn.
    fn request_stream<C, Req, S>(&self, codec: &C, requests: S) -> Outgoing
    where
        C: Encoder<Req>,
        S: IntoRequestStream<Req>,
    {
        let (method, codec) = (self.clone(), codec.clone());
        let requests = requests.into_request_stream();
        let framed: RequestStream = Box::pin(requests.map(move |request| {
            let (request, options) = request.into_parts();
            method.encode_with(&codec, &request, options)
        }));
        Outgoing::Async(framed)
    }

    fn response_stream<Resp>(
        &self,
        outgoing: Outgoing,
        decode: DecodeFn<Resp>,
    ) -> ResponseStream<Resp> {
        let handle = current_or(self.channel.handle());
        self.spawn_streaming(Ok(outgoing), &handle, decode)
    }

    /// A unary-response RPC that runs inside the returned call.
    fn unary_call<C, Resp>(&self, codec: &C, outgoing: Result<Outgoing, Status>) -> UnaryCall<Resp>
    where
        C: Decoder<Resp>,
        Resp: Send + 'static,
    {
        let (method, codec) = (self.clone(), codec.clone());
        let shared = method.new_call();
        let call = Call::new(Arc::clone(&shared));
        UnaryCall::new(call, async move {
            method.unary_response(&codec, &shared, outgoing).await
        })
    }

    /// A unary-response RPC run as a task on the caller's runtime, so that
    /// writes make progress while nobody awaits the call.
    fn spawned_unary_call<C, Resp>(
        &self,
        codec: &C,
        shared: Arc<CallShared>,
        outgoing: Outgoing,
    ) -> UnaryCall<Resp>
    where
        C: Decoder<Resp>,
        Resp: Send + 'static,
    {
        let handle = current_or(self.channel.handle());
        shared.driven_by(&handle);
        let (tx, rx) = oneshot::channel();
        let (method, codec) = (self.clone(), codec.clone());
        let driver = Arc::clone(&shared);
        super::multicallable::spawn_boxed(&handle, async move {
            let _ = tx.send(method.unary_response(&codec, &driver, Ok(outgoing)).await);
        });
        let lost = Arc::clone(&shared);
        UnaryCall::new(Call::new(shared), async move {
            rx.await.unwrap_or_else(|_| {
                Err(lost.error(Status::internal("the call's task ended without a result")))
            })
        })
    }
}

impl<Req, Resp, C> UnaryUnary<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
    Req: 'static,
    Resp: Send + 'static,
{
    /// Sends `request`; awaiting the returned [`UnaryCall`] gives the
    /// response, and until then it answers `initial_metadata().await`,
    /// `code().await` and the other call methods. It owns what it needs
    /// (`'static`), so it can be spawned or collected.
    ///
    /// ```no_run
    /// # async fn demo(say_hello: grpc_core::UnaryUnary<String, String>) -> Result<(), grpc_core::RpcError> {
    /// let reply = say_hello.call_async("world".to_string()).await?;
    /// let spawned = tokio::spawn(say_hello.call_async("again".to_string()));
    /// # Ok(()) }
    /// ```
    pub fn call_async(&self, request: Req) -> UnaryCall<Resp> {
        let outgoing = self.method.encode(&self.codec, &request).map(Outgoing::One);
        self.method.unary_call(&self.codec, outgoing)
    }

    /// Like [`call_async`](Self::call_async), also returning the finished [`Call`].
    pub fn with_call_async(
        &self,
        request: Req,
    ) -> impl Future<Output = Result<(Resp, Call), RpcError>> + Send + 'static + use<Req, Resp, C>
    {
        let (method, codec) = (self.method.clone(), self.codec.clone());
        let call = method.new_call();
        let outgoing = method.encode(&codec, &request).map(Outgoing::One);
        async move {
            let response = method.unary_response(&codec, &call, outgoing).await?;
            Ok((response, Call::new(call)))
        }
    }
}

impl<Req, Resp, C> UnaryStream<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
    Req: 'static,
    Resp: 'static,
{
    /// Starts the RPC; the responses arrive as a [`ResponseStream`].
    ///
    /// ```no_run
    /// # async fn demo(list: grpc_core::UnaryStream<String, String>) -> Result<(), grpc_core::RpcError> {
    /// use futures_util::StreamExt;
    /// let mut stream = list.call_async("query".to_string()).await?;
    /// while let Some(item) = stream.next().await {
    ///     println!("{}", item?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn call_async(
        &self,
        request: Req,
    ) -> impl Future<Output = Result<ResponseStream<Resp>, RpcError>> + Send + 'static + use<Req, Resp, C>
    {
        let started = self
            .method
            .encode(&self.codec, &request)
            .map(|frame| {
                let decode = decode_fn(&self.codec);
                self.method.response_stream(Outgoing::One(frame), decode)
            })
            .map_err(RpcError::from);
        std::future::ready(started)
    }
}

impl<Req, Resp, C> StreamUnary<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
    Req: Send + 'static,
    Resp: Send + 'static,
{
    /// Sends every request of the async stream `requests` (a `Stream` of
    /// messages, or [`Writes`](crate::Writes) for per-message options);
    /// awaiting the returned [`UnaryCall`] gives the response.
    pub fn call_async<S>(&self, requests: S) -> UnaryCall<Resp>
    where
        S: IntoRequestStream<Req>,
    {
        let outgoing = self.method.request_stream(&self.codec, requests);
        self.method.unary_call(&self.codec, Ok(outgoing))
    }

    /// Like [`call_async`](Self::call_async), also returning the finished [`Call`].
    pub fn with_call_async<S>(
        &self,
        requests: S,
    ) -> impl Future<Output = Result<(Resp, Call), RpcError>> + Send + 'static + use<Req, Resp, C, S>
    where
        S: IntoRequestStream<Req>,
    {
        let (method, codec) = (self.method.clone(), self.codec.clone());
        let call = method.new_call();
        let outgoing = method.request_stream(&codec, requests);
        async move {
            let response = method.unary_response(&codec, &call, Ok(outgoing)).await?;
            Ok((response, Call::new(call)))
        }
    }

    /// Starts the RPC with no request stream (grpc.aio's call made without
    /// a request iterator): feed it with `write().await`, end the requests
    /// with `done_writing()`, then await the call for the response.
    pub fn start_async(&self) -> StreamUnaryCall<Req, Resp> {
        let shared = self.method.new_call();
        let (sender, queue) = RequestWriter::<Req>::queue();
        let call = Call::new(Arc::clone(&shared));
        let writer = RequestWriter::new(self.method.encoder(&self.codec), call, sender);
        let response = self
            .method
            .spawned_unary_call(&self.codec, shared, Outgoing::Stream(queue));
        StreamUnaryCall::new(response, writer)
    }
}

impl<Req, Resp, C> StreamStream<Req, Resp, C>
where
    C: Encoder<Req> + Decoder<Resp>,
    Req: Send + 'static,
    Resp: 'static,
{
    /// Starts the RPC: `requests` (a `Stream` of messages, or
    /// [`Writes`](crate::Writes)) is drawn
    /// as the connection admits them while the responses arrive through
    /// the returned [`ResponseStream`].
    pub fn call_async<S>(
        &self,
        requests: S,
    ) -> impl Future<Output = Result<ResponseStream<Resp>, RpcError>>
    + Send
    + 'static
    + use<Req, Resp, C, S>
    where
        S: IntoRequestStream<Req>,
    {
        let outgoing = self.method.request_stream(&self.codec, requests);
        let decode = decode_fn(&self.codec);
        std::future::ready(Ok(self.method.response_stream(outgoing, decode)))
    }

    /// Starts the RPC with no request stream (grpc.aio's call made without
    /// a request iterator): `write().await` requests and read the
    /// responses from the returned call at the same time, and end the
    /// requests with `done_writing()`.
    pub fn start_async(&self) -> StreamStreamCall<Req, Resp> {
        let (sender, queue) = RequestWriter::<Req>::queue();
        let decode = decode_fn(&self.codec);
        let responses = self.method.response_stream(Outgoing::Stream(queue), decode);
        let encode = self.method.encoder(&self.codec);
        let writer = RequestWriter::new(encode, responses.call().clone(), sender);
        StreamStreamCall::new(responses, writer)
    }
}
