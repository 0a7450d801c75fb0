//! The method registry: [`ServiceBuilder`] collects typed handlers into a
//! [`Service`], which the server looks up by method path.

use std::collections::{BTreeSet, HashMap};
use std::future::{Future, ready};
use std::sync::Arc;

use futures_core::Stream;
use futures_util::FutureExt;
use futures_util::stream::iter;

use super::context::ServicerContext;
use super::handler::{self, Answer, Face, Intake, Many, MethodEntry, MethodKind, One, Single};
use super::request_stream::RequestStream;
use super::requests::Requests;
use crate::codec::message::content_type;
use crate::codec::{Codec, CodecSide, Decoder, Encoder, ProstCodec};
use crate::status::Status;

/// A set of method handlers under one service name (grpcio's generic RPC
/// handler). Built with [`ServiceBuilder`]; registered with
/// [`Server::add_service`](crate::Server::add_service).
pub struct Service {
    name: String,
    methods: Vec<(String, Arc<MethodEntry>)>,
}

impl Service {
    /// The fully-qualified service name (`package.Service`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The method paths this service answers.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.methods.iter().map(|(path, _)| path.as_str())
    }

    pub(crate) fn into_methods(self) -> Vec<(String, Arc<MethodEntry>)> {
        self.methods
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("methods", &self.paths().collect::<Vec<_>>())
            .finish()
    }
}

/// Builds a [`Service`] from typed handler functions; generated
/// `add_<service>_servicer_to_server` functions use it, and so can you.
/// Messages are protobuf ([`ProstCodec`]) unless the builder is given
/// another codec ([`with_codec`](Self::with_codec)).
///
/// ```
/// use grpc_core::{Requests, ServiceBuilder, Status};
/// let mut service = ServiceBuilder::new("demo.Math");
/// service
///     .unary_unary("Double", |n: u64, _ctx| Ok::<_, Status>(n * 2))
///     .unary_stream("Count", |n: u64, _ctx| Ok::<_, Status>((0..n).map(Ok)))
///     .stream_unary("Sum", |numbers: Requests<u64>, _ctx| numbers.sum::<Result<u64, _>>());
/// let service = service.build();
/// assert_eq!(service.paths().collect::<Vec<_>>(), ["/demo.Math/Double", "/demo.Math/Count", "/demo.Math/Sum"]);
/// ```
pub struct ServiceBuilder<C = ProstCodec> {
    name: String,
    methods: Vec<(String, Arc<MethodEntry>)>,
    codec: C,
}

impl ServiceBuilder {
    /// Starts a service named `name` (`package.Service`).
    pub fn new(name: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder {
            name: name.into(),
            methods: Vec::new(),
            codec: ProstCodec,
        }
    }
}

impl<C: Codec> ServiceBuilder<C> {
    /// The methods added from now on read and write their messages with
    /// `codec`, and answer calls made with a codec of the same name
    /// (`application/grpc+<name>`); methods already added keep theirs.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use grpc_core::{BytesCodec, ServiceBuilder, Status};
    /// let mut service = ServiceBuilder::new("demo.Echo").with_codec(BytesCodec::new());
    /// service.unary_unary("Echo", |raw: Bytes, _ctx| Ok::<_, Status>(raw));
    /// ```
    pub fn with_codec<D: Codec>(self, codec: D) -> ServiceBuilder<D> {
        ServiceBuilder {
            name: self.name,
            methods: self.methods,
            codec,
        }
    }

    /// Adds `method` (the proto name, `SayHello`): the one registration
    /// path every pattern and face goes through.
    fn add<In, Out, F, Fut>(
        &mut self,
        method: &str,
        kind: MethodKind,
        face: Face,
        user: F,
    ) -> &mut Self
    where
        In: Intake<C>,
        Out: Answer<C>,
        F: Fn(In, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, Status>> + Send + 'static,
    {
        let path = format!("/{}/{}", self.name, method);
        let codec = self.codec.for_method(&path, CodecSide::Server);
        let entry = MethodEntry {
            kind,
            codec: codec.name(),
            content_type: content_type(codec.name()),
            handler: handler::handler(face, codec, user),
            path: path.as_str().into(),
        };
        self.methods.retain(|(existing, _)| *existing != path);
        self.methods.push((path, Arc::new(entry)));
        self
    }

    /// Adds a unary-unary method named `method` (the proto name, `SayHello`).
    pub fn unary_unary<Req, Resp, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        F: Fn(Req, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryUnary,
            Face::Blocking,
            move |One(request), ctx| ready(handler(request, &ctx).map(Single)),
        )
    }

    /// Adds a unary-stream method: the handler returns an iterator, drawn on
    /// a worker thread with HTTP/2 backpressure.
    pub fn unary_stream<Req, Resp, I, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(Req, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryStream,
            Face::Blocking,
            move |One(request), ctx| {
                ready(handler(request, &ctx).map(|responses| Many(iter(responses))))
            },
        )
    }

    /// Adds a stream-unary method: the handler reads [`Requests`].
    pub fn stream_unary<Req, Resp, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        F: Fn(Requests<Req>, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::StreamUnary,
            Face::Blocking,
            move |requests, ctx| ready(handler(requests, &ctx).map(Single)),
        )
    }

    /// Adds a stream-stream method: requests in, an iterator of responses out.
    pub fn stream_stream<Req, Resp, I, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(Requests<Req>, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::StreamStream,
            Face::Blocking,
            move |requests, ctx| {
                ready(handler(requests, &ctx).map(|responses| Many(iter(responses))))
            },
        )
    }

    /// Adds an async unary-unary method: the handler's future runs as a
    /// task (grpc.aio's `async def`), taking its own context handle.
    ///
    /// ```
    /// use grpc_core::{ServiceBuilder, Status};
    /// let mut service = ServiceBuilder::new("demo.Math");
    /// service.unary_unary_async("Double", |n: u64, _ctx| async move { Ok::<_, Status>(n * 2) });
    /// ```
    pub fn unary_unary_async<Req, Resp, F, Fut>(&mut self, method: &str, handler: F) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        F: Fn(Req, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryUnary,
            Face::Async,
            move |One(request), ctx| handler(request, ctx).map(|response| response.map(Single)),
        )
    }

    /// Adds an async unary-stream method: the handler returns a `Stream`,
    /// drawn as HTTP/2 flow control admits.
    pub fn unary_stream_async<Req, Resp, S, F, Fut>(
        &mut self,
        method: &str,
        handler: F,
    ) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(Req, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryStream,
            Face::Async,
            move |One(request), ctx| handler(request, ctx).map(|responses| responses.map(Many)),
        )
    }

    /// Adds an async stream-unary method: the handler reads a [`RequestStream`].
    pub fn stream_unary_async<Req, Resp, F, Fut>(&mut self, method: &str, handler: F) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        F: Fn(RequestStream<Req>, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::StreamUnary,
            Face::Async,
            move |requests, ctx| handler(requests, ctx).map(|response| response.map(Single)),
        )
    }

    /// Adds an async stream-stream method.
    pub fn stream_stream_async<Req, Resp, S, F, Fut>(
        &mut self,
        method: &str,
        handler: F,
    ) -> &mut Self
    where
        C: Decoder<Req> + Encoder<Resp>,
        Req: Send + 'static,
        Resp: Send + Sync + 'static,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(RequestStream<Req>, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::StreamStream,
            Face::Async,
            move |requests, ctx| handler(requests, ctx).map(|responses| responses.map(Many)),
        )
    }

    /// Finishes the service.
    pub fn build(self) -> Service {
        Service {
            name: self.name,
            methods: self.methods,
        }
    }
}

/// Method path to handler, shared by every connection.
#[derive(Default)]
pub(crate) struct Registry {
    methods: HashMap<String, Arc<MethodEntry>>,
    services: BTreeSet<String>,
    /// Answers the paths no service registered.
    fallback: Option<Arc<MethodEntry>>,
}

impl Registry {
    pub(crate) fn add(&mut self, service: Service) {
        self.services.insert(service.name.clone());
        for (path, entry) in service.into_methods() {
            self.methods.insert(path, entry);
        }
    }

    pub(crate) fn service_names(&self) -> Vec<String> {
        self.services.iter().cloned().collect()
    }

    /// Makes the single method of `service` answer every path no service
    /// registered.
    pub(crate) fn set_fallback(&mut self, service: Service) -> Result<(), crate::Error> {
        let mut methods = service.into_methods();
        if methods.len() != 1 {
            return Err(crate::Error::new(
                crate::error::Kind::InvalidArgument,
                format!(
                    "a fallback service has exactly one method, this one has {}",
                    methods.len()
                ),
            ));
        }
        self.fallback = methods.pop().map(|(_, entry)| entry);
        Ok(())
    }

    /// The handler of `path`: its own, or the fallback under that path.
    pub(crate) fn lookup(&self, path: &str) -> Option<Arc<MethodEntry>> {
        if let Some(entry) = self.methods.get(path) {
            return Some(Arc::clone(entry));
        }
        let fallback = self.fallback.as_ref()?;
        Some(Arc::new(MethodEntry {
            kind: fallback.kind,
            codec: fallback.codec,
            content_type: fallback.content_type.clone(),
            handler: fallback.handler.clone(),
            path: path.into(),
        }))
    }
}
