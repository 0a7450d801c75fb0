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
use crate::runtime::current_or;
use crate::status::{RpcError, Status};

impl Method {
    /// Maps an async request stream to framed messages, encoded as drawn.
    fn request_stream<Req, S>(&self, requests: S) -> Outgoing
    where
        Req: prost::Message + 'static,
        S: IntoRequestStream<Req>,
    {
        let method = self.clone();
        let requests = requests.into_request_stream();
        let framed: RequestStream = Box::pin(requests.map(move |request| {
            let (request, options) = request.into_parts();
            method.encode_with(&request, options)
        }));
        Outgoing::Async(framed)
    }

    fn response_stream<Resp>(&self, outgoing: Outgoing) -> ResponseStream<Resp> {
        let handle = current_or(self.channel.handle());
        let (call, rx) = self.spawn_streaming(Ok(outgoing), &handle);
        ResponseStream::new(Call::new(call), rx)
    }

    /// A unary-response RPC that runs inside the returned call.
    fn unary_call<Resp>(&self, outgoing: Result<Outgoing, Status>) -> UnaryCall<Resp>
    where
        Resp: prost::Message + Default + Send + 'static,
    {
        let method = self.clone();
        let shared = method.new_call();
        let call = Call::new(Arc::clone(&shared));
        UnaryCall::new(call, async move {
            method.unary_response(&shared, outgoing).await
        })
    }

    /// A unary-response RPC run as a task on the caller's runtime, so that
    /// writes make progress while nobody awaits the call.
    fn spawned_unary_call<Resp>(
        &self,
        shared: Arc<CallShared>,
        outgoing: Outgoing,
    ) -> UnaryCall<Resp>
    where
        Resp: prost::Message + Default + Send + 'static,
    {
        let handle = current_or(self.channel.handle());
        shared.driven_by(&handle);
        let (tx, rx) = oneshot::channel();
        let method = self.clone();
        let driver = Arc::clone(&shared);
        handle.spawn(async move {
            let _ = tx.send(method.unary_response(&driver, Ok(outgoing)).await);
        });
        let lost = Arc::clone(&shared);
        UnaryCall::new(Call::new(shared), async move {
            rx.await.unwrap_or_else(|_| {
                Err(lost.error(Status::internal("the call's task ended without a result")))
            })
        })
    }
}

impl<Req, Resp> UnaryUnary<Req, Resp>
where
    Req: prost::Message + 'static,
    Resp: prost::Message + Default + Send + 'static,
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
        self.method
            .unary_call(self.method.encode(&request).map(Outgoing::One))
    }

    /// Like [`call_async`](Self::call_async), also returning the finished [`Call`].
    pub fn with_call_async(
        &self,
        request: Req,
    ) -> impl Future<Output = Result<(Resp, Call), RpcError>> + Send + 'static + use<Req, Resp>
    {
        let method = self.method.clone();
        let call = method.new_call();
        let outgoing = method.encode(&request).map(Outgoing::One);
        async move {
            let response = method.unary_response(&call, outgoing).await?;
            Ok((response, Call::new(call)))
        }
    }
}

impl<Req, Resp> UnaryStream<Req, Resp>
where
    Req: prost::Message + 'static,
    Resp: prost::Message + Default + Send + 'static,
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
    ) -> impl Future<Output = Result<ResponseStream<Resp>, RpcError>> + Send + 'static + use<Req, Resp>
    {
        let started = self
            .method
            .encode(&request)
            .map(|frame| self.method.response_stream(Outgoing::One(frame)))
            .map_err(RpcError::from);
        std::future::ready(started)
    }
}

impl<Req, Resp> StreamUnary<Req, Resp>
where
    Req: prost::Message + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    /// Sends every request of the async stream `requests` (a `Stream` of
    /// messages, or [`Writes`](crate::Writes) for per-message options);
    /// awaiting the returned [`UnaryCall`] gives the response.
    pub fn call_async<S>(&self, requests: S) -> UnaryCall<Resp>
    where
        S: IntoRequestStream<Req>,
    {
        self.method
            .unary_call(Ok(self.method.request_stream(requests)))
    }

    /// Like [`call_async`](Self::call_async), also returning the finished [`Call`].
    pub fn with_call_async<S>(
        &self,
        requests: S,
    ) -> impl Future<Output = Result<(Resp, Call), RpcError>> + Send + 'static + use<Req, Resp, S>
    where
        S: IntoRequestStream<Req>,
    {
        let method = self.method.clone();
        let call = method.new_call();
        let outgoing = method.request_stream(requests);
        async move {
            let response = method.unary_response(&call, Ok(outgoing)).await?;
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
        let writer = RequestWriter::new(self.method.clone(), call, sender);
        let response = self
            .method
            .spawned_unary_call(shared, Outgoing::Stream(queue));
        StreamUnaryCall::new(response, writer)
    }
}

impl<Req, Resp> StreamStream<Req, Resp>
where
    Req: prost::Message + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    /// Starts the RPC: `requests` (a `Stream` of messages, or
    /// [`Writes`](crate::Writes)) is drawn
    /// as the connection admits them while the responses arrive through
    /// the returned [`ResponseStream`].
    pub fn call_async<S>(
        &self,
        requests: S,
    ) -> impl Future<Output = Result<ResponseStream<Resp>, RpcError>> + Send + 'static + use<Req, Resp, S>
    where
        S: IntoRequestStream<Req>,
    {
        let outgoing = self.method.request_stream(requests);
        std::future::ready(Ok(self.method.response_stream(outgoing)))
    }

    /// Starts the RPC with no request stream (grpc.aio's call made without
    /// a request iterator): `write().await` requests and read the
    /// responses from the returned call at the same time, and end the
    /// requests with `done_writing()`.
    pub fn start_async(&self) -> StreamStreamCall<Req, Resp> {
        let (sender, queue) = RequestWriter::<Req>::queue();
        let responses = self.method.response_stream(Outgoing::Stream(queue));
        let writer = RequestWriter::new(self.method.clone(), responses.call().clone(), sender);
        StreamStreamCall::new(responses, writer)
    }
}
