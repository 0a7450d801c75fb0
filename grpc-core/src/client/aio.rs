//! The async face of the multi-callables (grpcio's `grpc.aio`): the same
//! exchange as the blocking face, awaited on the caller's own runtime.
//!
//! Unary-response calls run inside the caller's future: dropping it resets
//! the stream (RST_STREAM CANCEL) and the server sees the cancellation.
//! Streaming responses arrive through a [`ResponseStream`], whose drop
//! cancels the RPC the same way.

use std::future::Future;

use futures_core::Stream;
use futures_util::StreamExt;

use super::call::Call;
use super::multicallable::{Method, StreamStream, StreamUnary, UnaryStream, UnaryUnary};
use super::response_stream::ResponseStream;
use super::rpc::{Outgoing, RequestStream};
use crate::runtime::current_or;
use crate::status::RpcError;

impl Method {
    /// Maps an async request stream to framed messages, encoded as drawn.
    fn request_stream<Req, S>(&self, requests: S) -> Outgoing
    where
        Req: prost::Message + 'static,
        S: Stream<Item = Req> + Send + 'static,
    {
        let method = self.clone();
        let framed: RequestStream = Box::pin(requests.map(move |request| method.encode(&request)));
        Outgoing::Async(framed)
    }

    fn response_stream<Resp>(&self, outgoing: Outgoing) -> ResponseStream<Resp> {
        let handle = current_or(self.channel.handle());
        let (call, rx) = self.spawn_streaming(Ok(outgoing), &handle);
        ResponseStream::new(Call::new(call), rx)
    }
}

impl<Req, Resp> UnaryUnary<Req, Resp>
where
    Req: prost::Message,
    Resp: prost::Message + Default + Send + 'static,
{
    /// Sends `request` and awaits the response. The future owns what it
    /// needs (`'static`), so it can be spawned or collected.
    ///
    /// ```no_run
    /// # async fn demo(say_hello: grpc_core::UnaryUnary<String, String>) -> Result<(), grpc_core::RpcError> {
    /// let reply = say_hello.call_async("world".to_string()).await?;
    /// let spawned = tokio::spawn(say_hello.call_async("again".to_string()));
    /// # Ok(()) }
    /// ```
    pub fn call_async(
        &self,
        request: Req,
    ) -> impl Future<Output = Result<Resp, RpcError>> + Send + 'static {
        let call = self.with_call_async(request);
        async move { call.await.map(|(response, _)| response) }
    }

    /// Like [`call_async`](Self::call_async), also returning the finished [`Call`].
    pub fn with_call_async(
        &self,
        request: Req,
    ) -> impl Future<Output = Result<(Resp, Call), RpcError>> + Send + 'static {
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
    Req: prost::Message,
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
    ) -> impl Future<Output = Result<ResponseStream<Resp>, RpcError>> + Send + 'static {
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
    /// Sends every request of the async stream `requests`, then awaits the
    /// response.
    pub fn call_async<S>(
        &self,
        requests: S,
    ) -> impl Future<Output = Result<Resp, RpcError>> + Send + 'static
    where
        S: Stream<Item = Req> + Send + 'static,
    {
        let call = self.with_call_async(requests);
        async move { call.await.map(|(response, _)| response) }
    }

    /// Like [`call_async`](Self::call_async), also returning the finished [`Call`].
    pub fn with_call_async<S>(
        &self,
        requests: S,
    ) -> impl Future<Output = Result<(Resp, Call), RpcError>> + Send + 'static
    where
        S: Stream<Item = Req> + Send + 'static,
    {
        let method = self.method.clone();
        let call = method.new_call();
        let outgoing = method.request_stream(requests);
        async move {
            let response = method.unary_response(&call, Ok(outgoing)).await?;
            Ok((response, Call::new(call)))
        }
    }
}

impl<Req, Resp> StreamStream<Req, Resp>
where
    Req: prost::Message + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    /// Starts the RPC: `requests` is drawn as the connection admits them
    /// while the responses arrive through the returned [`ResponseStream`].
    pub fn call_async<S>(
        &self,
        requests: S,
    ) -> impl Future<Output = Result<ResponseStream<Resp>, RpcError>> + Send + 'static
    where
        S: Stream<Item = Req> + Send + 'static,
    {
        let outgoing = self.method.request_stream(requests);
        std::future::ready(Ok(self.method.response_stream(outgoing)))
    }
}
