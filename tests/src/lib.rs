//! End-to-end test support for rustgrpc.
//!
//! - [`pb`]: the generated `rustgrpc.testing` messages, stubs and servicer
//!   traits (from `proto/testing.proto`).
//! - [`TestServicer`]: a servicer whose behaviour each request chooses
//!   (echo, sleep, fail with a code, stream N responses with an interval,
//!   send and echo metadata, panic), and which reports what it saw to an
//!   [`Events`] log tests wait on.
//! - [`TestServer`]: a real server on a free port, stopped when dropped.
//! - [`raw`]: bits for HTTP/2-level tests with the `h2` crate.
//! - [`frames`]: a raw HTTP/2 peer that writes any frame, for attack tests,
//!   and process gauges (RSS, threads, descriptors).
//! - [`fault_proxy`]: a TCP proxy that delays, refuses, blackholes or cuts.
//! - [`peers`]: the Python and buf peers of the health and reflection tests.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use grpc_core::{
    CallOptions, Channel, Code, Compression, Metadata, RequestStream, Requests, Server,
    ServerBuilder, ServicerContext, Status, StopHandle,
};

pub mod backends;
pub mod client_cases;
pub mod fault_proxy;
pub mod frames;
pub mod peers;
pub mod proxies;
pub mod web;

/// The encoded `FileDescriptorSet` of `proto/testing.proto` (imports included).
pub const TESTING_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/testing.fds"));

/// The generated `rustgrpc.testing` code.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/rustgrpc.testing.rs"));
}

pub use pb::{
    EchoRequest, EchoResponse, FailMode, MetadataEntry, TestServiceServicer, TestServiceStub,
    UnimplementedServiceStub,
};

/// The request metadata key naming the events a handler reports.
pub const TAG_KEY: &str = "test-tag";

/// Shorthand for a duration in milliseconds.
pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A request that only carries `message`.
pub fn echo(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        ..EchoRequest::default()
    }
}

/// A metadata entry for a request's `initial_metadata` / `trailing_metadata`.
pub fn entry(key: &str, value: impl AsRef<[u8]>) -> MetadataEntry {
    MetadataEntry {
        key: key.to_owned(),
        value: value.as_ref().to_vec(),
    }
}

/// Call options whose metadata names `tag`, so the handler reports events
/// under it.
pub fn tagged(tag: &str) -> CallOptions {
    CallOptions::new().metadata(tag_metadata(tag))
}

/// Metadata naming `tag` (extend it for more metadata).
pub fn tag_metadata(tag: &str) -> Metadata {
    Metadata::from_pairs([(TAG_KEY, tag)]).expect("valid tag metadata")
}

/// Asserts that `elapsed` lies in `min..=max`, with a useful message.
#[track_caller]
pub fn assert_between(what: &str, elapsed: Duration, min: Duration, max: Duration) {
    assert!(
        elapsed >= min && elapsed <= max,
        "{what}: took {elapsed:?}, expected between {min:?} and {max:?}"
    );
}

/// What a handler reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The handler started running.
    Started,
    /// The callback the handler registered with `ctx.add_callback` ran:
    /// the server considers the RPC over.
    Callback,
    /// The handler was waiting and found `ctx.is_active() == false`.
    SawInactive,
    /// A client-streaming handler received a request (detail: its message).
    Request,
    /// A client-streaming handler's request iterator yielded an error
    /// (detail: the code's name).
    RequestError,
}

/// One reported event.
#[derive(Clone, Debug)]
pub struct Event {
    /// The tag of the RPC (from the `test-tag` metadata; empty if none).
    pub tag: String,
    /// What happened.
    pub kind: EventKind,
    /// When.
    pub at: Instant,
    /// Extra information, depending on the kind.
    pub detail: String,
}

/// A log of handler events that tests can wait on.
#[derive(Clone, Default)]
pub struct Events {
    inner: Arc<(Mutex<Vec<Event>>, Condvar)>,
}

impl Events {
    fn lock(&self) -> MutexGuard<'_, Vec<Event>> {
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an event and wakes waiters.
    pub fn record(&self, tag: &str, kind: EventKind, detail: impl Into<String>) {
        self.lock().push(Event {
            tag: tag.to_owned(),
            kind,
            at: Instant::now(),
            detail: detail.into(),
        });
        self.inner.1.notify_all();
    }

    /// Waits up to `timeout` for the first event of `kind` under `tag`.
    pub fn wait_for(&self, tag: &str, kind: EventKind, timeout: Duration) -> Option<Event> {
        self.wait_for_count(tag, kind, 1, timeout)
    }

    /// Waits up to `timeout` until `count` events of `kind` under `tag` were
    /// recorded; returns the `count`-th.
    pub fn wait_for_count(
        &self,
        tag: &str,
        kind: EventKind,
        count: usize,
        timeout: Duration,
    ) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let mut events = self.lock();
        loop {
            if let Some(event) = events
                .iter()
                .filter(|e| e.tag == tag && e.kind == kind)
                .nth(count.saturating_sub(1))
            {
                return Some(event.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            events = self
                .inner
                .1
                .wait_timeout(events, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Like [`wait_for`](Self::wait_for), panicking when nothing comes.
    #[track_caller]
    pub fn expect(&self, tag: &str, kind: EventKind, timeout: Duration) -> Event {
        match self.wait_for(tag, kind, timeout) {
            Some(event) => event,
            None => panic!(
                "no {kind:?} event for {tag:?} within {timeout:?}; events: {:?}",
                self.all(tag)
            ),
        }
    }

    /// How many events of `kind` were recorded under `tag`.
    pub fn count(&self, tag: &str, kind: EventKind) -> usize {
        self.lock()
            .iter()
            .filter(|e| e.tag == tag && e.kind == kind)
            .count()
    }

    /// Every event recorded under `tag`, in order.
    pub fn all(&self, tag: &str) -> Vec<Event> {
        self.lock()
            .iter()
            .filter(|e| e.tag == tag)
            .cloned()
            .collect()
    }
}

/// Learns through `ctx.add_callback` when the RPC ends, so handlers can
/// sleep without missing it.
struct Watch {
    tag: String,
    ctx: ServicerContext,
    events: Events,
    ended: mpsc::Receiver<()>,
    seen_end: bool,
}

impl Watch {
    fn new(ctx: &ServicerContext, events: &Events) -> Watch {
        let tag = ctx
            .invocation_metadata()
            .get(TAG_KEY)
            .unwrap_or_default()
            .to_owned();
        events.record(&tag, EventKind::Started, ctx.method());
        let (tx, ended) = mpsc::channel();
        let callback_events = events.clone();
        let callback_tag = tag.clone();
        let registered = ctx.add_callback(move || {
            callback_events.record(&callback_tag, EventKind::Callback, "");
            let _ = tx.send(());
        });
        Watch {
            tag,
            ctx: ctx.clone(),
            events: events.clone(),
            ended,
            seen_end: !registered,
        }
    }

    /// Sleeps for `duration` or until the RPC ends; false when it ended.
    fn sleep(&mut self, duration: Duration) -> bool {
        if !self.seen_end {
            match self.ended.recv_timeout(duration) {
                Err(RecvTimeoutError::Timeout) => return true,
                Ok(()) | Err(RecvTimeoutError::Disconnected) => self.seen_end = true,
            }
        }
        if !self.ctx.is_active() {
            self.events.record(&self.tag, EventKind::SawInactive, "");
        }
        false
    }

    fn record(&self, kind: EventKind, detail: impl Into<String>) {
        self.events.record(&self.tag, kind, detail);
    }
}

fn to_metadata(entries: &[MetadataEntry]) -> Result<Metadata, Status> {
    Metadata::from_pairs(entries.iter().map(|e| (e.key.as_str(), e.value.as_slice())))
        .map_err(|error| Status::invalid_argument(format!("bad metadata in request: {error}")))
}

/// Everything the servicer saw, as a response (before any per-call fields).
fn describe(req: &EchoRequest, ctx: &ServicerContext) -> EchoResponse {
    let remaining = ctx.time_remaining();
    EchoResponse {
        message: req.message.clone(),
        payload: vec![b'r'; req.response_size as usize],
        index: 0,
        has_deadline: remaining.is_some(),
        time_remaining_ms: remaining.map_or(0, |d| d.as_millis() as u64),
        invocation_metadata: ctx
            .invocation_metadata()
            .iter()
            .map(|(k, v)| entry(k, v.as_bytes()))
            .collect(),
        peer: ctx.peer().to_owned(),
        request_count: 0,
        total_bytes: 0,
        protocol: ctx.protocol().name().to_owned(),
    }
}

/// Metadata, compression, sleep and panic, as the request asks.
fn prologue(req: &EchoRequest, ctx: &ServicerContext, watch: &mut Watch) -> Result<(), Status> {
    if !req.initial_metadata.is_empty() {
        ctx.send_initial_metadata(to_metadata(&req.initial_metadata)?)
            .map_err(|error| Status::internal(format!("send_initial_metadata: {error}")))?;
    }
    let mut trailing = to_metadata(&req.trailing_metadata)?;
    if req.echo_metadata {
        for (key, value) in ctx.invocation_metadata() {
            if key != "user-agent" {
                trailing
                    .append(key, value.as_bytes())
                    .map_err(|error| Status::internal(error.to_string()))?;
            }
        }
    }
    if !trailing.is_empty() {
        ctx.set_trailing_metadata(trailing);
    }
    if !req.response_compression.is_empty() {
        let compression = Compression::from_name(&req.response_compression)
            .ok_or_else(|| Status::invalid_argument("unknown response_compression"))?;
        ctx.set_compression(compression);
    }
    if req.sleep_ms > 0 && !watch.sleep(ms(req.sleep_ms.into())) {
        return Err(Status::cancelled("the RPC ended while the handler slept"));
    }
    if !req.panic_message.is_empty() {
        panic!("{}", req.panic_message);
    }
    Ok(())
}

/// The failure the request asks for, reported the way it asks.
fn failure(req: &EchoRequest, ctx: &ServicerContext) -> Result<(), Status> {
    if req.fail_code == 0 {
        return Ok(());
    }
    let code = Code::from_i32(req.fail_code);
    let status = Status::new(code, req.fail_message.clone())
        .with_binary_details(req.fail_binary_details.clone());
    match FailMode::try_from(req.fail_mode).unwrap_or(FailMode::ReturnError) {
        FailMode::ReturnError => Err(status),
        FailMode::Abort => Err(ctx.abort(code, req.fail_message.clone())),
        FailMode::AbortWithStatus => Err(ctx.abort_with_status(status)),
        FailMode::SetCode => {
            ctx.set_code(code);
            ctx.set_details(req.fail_message.clone());
            Ok(())
        }
    }
}

/// The servicer every test server runs; `UnimplementedCall` is left out on
/// purpose.
#[derive(Clone, Default)]
pub struct TestServicer {
    events: Events,
}

impl TestServicer {
    /// A servicer reporting to `events`.
    pub fn new(events: Events) -> TestServicer {
        TestServicer { events }
    }
}

impl TestServiceServicer for TestServicer {
    fn unary_call(&self, req: EchoRequest, ctx: &ServicerContext) -> Result<EchoResponse, Status> {
        let mut watch = Watch::new(ctx, &self.events);
        let response = describe(&req, ctx);
        prologue(&req, ctx, &mut watch)?;
        failure(&req, ctx)?;
        Ok(response)
    }

    fn streaming_output_call(
        &self,
        req: EchoRequest,
        ctx: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<EchoResponse, Status>> + Send + 'static, Status> {
        let mut watch = Watch::new(ctx, &self.events);
        let base = describe(&req, ctx);
        prologue(&req, ctx, &mut watch)?;
        let ctx = ctx.clone();
        let interval = ms(req.interval_ms.into());
        let mut index = 0;
        let mut done = false;
        Ok(std::iter::from_fn(move || {
            if done {
                return None;
            }
            if index == req.response_count {
                done = true;
                return failure(&req, &ctx).err().map(Err);
            }
            if index > 0 && !interval.is_zero() && !watch.sleep(interval) {
                done = true;
                return Some(Err(Status::cancelled("the RPC ended between responses")));
            }
            let mut response = base.clone();
            response.index = index;
            index += 1;
            Some(Ok(response))
        }))
    }

    fn streaming_input_call(
        &self,
        requests: Requests<EchoRequest>,
        ctx: &ServicerContext,
    ) -> Result<EchoResponse, Status> {
        let mut watch = Watch::new(ctx, &self.events);
        let mut summary = describe(&EchoRequest::default(), ctx);
        let mut messages = Vec::new();
        for item in requests {
            let req = match item {
                Ok(req) => req,
                Err(status) => {
                    watch.record(EventKind::RequestError, status.code().name());
                    return Err(status);
                }
            };
            watch.record(EventKind::Request, req.message.clone());
            summary.request_count += 1;
            summary.total_bytes += req.payload.len() as u64;
            messages.push(req.message.clone());
            prologue(&req, ctx, &mut watch)?;
            failure(&req, ctx)?;
        }
        summary.message = messages.join(",");
        Ok(summary)
    }

    fn full_duplex_call(
        &self,
        mut requests: Requests<EchoRequest>,
        ctx: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<EchoResponse, Status>> + Send + 'static, Status> {
        let mut watch = Watch::new(ctx, &self.events);
        let ctx = ctx.clone();
        let mut index = 0;
        let mut done = false;
        Ok(std::iter::from_fn(move || {
            if done {
                return None;
            }
            let req = match requests.next()? {
                Ok(req) => req,
                Err(status) => {
                    done = true;
                    watch.record(EventKind::RequestError, status.code().name());
                    return Some(Err(status));
                }
            };
            watch.record(EventKind::Request, req.message.clone());
            let mut response = describe(&req, &ctx);
            if let Err(status) = prologue(&req, &ctx, &mut watch).and_then(|()| failure(&req, &ctx))
            {
                done = true;
                return Some(Err(status));
            }
            response.index = index;
            index += 1;
            Some(Ok(response))
        }))
    }
}

/// A started server running [`TestServicer`]; dropping it stops the server
/// at once and waits for it to terminate.
pub struct TestServer {
    server: Server,
    port: u16,
    target: String,
    events: Events,
}

impl TestServer {
    /// A server with default options on `127.0.0.1:0`.
    pub fn start() -> TestServer {
        TestServer::start_with(Server::builder())
    }

    /// A server built by `builder` on `127.0.0.1:0`.
    pub fn start_with(builder: ServerBuilder) -> TestServer {
        TestServer::start_on(builder, "127.0.0.1:0").expect("bind 127.0.0.1:0")
    }

    /// A server built by `builder` on `address` (`127.0.0.1:0`, `[::1]:0`,
    /// `unix:/path`); fails when the address cannot be bound.
    pub fn start_on(builder: ServerBuilder, address: &str) -> Result<TestServer, grpc_core::Error> {
        let server = builder.build();
        let events = Events::default();
        pb::add_test_service_servicer_to_server(TestServicer::new(events.clone()), &server);
        let port = server.add_insecure_port(address)?;
        let target = if address.starts_with("unix:") {
            address.to_owned()
        } else {
            match server.local_addrs().first() {
                Some(addr) => addr.to_string(),
                None => format!("127.0.0.1:{port}"),
            }
        };
        server.start()?;
        Ok(TestServer {
            server,
            port,
            target,
            events,
        })
    }

    /// The server itself.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The bound port (0 for Unix sockets).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A target that reaches the server (`127.0.0.1:port`, `[::1]:port`,
    /// `unix:/path`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// What the servicer reported.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// A new channel to the server.
    pub fn channel(&self) -> Channel {
        grpc_core::insecure_channel(&self.target).expect("valid target")
    }

    /// A stub on a new channel to the server.
    pub fn stub(&self) -> TestServiceStub {
        TestServiceStub::new(self.channel())
    }

    /// Stops the server with `grace`.
    pub fn stop(&self, grace: Option<Duration>) -> StopHandle {
        self.server.stop(grace)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let stopped = self.server.stop(None).wait_timeout(Duration::from_secs(10));
        if !stopped && !std::thread::panicking() {
            panic!("the test server did not terminate within 10 s of stop(None)");
        }
    }
}

/// HTTP/2-level helpers for tests that talk to a server with a raw `h2`
/// client, or to a client with a raw `h2` server.
pub mod raw {
    use bytes::{BufMut, Bytes, BytesMut};
    use h2::RecvStream;
    use http::HeaderMap;

    /// A tokio runtime for raw HTTP/2 peers (the blocking rustgrpc API is
    /// used from the test thread, outside it).
    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    /// One length-prefixed gRPC message.
    pub fn frame_bytes(compressed: bool, payload: &[u8]) -> Bytes {
        let mut buf = BytesMut::with_capacity(5 + payload.len());
        buf.put_u8(u8::from(compressed));
        buf.put_u32(payload.len() as u32);
        buf.extend_from_slice(payload);
        buf.freeze()
    }

    /// One protobuf message, framed and uncompressed.
    pub fn frame(message: &impl prost::Message) -> Bytes {
        frame_bytes(false, &message.encode_to_vec())
    }

    /// Splits a body into `(compressed, payload)` messages; panics on a
    /// truncated body.
    pub fn split_frames(mut data: &[u8]) -> Vec<(bool, Vec<u8>)> {
        let mut messages = Vec::new();
        while !data.is_empty() {
            assert!(data.len() >= 5, "truncated message prefix");
            let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
            assert!(data.len() >= 5 + len, "truncated message");
            messages.push((data[0] == 1, data[5..5 + len].to_vec()));
            data = &data[5 + len..];
        }
        messages
    }

    /// Reads a whole body and its trailers, releasing flow control as it goes.
    pub async fn read_body(
        mut body: RecvStream,
    ) -> Result<(Vec<u8>, Option<HeaderMap>), h2::Error> {
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await?;
        Ok((data, trailers))
    }

    /// Gzip-compresses `data`.
    pub fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip")
    }

    /// Decompresses gzip `data`.
    pub fn gunzip(data: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    /// A header's value as text ("" when absent).
    pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// The async face: an async servicer with the same behaviours, and small
// `Stream` helpers (the crate has no futures-util).
// ---------------------------------------------------------------------------

pub use pb::{AsyncTestServiceServicer, add_async_test_service_servicer_to_server};

/// The next item of a stream (`StreamExt::next` without futures-util).
pub async fn next<S: grpc_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

/// Every item of a stream, in order.
pub async fn collect<S: grpc_core::Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut items = Vec::new();
    while let Some(item) = next(&mut stream).await {
        items.push(item);
    }
    items
}

/// The items of an iterator as a stream that is always ready.
pub struct IterStream<I>(I);

/// `items` as a [`grpc_core::Stream`] (`futures::stream::iter`).
pub fn iter_stream<I: IntoIterator>(items: I) -> IterStream<I::IntoIter> {
    IterStream(items.into_iter())
}

impl<I: Iterator + Unpin> grpc_core::Stream for IterStream<I> {
    type Item = I::Item;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.get_mut().0.next())
    }
}

/// What a tokio channel receives, as a stream: it ends when every sender
/// is gone, and waits (pending) while a sender lives.
pub struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

/// A channel whose receiving end is a stream (an async request stream the
/// test feeds by hand).
pub fn stream_channel<T>(capacity: usize) -> (tokio::sync::mpsc::Sender<T>, ReceiverStream<T>) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    (tx, ReceiverStream(rx))
}

impl<T> grpc_core::Stream for ReceiverStream<T> {
    type Item = T;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.get_mut().0.poll_recv(cx)
    }
}

type StepFuture<T, S> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<(T, S)>> + Send + 'static>>;

/// A stream produced by an async step function (`futures::stream::unfold`):
/// each step takes the state and yields an item and the next state, or
/// `None` to end.
pub struct Unfold<T, S, F> {
    state: Option<S>,
    step: F,
    pending: Option<StepFuture<T, S>>,
}

/// A stream from `init` and the async `step` (see [`Unfold`]).
pub fn unfold<T, S, F, Fut>(init: S, step: F) -> Unfold<T, S, impl FnMut(S) -> StepFuture<T, S>>
where
    F: FnMut(S) -> Fut,
    Fut: std::future::Future<Output = Option<(T, S)>> + Send + 'static,
{
    let mut step = step;
    Unfold {
        state: Some(init),
        step: move |state| Box::pin(step(state)) as StepFuture<T, S>,
        pending: None,
    }
}

impl<T, S: Unpin, F: FnMut(S) -> StepFuture<T, S> + Unpin> grpc_core::Stream for Unfold<T, S, F> {
    type Item = T;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        let this = self.get_mut();
        if this.pending.is_none() {
            let Some(state) = this.state.take() else {
                return std::task::Poll::Ready(None);
            };
            this.pending = Some((this.step)(state));
        }
        let Some(pending) = this.pending.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        match pending.as_mut().poll(cx) {
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(output) => {
                this.pending = None;
                std::task::Poll::Ready(output.map(|(item, state)| {
                    this.state = Some(state);
                    item
                }))
            }
        }
    }
}

/// [`Watch`] for async handlers: learns through `ctx.add_callback` when the
/// RPC ends, so async sleeps end early.
struct AsyncWatch {
    tag: String,
    ctx: ServicerContext,
    events: Events,
    ended: tokio::sync::watch::Receiver<bool>,
}

impl AsyncWatch {
    fn new(ctx: &ServicerContext, events: &Events) -> AsyncWatch {
        let tag = ctx
            .invocation_metadata()
            .get(TAG_KEY)
            .unwrap_or_default()
            .to_owned();
        events.record(&tag, EventKind::Started, ctx.method());
        let (tx, ended) = tokio::sync::watch::channel(false);
        let callback_events = events.clone();
        let callback_tag = tag.clone();
        // When the RPC is already over the callback is dropped unrun, and
        // with it the sender: waits then end at once.
        ctx.add_callback(move || {
            callback_events.record(&callback_tag, EventKind::Callback, "");
            let _ = tx.send(true);
        });
        AsyncWatch {
            tag,
            ctx: ctx.clone(),
            events: events.clone(),
            ended,
        }
    }

    /// Sleeps for `duration` or until the RPC ends; false when it ended.
    async fn sleep(&mut self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => return true,
            _ = self.ended.wait_for(|ended| *ended) => {}
        }
        if !self.ctx.is_active() {
            self.events.record(&self.tag, EventKind::SawInactive, "");
        }
        false
    }

    fn record(&self, kind: EventKind, detail: impl Into<String>) {
        self.events.record(&self.tag, kind, detail);
    }
}

/// [`prologue`] for async handlers: the sleep is awaited.
async fn prologue_async(
    req: &EchoRequest,
    ctx: &ServicerContext,
    watch: &mut AsyncWatch,
) -> Result<(), Status> {
    if !req.initial_metadata.is_empty() {
        ctx.send_initial_metadata(to_metadata(&req.initial_metadata)?)
            .map_err(|error| Status::internal(format!("send_initial_metadata: {error}")))?;
    }
    let mut trailing = to_metadata(&req.trailing_metadata)?;
    if req.echo_metadata {
        for (key, value) in ctx.invocation_metadata() {
            if key != "user-agent" {
                trailing
                    .append(key, value.as_bytes())
                    .map_err(|error| Status::internal(error.to_string()))?;
            }
        }
    }
    if !trailing.is_empty() {
        ctx.set_trailing_metadata(trailing);
    }
    if !req.response_compression.is_empty() {
        let compression = Compression::from_name(&req.response_compression)
            .ok_or_else(|| Status::invalid_argument("unknown response_compression"))?;
        ctx.set_compression(compression);
    }
    if req.sleep_ms > 0 && !watch.sleep(ms(req.sleep_ms.into())).await {
        return Err(Status::cancelled("the RPC ended while the handler slept"));
    }
    if !req.panic_message.is_empty() {
        panic!("{}", req.panic_message);
    }
    Ok(())
}

/// [`TestServicer`]'s behaviours as an async servicer
/// (`AsyncTestServiceServicer`, written with `async fn`): the same requests
/// do the same things and report the same events. `UnimplementedCall` is
/// left out on purpose.
#[derive(Clone, Default)]
pub struct AsyncTestServicer {
    events: Events,
}

impl AsyncTestServicer {
    /// A servicer reporting to `events`.
    pub fn new(events: Events) -> AsyncTestServicer {
        AsyncTestServicer { events }
    }
}

/// The state of a server-streaming async response.
struct OutputState {
    req: EchoRequest,
    ctx: ServicerContext,
    watch: AsyncWatch,
    base: EchoResponse,
    index: u32,
    done: bool,
}

/// The state of a bidi async response.
struct DuplexState {
    requests: RequestStream<EchoRequest>,
    ctx: ServicerContext,
    watch: AsyncWatch,
    index: u32,
    done: bool,
}

impl AsyncTestServiceServicer for AsyncTestServicer {
    async fn unary_call(
        &self,
        req: EchoRequest,
        ctx: &ServicerContext,
    ) -> Result<EchoResponse, Status> {
        let mut watch = AsyncWatch::new(ctx, &self.events);
        let response = describe(&req, ctx);
        prologue_async(&req, ctx, &mut watch).await?;
        failure(&req, ctx)?;
        Ok(response)
    }

    async fn streaming_output_call(
        &self,
        req: EchoRequest,
        ctx: &ServicerContext,
    ) -> Result<impl grpc_core::Stream<Item = Result<EchoResponse, Status>> + Send + 'static, Status>
    {
        let mut watch = AsyncWatch::new(ctx, &self.events);
        let base = describe(&req, ctx);
        prologue_async(&req, ctx, &mut watch).await?;
        let state = OutputState {
            req,
            ctx: ctx.clone(),
            watch,
            base,
            index: 0,
            done: false,
        };
        Ok(unfold(state, |mut state: OutputState| async move {
            if state.done {
                return None;
            }
            if state.index == state.req.response_count {
                state.done = true;
                let error = failure(&state.req, &state.ctx).err()?;
                return Some((Err(error), state));
            }
            let interval = ms(state.req.interval_ms.into());
            if state.index > 0 && !interval.is_zero() && !state.watch.sleep(interval).await {
                state.done = true;
                let error = Status::cancelled("the RPC ended between responses");
                return Some((Err(error), state));
            }
            let mut response = state.base.clone();
            response.index = state.index;
            state.index += 1;
            Some((Ok(response), state))
        }))
    }

    async fn streaming_input_call(
        &self,
        mut requests: RequestStream<EchoRequest>,
        ctx: &ServicerContext,
    ) -> Result<EchoResponse, Status> {
        let mut watch = AsyncWatch::new(ctx, &self.events);
        let mut summary = describe(&EchoRequest::default(), ctx);
        let mut messages = Vec::new();
        while let Some(item) = next(&mut requests).await {
            let req = match item {
                Ok(req) => req,
                Err(status) => {
                    watch.record(EventKind::RequestError, status.code().name());
                    return Err(status);
                }
            };
            watch.record(EventKind::Request, req.message.clone());
            summary.request_count += 1;
            summary.total_bytes += req.payload.len() as u64;
            messages.push(req.message.clone());
            prologue_async(&req, ctx, &mut watch).await?;
            failure(&req, ctx)?;
        }
        summary.message = messages.join(",");
        Ok(summary)
    }

    async fn full_duplex_call(
        &self,
        requests: RequestStream<EchoRequest>,
        ctx: &ServicerContext,
    ) -> Result<impl grpc_core::Stream<Item = Result<EchoResponse, Status>> + Send + 'static, Status>
    {
        let state = DuplexState {
            requests,
            ctx: ctx.clone(),
            watch: AsyncWatch::new(ctx, &self.events),
            index: 0,
            done: false,
        };
        Ok(unfold(state, |mut state: DuplexState| async move {
            if state.done {
                return None;
            }
            let req = match next(&mut state.requests).await? {
                Ok(req) => req,
                Err(status) => {
                    state.done = true;
                    state
                        .watch
                        .record(EventKind::RequestError, status.code().name());
                    return Some((Err(status), state));
                }
            };
            state.watch.record(EventKind::Request, req.message.clone());
            let mut response = describe(&req, &state.ctx);
            let outcome = match prologue_async(&req, &state.ctx, &mut state.watch).await {
                Ok(()) => failure(&req, &state.ctx),
                Err(status) => Err(status),
            };
            if let Err(status) = outcome {
                state.done = true;
                return Some((Err(status), state));
            }
            response.index = state.index;
            state.index += 1;
            Some((Ok(response), state))
        }))
    }
}

/// Which servicer a test server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServicerFace {
    /// [`TestServicer`] on the worker pool.
    Blocking,
    /// [`AsyncTestServicer`] as tasks.
    Async,
}

impl TestServer {
    /// A server with default options on `127.0.0.1:0` running
    /// [`AsyncTestServicer`].
    pub fn start_async() -> TestServer {
        TestServer::start_face(Server::builder(), ServicerFace::Async)
    }

    /// A server built by `builder` on `127.0.0.1:0` running the servicer of
    /// `face`. Built inside a tokio runtime, the server runs on it.
    pub fn start_face(builder: ServerBuilder, face: ServicerFace) -> TestServer {
        let server = builder.build();
        let events = Events::default();
        match face {
            ServicerFace::Blocking => {
                pb::add_test_service_servicer_to_server(TestServicer::new(events.clone()), &server)
            }
            ServicerFace::Async => pb::add_async_test_service_servicer_to_server(
                AsyncTestServicer::new(events.clone()),
                &server,
            ),
        }
        let port = server
            .add_insecure_port("127.0.0.1:0")
            .expect("bind 127.0.0.1:0");
        let target = match server.local_addrs().first() {
            Some(addr) => addr.to_string(),
            None => format!("127.0.0.1:{port}"),
        };
        server.start().expect("start the server");
        TestServer {
            server,
            port,
            target,
            events,
        }
    }
}
