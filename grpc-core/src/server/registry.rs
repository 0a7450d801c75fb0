//! The method registry: [`ServiceBuilder`] collects typed handlers into a
//! [`Service`], which the server looks up by method path.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

use futures_core::Stream;

use super::context::ServicerContext;
use super::handler::{self, MethodEntry, MethodKind};
use super::request_stream::RequestStream;
use super::requests::Requests;
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
pub struct ServiceBuilder {
    name: String,
    methods: Vec<(String, Arc<MethodEntry>)>,
}

impl ServiceBuilder {
    /// Starts a service named `name` (`package.Service`).
    pub fn new(name: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder {
            name: name.into(),
            methods: Vec::new(),
        }
    }

    fn add(&mut self, method: &str, kind: MethodKind, handler: handler::Handler) -> &mut Self {
        let path = format!("/{}/{}", self.name, method);
        self.methods.retain(|(existing, _)| *existing != path);
        let entry = MethodEntry {
            kind,
            handler,
            path: path.as_str().into(),
        };
        self.methods.push((path, Arc::new(entry)));
        self
    }

    /// Adds a unary-unary method named `method` (the proto name, `SayHello`).
    pub fn unary_unary<Req, Resp, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Req, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryUnary,
            handler::unary_unary(handler),
        )
    }

    /// Adds a unary-stream method: the handler returns an iterator, drawn on
    /// a worker thread with HTTP/2 backpressure.
    pub fn unary_stream<Req, Resp, I, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(Req, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryStream,
            handler::unary_stream(handler),
        )
    }

    /// Adds a stream-unary method: the handler reads [`Requests`].
    pub fn stream_unary<Req, Resp, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Requests<Req>, &ServicerContext) -> Result<Resp, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::StreamUnary,
            handler::stream_unary(handler),
        )
    }

    /// Adds a stream-stream method: requests in, an iterator of responses out.
    pub fn stream_stream<Req, Resp, I, F>(&mut self, method: &str, handler: F) -> &mut Self
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        I: Iterator<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(Requests<Req>, &ServicerContext) -> Result<I, Status> + Send + Sync + 'static,
    {
        self.add(
            method,
            MethodKind::StreamStream,
            handler::stream_stream(handler),
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
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Req, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryUnary,
            handler::unary_unary_async(handler),
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
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(Req, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::UnaryStream,
            handler::unary_stream_async(handler),
        )
    }

    /// Adds an async stream-unary method: the handler reads a [`RequestStream`].
    pub fn stream_unary_async<Req, Resp, F, Fut>(&mut self, method: &str, handler: F) -> &mut Self
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(RequestStream<Req>, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::StreamUnary,
            handler::stream_unary_async(handler),
        )
    }

    /// Adds an async stream-stream method.
    pub fn stream_stream_async<Req, Resp, S, F, Fut>(
        &mut self,
        method: &str,
        handler: F,
    ) -> &mut Self
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
        F: Fn(RequestStream<Req>, ServicerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Status>> + Send + 'static,
    {
        self.add(
            method,
            MethodKind::StreamStream,
            handler::stream_stream_async(handler),
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
            handler: fallback.handler.clone(),
            path: path.into(),
        }))
    }
}
