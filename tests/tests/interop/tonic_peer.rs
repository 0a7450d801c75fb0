//! The tonic peer: an interop server and the client cases on tonic 0.14,
//! in-process on a tokio runtime, over code tonic-prost-build generated
//! from the same `proto/grpc/testing` files.
//!
//! Where tonic has no API for a case's demand (the compressed flag of a
//! received message, per-message compression on streams, trailing metadata
//! on a successful response, a status for a call cancelled by dropping it),
//! the [`tap`](super::tap) supplies it or the case says how tonic expresses
//! it; `docs/interop.md` lists these.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderMap;
use rustgrpc_examples::interop::TestCase;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic::server::NamedService;
use tonic::{Code, Request, Response, Status, Streaming};
use tower::Service;

use super::tap::{CompressionPlan, MessageLog, Tap, TapBody};

/// tonic's code for `grpc.testing`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/tonic/grpc.testing.rs"));
}

use pb::test_service_client::TestServiceClient;
use pb::test_service_server::{TestService, TestServiceServer};
use pb::unimplemented_service_client::UnimplementedServiceClient;
use pb::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};

const ECHO_INITIAL_KEY: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

type ResponseStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<StreamingOutputCallResponse, Status>> + Send>>;

fn zeros(size: usize) -> Payload {
    Payload {
        r#type: 0,
        body: vec![0; size],
    }
}

fn size_of(size: i32) -> Result<usize, Status> {
    usize::try_from(size).map_err(|_| Status::invalid_argument("negative size"))
}

fn echo_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(status) if status.code != 0 => Err(Status::new(
            Code::from_i32(status.code),
            status.message.clone(),
        )),
        _ => Ok(()),
    }
}

fn check_expect_compressed(
    expect: Option<BoolValue>,
    compressed: Option<bool>,
) -> Result<(), Status> {
    let Some(expect) = expect else {
        return Ok(());
    };
    match (expect.value, compressed.unwrap_or(false)) {
        (true, false) => Err(Status::invalid_argument(
            "Expected compressed request, but the request was not compressed",
        )),
        (false, true) => Err(Status::invalid_argument(
            "Expected an uncompressed request, but the request was compressed",
        )),
        _ => Ok(()),
    }
}

fn wants_compression(params: &ResponseParameters) -> bool {
    params.compressed.as_ref().is_some_and(|c| c.value)
}

/// Sends the responses `params` ask for, pacing each, recording in `plan`
/// which ones go out compressed.
async fn send_streamed(
    params: Vec<ResponseParameters>,
    plan: &CompressionPlan,
    tx: &mpsc::Sender<Result<StreamingOutputCallResponse, Status>>,
) -> bool {
    for params in params {
        if params.interval_us > 0 {
            tokio::time::sleep(Duration::from_micros(params.interval_us as u64)).await;
        }
        let response = size_of(params.size).map(|size| StreamingOutputCallResponse {
            payload: Some(zeros(size)),
        });
        plan.push(wants_compression(&params));
        if tx.send(response).await.is_err() {
            return false;
        }
    }
    true
}

fn streamed_response(
    rx: mpsc::Receiver<Result<StreamingOutputCallResponse, Status>>,
    plan: CompressionPlan,
) -> Response<ResponseStream> {
    let mut response = Response::new(Box::pin(ReceiverStream::new(rx)) as ResponseStream);
    response.extensions_mut().insert(plan);
    response
}

/// The tonic interop servicer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TonicInterop;

#[tonic::async_trait]
impl TestService for TonicInterop {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let log = request.extensions().get::<MessageLog>().cloned();
        let request = request.into_inner();
        check_expect_compressed(request.expect_compressed, log.and_then(|log| log.get(0)))?;
        echo_status(request.response_status.as_ref())?;
        let mut response = Response::new(SimpleResponse {
            payload: Some(zeros(size_of(request.response_size)?)),
            ..SimpleResponse::default()
        });
        if request.response_compressed.is_some_and(|c| !c.value) {
            response.disable_compression();
        }
        Ok(response)
    }

    async fn cacheable_unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        self.unary_call(request).await
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<ResponseStream>, Status> {
        let request = request.into_inner();
        let plan = CompressionPlan::default();
        let (tx, rx) = mpsc::channel(4);
        let task_plan = plan.clone();
        tokio::spawn(async move {
            if send_streamed(request.response_parameters, &task_plan, &tx).await
                && let Err(status) = echo_status(request.response_status.as_ref())
            {
                let _ = tx.send(Err(status)).await;
            }
        });
        Ok(streamed_response(rx, plan))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let log = request.extensions().get::<MessageLog>().cloned();
        let mut requests = request.into_inner();
        let mut total = 0;
        let mut index = 0;
        while let Some(request) = requests.message().await? {
            let flag = log.as_ref().and_then(|log| log.get(index));
            check_expect_compressed(request.expect_compressed, flag)?;
            total += request.payload.map_or(0, |payload| payload.body.len());
            index += 1;
        }
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size: total as i32,
        }))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let mut requests = request.into_inner();
        let plan = CompressionPlan::default();
        let (tx, rx) = mpsc::channel(4);
        let task_plan = plan.clone();
        tokio::spawn(async move {
            loop {
                let request = match requests.message().await {
                    Ok(Some(request)) => request,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                if let Err(status) = echo_status(request.response_status.as_ref()) {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
                if !send_streamed(request.response_parameters, &task_plan, &tx).await {
                    return;
                }
            }
        });
        Ok(streamed_response(rx, plan))
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let mut requests = request.into_inner();
        let mut params = Vec::new();
        while let Some(request) = requests.message().await? {
            echo_status(request.response_status.as_ref())?;
            params.extend(request.response_parameters);
        }
        let plan = CompressionPlan::default();
        let (tx, rx) = mpsc::channel(4);
        let task_plan = plan.clone();
        tokio::spawn(async move {
            send_streamed(params, &task_plan, &tx).await;
        });
        Ok(streamed_response(rx, plan))
    }

    // `unimplemented_call` keeps the generated default: UNIMPLEMENTED.
}

/// The tonic service behind the tap: requests are tapped (their flags go
/// into a [`MessageLog`] extension the handlers read), the echoed metadata
/// is added, and responses follow the handler's [`CompressionPlan`].
#[derive(Clone, Debug)]
pub(crate) struct Tapped<S>(pub S);

impl<S: NamedService> NamedService for Tapped<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<tonic::body::Body>> for Tapped<S>
where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let echo_initial = request.headers().get(ECHO_INITIAL_KEY).cloned();
        let echo_trailing = request.headers().get(ECHO_TRAILING_KEY).cloned();
        let log = MessageLog::default();
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(log.clone());
        let tap = Tap {
            log: Some(log),
            ..Tap::default()
        };
        let request =
            http::Request::from_parts(parts, tonic::body::Body::new(TapBody::new(body, tap)));
        let future = self.0.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(value) = echo_initial {
                response.headers_mut().insert(ECHO_INITIAL_KEY, value);
            }
            let plan = response.extensions().get::<CompressionPlan>().cloned();
            let trailers = echo_trailing.map(|value| {
                let mut trailers = HeaderMap::new();
                trailers.insert(ECHO_TRAILING_KEY, value);
                trailers
            });
            if plan.is_some() || trailers.is_some() {
                let tap = Tap {
                    log: None,
                    plan,
                    trailers,
                };
                response = response.map(|body| tonic::body::Body::new(TapBody::new(body, tap)));
            }
            Ok(response)
        })
    }
}

/// A tonic interop server on a free port, stopped when dropped.
pub(crate) struct TonicServer {
    port: u16,
    shutdown: Option<oneshot::Sender<()>>,
}

/// PEM material for tonic's rustls TLS (mutual: both sides present and
/// verify certificates from `ca`).
pub(crate) struct TonicTls {
    pub(crate) ca: String,
    pub(crate) cert: String,
    pub(crate) key: String,
    /// The name the server's certificate carries.
    pub(crate) server_name: String,
}

impl TonicServer {
    /// Starts the server on `runtime`.
    pub(crate) fn start(runtime: &tokio::runtime::Runtime) -> TonicServer {
        TonicServer::start_with(runtime, None)
    }

    /// Starts the server on `runtime`, over mutual TLS with `tls`.
    pub(crate) fn start_with(
        runtime: &tokio::runtime::Runtime,
        tls: Option<&TonicTls>,
    ) -> TonicServer {
        let incoming = runtime
            .block_on(async {
                tonic::transport::server::TcpIncoming::bind(([127, 0, 0, 1], 0).into())
            })
            .expect("bind a port for the tonic server")
            .with_nodelay(Some(true));
        let port = incoming.local_addr().expect("local address").port();
        let service = TestServiceServer::new(TonicInterop)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Deflate)
            .send_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Deflate);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            let config = tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(&tls.cert, &tls.key))
                .client_ca_root(tonic::transport::Certificate::from_pem(&tls.ca));
            builder = builder.tls_config(config).expect("tonic TLS config");
        }
        runtime.spawn(
            builder
                .add_service(Tapped(service))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        TonicServer {
            port,
            shutdown: Some(shutdown),
        }
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for TonicServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// What a tonic client call carries to the client-side tap.
#[derive(Clone, Debug, Default)]
struct ClientTap {
    /// Which request messages go out compressed.
    send_plan: Option<CompressionPlan>,
    /// The compressed flags of the response messages.
    received: MessageLog,
}

/// A tonic channel with the tap on calls that ask for it.
#[derive(Clone, Debug)]
pub(crate) struct TapChannel(tonic::transport::Channel);

impl Service<http::Request<tonic::body::Body>> for TapChannel {
    type Response = http::Response<tonic::body::Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let Some(tap) = request.extensions().get::<ClientTap>().cloned() else {
            return Box::pin(self.0.call(request));
        };
        let request = request.map(|body| {
            let send = Tap {
                plan: tap.send_plan.clone(),
                ..Tap::default()
            };
            tonic::body::Body::new(TapBody::new(body, send))
        });
        let future = self.0.call(request);
        Box::pin(async move {
            let response = future.await?;
            let receive = Tap {
                log: Some(tap.received),
                ..Tap::default()
            };
            Ok(response.map(|body| tonic::body::Body::new(TapBody::new(body, receive))))
        })
    }
}

/// Connects a tonic channel to `127.0.0.1:port`.
pub(crate) async fn connect(port: u16) -> Result<TapChannel, String> {
    connect_with(port, None).await
}

/// Connects a tonic channel to `127.0.0.1:port`, over mutual TLS with `tls`.
pub(crate) async fn connect_with(port: u16, tls: Option<&TonicTls>) -> Result<TapChannel, String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint =
        tonic::transport::Endpoint::from_shared(format!("{scheme}://127.0.0.1:{port}"))
            .map_err(|error| error.to_string())?;
    if let Some(tls) = tls {
        let config = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&tls.ca))
            .identity(tonic::transport::Identity::from_pem(&tls.cert, &tls.key))
            .domain_name(&tls.server_name);
        endpoint = endpoint
            .tls_config(config)
            .map_err(|error| format!("tonic TLS config: {error}"))?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| format!("tonic connect: {error}"))?;
    Ok(TapChannel(channel))
}

fn client(channel: &TapChannel) -> TestServiceClient<TapChannel> {
    TestServiceClient::new(channel.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Deflate)
}

fn request<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

fn failed(what: &str) -> impl Fn(Status) -> String + '_ {
    move |status| format!("{what} failed: {:?} {:?}", status.code(), status.message())
}

fn check_payload(what: &str, payload: Option<&Payload>, size: usize) -> Result<(), String> {
    let body = payload.map_or(&[][..], |payload| &payload.body[..]);
    check(body.len() == size, || {
        format!("{what}: payload of {} bytes, want {size}", body.len())
    })?;
    check(body.iter().all(|&b| b == 0), || {
        format!("{what}: payload not all zeros")
    })
}

fn expect_code<T>(outcome: Result<T, Status>, code: Code, what: &str) -> Result<Status, String> {
    match outcome {
        Ok(_) => Err(format!("{what} succeeded; want {code:?}")),
        Err(status) if status.code() == code => Ok(status),
        Err(status) => Err(format!(
            "{what} ended with {:?} {:?}; want {code:?}",
            status.code(),
            status.message()
        )),
    }
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314_159,
        payload: Some(zeros(271_828)),
        ..SimpleRequest::default()
    }
}

fn parameters(size: i32, compressed: Option<bool>) -> ResponseParameters {
    ResponseParameters {
        size,
        interval_us: 0,
        compressed: compressed.map(|value| BoolValue { value }),
    }
}

async fn collect(
    mut stream: Streaming<StreamingOutputCallResponse>,
) -> Result<Vec<StreamingOutputCallResponse>, Status> {
    let mut responses = Vec::new();
    while let Some(response) = stream.message().await? {
        responses.push(response);
    }
    Ok(responses)
}

fn check_streamed(
    responses: &[StreamingOutputCallResponse],
    sizes: &[usize],
) -> Result<(), String> {
    check(responses.len() == sizes.len(), || {
        format!("{} responses, want {}", responses.len(), sizes.len())
    })?;
    for (index, (response, &size)) in responses.iter().zip(sizes).enumerate() {
        check_payload(
            &format!("response {index}"),
            response.payload.as_ref(),
            size,
        )?;
    }
    Ok(())
}

/// Runs one case with the tonic client against `127.0.0.1:port`.
pub(crate) async fn run_case(channel: &TapChannel, case: TestCase) -> Result<(), String> {
    let mut stub = client(channel);
    match case {
        TestCase::EmptyUnary => {
            stub.empty_call(request(Empty {}))
                .await
                .map_err(failed("EmptyCall"))?;
            Ok(())
        }
        TestCase::LargeUnary => {
            let response = stub
                .unary_call(request(large_request()))
                .await
                .map_err(failed("UnaryCall"))?
                .into_inner();
            check_payload("response", response.payload.as_ref(), 314_159)
        }
        TestCase::ClientCompressedUnary => {
            let with_expect = |value| SimpleRequest {
                expect_compressed: Some(BoolValue { value }),
                ..large_request()
            };
            let probe = stub.unary_call(request(with_expect(true))).await;
            expect_code(probe, Code::InvalidArgument, "the probe")?;
            let response = client(channel)
                .send_compressed(CompressionEncoding::Gzip)
                .unary_call(request(with_expect(true)))
                .await
                .map_err(failed("the compressed UnaryCall"))?
                .into_inner();
            check_payload("compressed call", response.payload.as_ref(), 314_159)?;
            let response = stub
                .unary_call(request(with_expect(false)))
                .await
                .map_err(failed("the uncompressed UnaryCall"))?
                .into_inner();
            check_payload("uncompressed call", response.payload.as_ref(), 314_159)
        }
        TestCase::ServerCompressedUnary => {
            for compressed in [true, false] {
                let tap = ClientTap::default();
                let mut call = request(SimpleRequest {
                    response_compressed: Some(BoolValue { value: compressed }),
                    ..large_request()
                });
                call.extensions_mut().insert(tap.clone());
                let response = stub
                    .unary_call(call)
                    .await
                    .map_err(failed("UnaryCall"))?
                    .into_inner();
                check_payload("response", response.payload.as_ref(), 314_159)?;
                check(tap.received.flags() == [compressed], || {
                    format!(
                        "response_compressed {compressed}: flags on the wire {:?}",
                        tap.received.flags()
                    )
                })?;
            }
            Ok(())
        }
        TestCase::ClientStreaming => {
            let requests: Vec<_> = [27_182, 8, 1_828, 45_904]
                .into_iter()
                .map(|size| StreamingInputCallRequest {
                    payload: Some(zeros(size)),
                    expect_compressed: None,
                })
                .collect();
            let response = stub
                .streaming_input_call(request(tokio_stream::iter(requests)))
                .await
                .map_err(failed("StreamingInputCall"))?
                .into_inner();
            check(response.aggregated_payload_size == 74_922, || {
                format!(
                    "aggregated_payload_size {}",
                    response.aggregated_payload_size
                )
            })
        }
        TestCase::ClientCompressedStreaming => {
            let message = |value, size| StreamingInputCallRequest {
                payload: Some(zeros(size)),
                expect_compressed: Some(BoolValue { value }),
            };
            let probe = stub
                .streaming_input_call(request(tokio_stream::iter([message(true, 27_182)])))
                .await;
            expect_code(probe, Code::InvalidArgument, "the probe")?;
            // tonic compresses every message of a compressing call; the tap
            // sends the second one plain.
            let mut call = request(tokio_stream::iter([
                message(true, 27_182),
                message(false, 45_904),
            ]));
            call.extensions_mut().insert(ClientTap {
                send_plan: Some(CompressionPlan::new([true, false])),
                ..ClientTap::default()
            });
            let response = client(channel)
                .send_compressed(CompressionEncoding::Deflate)
                .streaming_input_call(call)
                .await
                .map_err(failed("StreamingInputCall"))?
                .into_inner();
            check(response.aggregated_payload_size == 73_086, || {
                format!(
                    "aggregated_payload_size {}",
                    response.aggregated_payload_size
                )
            })
        }
        TestCase::ServerStreaming => {
            let sizes = [31_415, 9, 2_653, 58_979];
            let call = request(StreamingOutputCallRequest {
                response_parameters: sizes.iter().map(|&size| parameters(size, None)).collect(),
                ..StreamingOutputCallRequest::default()
            });
            let stream = stub
                .streaming_output_call(call)
                .await
                .map_err(failed("StreamingOutputCall"))?
                .into_inner();
            let responses = collect(stream)
                .await
                .map_err(failed("StreamingOutputCall"))?;
            check_streamed(&responses, &[31_415, 9, 2_653, 58_979])
        }
        TestCase::ServerCompressedStreaming => {
            let tap = ClientTap::default();
            let mut call = request(StreamingOutputCallRequest {
                response_parameters: vec![
                    parameters(31_415, Some(true)),
                    parameters(92_653, Some(false)),
                ],
                ..StreamingOutputCallRequest::default()
            });
            call.extensions_mut().insert(tap.clone());
            let stream = stub
                .streaming_output_call(call)
                .await
                .map_err(failed("StreamingOutputCall"))?
                .into_inner();
            let responses = collect(stream)
                .await
                .map_err(failed("StreamingOutputCall"))?;
            check_streamed(&responses, &[31_415, 92_653])?;
            check(tap.received.flags() == [true, false], || {
                format!(
                    "compressed flags on the wire {:?}, want [true, false]",
                    tap.received.flags()
                )
            })
        }
        TestCase::PingPong => {
            let ping = |response_size, payload_size| StreamingOutputCallRequest {
                response_parameters: vec![parameters(response_size, None)],
                payload: Some(zeros(payload_size)),
                ..StreamingOutputCallRequest::default()
            };
            let rounds = [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)];
            // tonic's call resolves once the response headers arrive, and a
            // server may hold them back until its first response (ours and
            // grpcio's do): the first request goes into the stream before
            // the call is awaited, as tonic's own interop client does.
            let (tx, rx) = mpsc::channel(1);
            tx.send(ping(rounds[0].0, rounds[0].1))
                .await
                .map_err(|_| "the request stream closed early".to_owned())?;
            let mut stream = stub
                .full_duplex_call(request(ReceiverStream::new(rx)))
                .await
                .map_err(failed("FullDuplexCall"))?
                .into_inner();
            for (round, (response_size, payload_size)) in rounds.into_iter().enumerate() {
                if round > 0 {
                    tx.send(ping(response_size, payload_size))
                        .await
                        .map_err(|_| "the request stream closed early".to_owned())?;
                }
                let response = stream
                    .message()
                    .await
                    .map_err(failed("FullDuplexCall"))?
                    .ok_or("the response stream ended early")?;
                check_streamed(&[response], &[response_size as usize])?;
            }
            drop(tx);
            let rest = stream.message().await.map_err(failed("FullDuplexCall"))?;
            check(rest.is_none(), || "a fifth response arrived".to_owned())
        }
        TestCase::EmptyStream => {
            let stream = stub
                .full_duplex_call(request(tokio_stream::empty()))
                .await
                .map_err(failed("FullDuplexCall"))?
                .into_inner();
            let responses = collect(stream).await.map_err(failed("FullDuplexCall"))?;
            check(responses.is_empty(), || {
                format!("{} responses", responses.len())
            })
        }
        TestCase::CustomMetadata => {
            const INITIAL: &str = "test_initial_metadata_value";
            const TRAILING: &[u8] = &[0xab, 0xab, 0xab];
            fn with_metadata<T>(message: T) -> Request<T> {
                let mut call = request(message);
                call.metadata_mut()
                    .insert(ECHO_INITIAL_KEY, MetadataValue::from_static(INITIAL));
                call.metadata_mut()
                    .insert_bin(ECHO_TRAILING_KEY, MetadataValue::from_bytes(TRAILING));
                call
            }
            // tonic merges a unary response's trailers into its metadata.
            let response = stub
                .unary_call(with_metadata(large_request()))
                .await
                .map_err(failed("UnaryCall"))?;
            let metadata = response.metadata();
            check(
                metadata.get(ECHO_INITIAL_KEY).is_some_and(|v| v == INITIAL),
                || format!("UnaryCall: metadata {metadata:?}"),
            )?;
            check(
                metadata
                    .get_bin(ECHO_TRAILING_KEY)
                    .and_then(|v| v.to_bytes().ok())
                    .is_some_and(|v| v == TRAILING),
                || format!("UnaryCall: metadata {metadata:?}"),
            )?;
            check_payload("UnaryCall", response.get_ref().payload.as_ref(), 314_159)?;

            let call = with_metadata(tokio_stream::iter([StreamingOutputCallRequest {
                response_parameters: vec![parameters(314_159, None)],
                payload: Some(zeros(271_828)),
                ..StreamingOutputCallRequest::default()
            }]));
            let response = stub
                .full_duplex_call(call)
                .await
                .map_err(failed("FullDuplexCall"))?;
            let initial = response.metadata().clone();
            let mut stream = response.into_inner();
            let mut responses = Vec::new();
            while let Some(message) = stream.message().await.map_err(failed("FullDuplexCall"))? {
                responses.push(message);
            }
            check_streamed(&responses, &[314_159])?;
            let trailing = stream
                .trailers()
                .await
                .map_err(failed("FullDuplexCall trailers"))?
                .unwrap_or_default();
            check(
                initial.get(ECHO_INITIAL_KEY).is_some_and(|v| v == INITIAL),
                || format!("FullDuplexCall: initial metadata {initial:?}"),
            )?;
            check(
                trailing
                    .get_bin(ECHO_TRAILING_KEY)
                    .and_then(|v| v.to_bytes().ok())
                    .is_some_and(|v| v == TRAILING),
                || format!("FullDuplexCall: trailing metadata {trailing:?}"),
            )
        }
        TestCase::StatusCodeAndMessage | TestCase::SpecialStatusMessage => {
            let message = if case == TestCase::StatusCodeAndMessage {
                "test status message"
            } else {
                rustgrpc_examples::interop::SPECIAL_STATUS_MESSAGE
            };
            let status = EchoStatus {
                code: 2,
                message: message.to_owned(),
            };
            let outcome = stub
                .unary_call(request(SimpleRequest {
                    response_status: Some(status.clone()),
                    ..SimpleRequest::default()
                }))
                .await;
            let got = expect_code(outcome, Code::Unknown, "UnaryCall")?;
            check(got.message() == message, || {
                format!("UnaryCall: message {:?}", got.message())
            })?;
            if case == TestCase::SpecialStatusMessage {
                return Ok(());
            }
            let call = request(tokio_stream::iter([StreamingOutputCallRequest {
                response_status: Some(status),
                ..StreamingOutputCallRequest::default()
            }]));
            let outcome = match stub.full_duplex_call(call).await {
                Ok(response) => collect(response.into_inner()).await,
                Err(status) => Err(status),
            };
            let got = expect_code(outcome, Code::Unknown, "FullDuplexCall")?;
            check(got.message() == message, || {
                format!("FullDuplexCall: message {:?}", got.message())
            })
        }
        TestCase::UnimplementedMethod => {
            let outcome = stub.unimplemented_call(request(Empty {})).await;
            expect_code(outcome, Code::Unimplemented, "UnimplementedCall").map(drop)
        }
        TestCase::UnimplementedService => {
            let outcome = UnimplementedServiceClient::new(channel.clone())
                .unimplemented_call(request(Empty {}))
                .await;
            expect_code(outcome, Code::Unimplemented, "UnimplementedService").map(drop)
        }
        TestCase::CancelAfterBegin => {
            // tonic cancels a call by dropping it (RST_STREAM CANCEL): the
            // call must still be running when dropped, and the channel must
            // serve the next call.
            let (tx, rx) = mpsc::channel::<StreamingInputCallRequest>(1);
            let call = stub.streaming_input_call(request(ReceiverStream::new(rx)));
            let outcome = tokio::time::timeout(Duration::from_millis(50), call).await;
            drop(tx);
            check(outcome.is_err(), || {
                format!("the call ended before the cancel: {outcome:?}")
            })?;
            after_cancel(channel).await
        }
        TestCase::CancelAfterFirstResponse => {
            // The request goes in before the call is awaited (see ping_pong).
            let (tx, rx) = mpsc::channel(1);
            tx.send(StreamingOutputCallRequest {
                response_parameters: vec![parameters(31_415, None)],
                payload: Some(zeros(27_182)),
                ..StreamingOutputCallRequest::default()
            })
            .await
            .map_err(|_| "the request stream closed early".to_owned())?;
            let mut stream = stub
                .full_duplex_call(request(ReceiverStream::new(rx)))
                .await
                .map_err(failed("FullDuplexCall"))?
                .into_inner();
            let first = stream
                .message()
                .await
                .map_err(failed("FullDuplexCall"))?
                .ok_or("no response arrived")?;
            check_streamed(&[first], &[31_415])?;
            drop(stream); // the cancel
            drop(tx);
            after_cancel(channel).await
        }
        TestCase::TimeoutOnSleepingServer => {
            let (tx, rx) = mpsc::channel(1);
            let mut call = Request::new(ReceiverStream::new(rx));
            call.set_timeout(Duration::from_millis(1));
            let _ = tx
                .send(StreamingOutputCallRequest {
                    payload: Some(zeros(27_182)),
                    ..StreamingOutputCallRequest::default()
                })
                .await;
            let outcome = match stub.full_duplex_call(call).await {
                Ok(response) => collect(response.into_inner()).await,
                Err(status) => Err(status),
            };
            drop(tx);
            match outcome {
                Err(status) if status.code() == Code::DeadlineExceeded => Ok(()),
                // tonic's client turns its own expired deadline into
                // CANCELLED "Timeout expired" (see docs/interop.md).
                Err(status)
                    if status.code() == Code::Cancelled
                        && status.message() == "Timeout expired" =>
                {
                    Ok(())
                }
                other => Err(format!("want DEADLINE_EXCEEDED, got {other:?}")),
            }
        }
    }
}

/// After a cancel: the channel serves the next call.
async fn after_cancel(channel: &TapChannel) -> Result<(), String> {
    client(channel)
        .empty_call(request(Empty {}))
        .await
        .map(drop)
        .map_err(failed("EmptyCall after the cancel"))
}

/// What tonic's client says to a 5 MiB response (compressed or not) from
/// the server at `127.0.0.1:port`.
pub(crate) async fn oversized_response(
    port: u16,
    compressed: bool,
) -> Result<(), (String, String)> {
    let channel = connect(port)
        .await
        .map_err(|error| ("connect".to_owned(), error))?;
    let call = request(SimpleRequest {
        response_size: 5 << 20,
        response_compressed: Some(BoolValue { value: compressed }),
        ..SimpleRequest::default()
    });
    client(&channel)
        .unary_call(call)
        .await
        .map(drop)
        .map_err(|status| {
            let code = grpc_core::Code::from_i32(status.code() as i32);
            (code.name().to_owned(), status.message().to_owned())
        })
}
