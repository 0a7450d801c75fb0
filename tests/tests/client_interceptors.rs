//! Client interceptors over real sockets: order, short-circuit, a change
//! of each call detail that the server observes, request and response
//! stream wrapping, a retry that calls the continuation twice, and the
//! blocking and async faces of every kind of method.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use grpc_core::{
    CallOptions, ClientCallDetails, ClientContinuation, ClientInterceptor, ClientInterceptors,
    ClientResponse, Code, Compression, Continuation, HandlerCallDetails, RequestMessages, Server,
    ServerInterceptor, Status, intercept_channel,
};
use prost::Message;
use rustgrpc_tests::{EchoRequest, EchoResponse, ServicerFace, TestServer, TestServiceStub, echo};

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";

/// What the interceptors saw, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Logs `name> KIND method` before the continuation and `<name CODE`
/// once the response has ended.
struct Around {
    name: &'static str,
    log: Log,
}

impl ClientInterceptor for Around {
    async fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        self.log.push(format!(
            "{}> {:?} {}",
            self.name,
            details.kind(),
            details.method
        ));
        let response = continuation.call(details, requests).await;
        let (name, log) = (self.name, self.log.clone());
        response.map_status(move |status| {
            log.push(format!("<{name} {}", status.code().name()));
            status
        })
    }
}

/// Changes the call details with `change` before passing them on.
struct Change<F>(F);

impl<F> ClientInterceptor for Change<F>
where
    F: Fn(&mut ClientCallDetails) + Send + Sync + 'static,
{
    async fn intercept(
        &self,
        mut details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        (self.0)(&mut details);
        continuation.call(details, requests).await
    }
}

fn stub_with(server: &TestServer, interceptors: impl Into<ClientInterceptors>) -> TestServiceStub {
    TestServiceStub::new(intercept_channel(server.channel(), interceptors))
}

fn seen_metadata(response: &EchoResponse, key: &str) -> Vec<String> {
    response
        .invocation_metadata
        .iter()
        .filter(|entry| entry.key == key)
        .map(|entry| String::from_utf8_lossy(&entry.value).into_owned())
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn first_interceptor_is_outermost_on_every_kind_and_face() {
    let server = TestServer::start();
    let log = Log::default();
    let interceptors = ClientInterceptors::new()
        .with(Around {
            name: "a",
            log: log.clone(),
        })
        .with(Around {
            name: "b",
            log: log.clone(),
        });
    let stub = stub_with(&server, interceptors);
    let expect = |kind: &str, method: &str| {
        let path = format!("/rustgrpc.testing.TestService/{method}");
        vec![
            format!("a> {kind} {path}"),
            format!("b> {kind} {path}"),
            "<b OK".to_owned(),
            "<a OK".to_owned(),
        ]
    };

    // Blocking face.
    assert_eq!(stub.unary_call().call(echo("x")).unwrap().message, "x");
    assert_eq!(log.take(), expect("UnaryUnary", "UnaryCall"));
    let mut request = echo("s");
    request.response_count = 3;
    let streamed: Vec<_> = stub
        .streaming_output_call()
        .call(request.clone())
        .unwrap()
        .collect();
    assert_eq!(streamed.len(), 3);
    assert_eq!(log.take(), expect("UnaryStream", "StreamingOutputCall"));
    let summary = stub
        .streaming_input_call()
        .call(vec![echo("1"), echo("2")].into_iter())
        .unwrap();
    assert_eq!(summary.message, "1,2");
    assert_eq!(log.take(), expect("StreamUnary", "StreamingInputCall"));
    let replies: Vec<_> = stub
        .full_duplex_call()
        .call(vec![echo("p"), echo("q")].into_iter())
        .unwrap()
        .map(|reply| reply.unwrap().message)
        .collect();
    assert_eq!(replies, ["p", "q"]);
    assert_eq!(log.take(), expect("StreamStream", "FullDuplexCall"));

    // Async face, same chain.
    runtime().block_on(async {
        let reply = stub.unary_call().call_async(echo("y")).await.unwrap();
        assert_eq!(reply.message, "y");
        assert_eq!(log.take(), expect("UnaryUnary", "UnaryCall"));
        let mut responses = stub
            .streaming_output_call()
            .call_async(request)
            .await
            .unwrap();
        let mut count = 0;
        while let Some(reply) = responses.next().await {
            reply.unwrap();
            count += 1;
        }
        assert_eq!(count, 3);
        assert_eq!(log.take(), expect("UnaryStream", "StreamingOutputCall"));
    });
}

/// Answers every call itself (a cache): the continuation never runs.
struct Canned;

impl ClientInterceptor for Canned {
    async fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        _continuation: ClientContinuation,
    ) -> ClientResponse {
        let RequestMessages::Unary(request) = requests else {
            return ClientResponse::error(Status::unimplemented("unary requests only"));
        };
        let request = EchoRequest::decode(request).expect("an EchoRequest");
        let reply = EchoResponse {
            message: format!("cached {} for {}", request.message, details.method),
            ..EchoResponse::default()
        };
        ClientResponse::ready([Bytes::from(reply.encode_to_vec())], Status::ok())
    }
}

/// Counts the calls that reach the server.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl ServerInterceptor for Counter {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        self.0.fetch_add(1, Ordering::SeqCst);
        continuation.call(details).await
    }
}

#[test]
fn an_interceptor_answers_without_calling_the_continuation() {
    let counter = Counter::default();
    let server = TestServer::start_with(Server::builder().interceptor(counter.clone()));
    let stub = stub_with(&server, Canned);
    let reply = stub.unary_call().call(echo("q")).unwrap();
    assert_eq!(reply.message, format!("cached q for {UNARY}"));
    let (reply, call) = stub.unary_call().with_call(echo("w")).unwrap();
    assert_eq!(reply.message, format!("cached w for {UNARY}"));
    assert_eq!(call.code(), Code::Ok);
    let future = stub.unary_call().future(echo("f"));
    assert_eq!(
        future.result(None).unwrap().message,
        format!("cached f for {UNARY}")
    );
    let reply = runtime()
        .block_on(stub.unary_call().call_async(echo("a")))
        .unwrap();
    assert_eq!(reply.message, format!("cached a for {UNARY}"));
    // A failure the interceptor answers with reaches the caller as is.
    let error = stub
        .streaming_input_call()
        .call(vec![echo("1")].into_iter())
        .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert_eq!(error.details(), "unary requests only");
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        0,
        "no call reached the server"
    );
    // The same server, without the interceptor, is reached.
    server.stub().unary_call().call(echo("direct")).unwrap();
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}

#[test]
fn changed_metadata_and_method_reach_the_server() {
    let server = TestServer::start();
    let stub = stub_with(
        &server,
        Change(|details: &mut ClientCallDetails| {
            details
                .metadata
                .insert("x-added", "by-interceptor")
                .unwrap();
            details.metadata.remove("x-removed");
            // The method left unimplemented becomes one the server has.
            details.method = details.method.replace("UnimplementedCall", "UnaryCall");
        }),
    );
    let options = CallOptions::new()
        .metadata(grpc_core::Metadata::from_pairs([("x-removed", "1"), ("x-kept", "2")]).unwrap());
    let reply = stub
        .unimplemented_call()
        .with_options(options)
        .call(echo("m"))
        .expect("the call went to UnaryCall");
    assert_eq!(reply.message, "m");
    assert_eq!(seen_metadata(&reply, "x-added"), ["by-interceptor"]);
    assert_eq!(seen_metadata(&reply, "x-kept"), ["2"]);
    assert!(seen_metadata(&reply, "x-removed").is_empty());
    // Without the interceptor the method is unimplemented.
    let error = server
        .stub()
        .unimplemented_call()
        .call(echo("m"))
        .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
}

#[test]
fn a_changed_timeout_is_the_deadline_the_server_sees_and_enforces() {
    let server = TestServer::start();
    let stub = stub_with(
        &server,
        Change(|details: &mut ClientCallDetails| {
            details.timeout = Some(Duration::from_millis(300))
        }),
    );
    let reply = stub.unary_call().call(echo("t")).unwrap();
    assert!(reply.has_deadline);
    assert!(
        reply.time_remaining_ms <= 300,
        "{}",
        reply.time_remaining_ms
    );
    // A caller's longer timeout is shortened: the slow call times out.
    let mut slow = echo("slow");
    slow.sleep_ms = 5_000;
    let error = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(60)))
        .call(slow.clone())
        .unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded);
    // Removing the timeout removes the deadline.
    let unbounded = stub_with(
        &server,
        Change(|details: &mut ClientCallDetails| details.timeout = None),
    );
    let reply = unbounded
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(60)))
        .call(echo("u"))
        .unwrap();
    assert!(!reply.has_deadline);
}

/// Records the compression of each request the server receives.
#[derive(Clone, Default)]
struct SeenCompression(Arc<Mutex<Vec<Compression>>>);

impl ServerInterceptor for SeenCompression {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        let seen = details.context().request_compression();
        self.0.lock().unwrap().push(seen);
        continuation.call(details).await
    }
}

#[test]
fn a_changed_compression_is_what_the_server_receives() {
    let seen = SeenCompression::default();
    let server = TestServer::start_with(Server::builder().interceptor(seen.clone()));
    let gzip = stub_with(
        &server,
        Change(|details: &mut ClientCallDetails| details.compression = Some(Compression::Gzip)),
    );
    let mut request = echo("z");
    request.payload = vec![b'a'; 10_000];
    gzip.unary_call().call(request.clone()).unwrap();
    let summary = gzip
        .streaming_input_call()
        .call(vec![request.clone(), request.clone()].into_iter())
        .unwrap();
    assert_eq!(summary.total_bytes, 20_000);
    // A call asking for deflate is sent uncompressed by the interceptor.
    let identity = stub_with(
        &server,
        Change(|details: &mut ClientCallDetails| details.compression = Some(Compression::Identity)),
    );
    identity
        .unary_call()
        .with_options(CallOptions::new().compression(Compression::Deflate))
        .call(request)
        .unwrap();
    assert_eq!(
        *seen.0.lock().unwrap(),
        [Compression::Gzip, Compression::Gzip, Compression::Identity]
    );
}

#[test]
fn a_changed_wait_for_ready_waits_for_the_server() {
    // A port nobody listens on yet: a fail-fast call fails at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
    let plain = TestServiceStub::new(channel.clone());
    let error = plain.unary_call().call(echo("ff")).unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    // Made wait-for-ready by the interceptor, the call waits until the
    // server comes up on that port, then succeeds.
    let waiting = TestServiceStub::new(intercept_channel(
        channel,
        Change(|details: &mut ClientCallDetails| {
            details.wait_for_ready = true;
            details.timeout = Some(Duration::from_secs(30));
        }),
    ));
    let call = waiting.unary_call().future(echo("wfr"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!call.done(), "the call waits for the server");
    let _server = TestServer::start_on(Server::builder(), &format!("127.0.0.1:{port}"))
        .expect("the port is free again");
    assert_eq!(call.result(None).unwrap().message, "wfr");
}

#[test]
fn credentials_set_by_an_interceptor_are_applied() {
    // Call credentials only travel on secure channels: on this insecure
    // one, credentials the interceptor adds fail the call as grpcio does.
    let server = TestServer::start();
    let stub = stub_with(
        &server,
        Change(|details: &mut ClientCallDetails| {
            details.credentials = Some(grpc_core::access_token_call_credentials("tok"));
        }),
    );
    let error = stub.unary_call().call(echo("c")).unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    assert!(
        error.details().contains("sufficient security level"),
        "{}",
        error.details()
    );
    // On a local channel they are sent as `authorization` metadata.
    let local = Server::builder().build();
    rustgrpc_tests::pb::add_test_service_servicer_to_server(
        rustgrpc_tests::TestServicer::default(),
        &local,
    );
    let port = local
        .add_secure_port("127.0.0.1:0", &grpc_core::local_server_credentials())
        .unwrap();
    local.start().unwrap();
    let target = format!("127.0.0.1:{port}");
    let channel =
        grpc_core::secure_channel(&target, &grpc_core::local_channel_credentials()).unwrap();
    let stub = TestServiceStub::new(intercept_channel(
        channel,
        Change(|details: &mut ClientCallDetails| {
            details.credentials = Some(grpc_core::access_token_call_credentials("tok"));
        }),
    ));
    let reply = stub.unary_call().call(echo("c")).unwrap();
    assert_eq!(seen_metadata(&reply, "authorization"), ["Bearer tok"]);
    local.stop(None).wait();
}

/// Upper-cases every request's and every response's `message`.
struct Shout;

/// A serialized `M` changed by `edit`.
fn edit_message<M: Message + Default>(
    message: Bytes,
    edit: impl FnOnce(&mut M),
) -> Result<Bytes, Status> {
    let mut decoded = M::decode(message).map_err(|error| Status::internal(error.to_string()))?;
    edit(&mut decoded);
    Ok(decoded.encode_to_vec().into())
}

impl ClientInterceptor for Shout {
    async fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let requests = match requests.map(|m| {
            edit_message(m, |r: &mut EchoRequest| {
                r.message = r.message.to_uppercase()
            })
        }) {
            Ok(requests) => requests,
            Err(status) => return ClientResponse::error(status),
        };
        let mut count = 0;
        continuation
            .call(details, requests)
            .await
            .map_messages(move |m| {
                count += 1;
                edit_message(m, |r: &mut EchoResponse| {
                    r.message = format!("{}#{count}", r.message)
                })
            })
    }
}

#[test]
fn request_and_response_streams_are_wrapped() {
    let server = TestServer::start();
    let stub = stub_with(&server, Shout);
    assert_eq!(stub.unary_call().call(echo("hi")).unwrap().message, "HI#1");
    let summary = stub
        .streaming_input_call()
        .call(vec![echo("a"), echo("b")].into_iter())
        .unwrap();
    // The server saw the upper-cased requests; the reply was tagged.
    assert_eq!(summary.message, "A,B#1");
    let replies: Vec<_> = stub
        .full_duplex_call()
        .call(vec![echo("x"), echo("y"), echo("z")].into_iter())
        .unwrap()
        .map(|reply| reply.unwrap().message)
        .collect();
    assert_eq!(replies, ["X#1", "Y#2", "Z#3"]);
    runtime().block_on(async {
        let requests = futures_util::stream::iter(vec![echo("p"), echo("q")]);
        let mut responses = stub.full_duplex_call().call_async(requests).await.unwrap();
        let mut seen = Vec::new();
        while let Some(reply) = responses.next().await {
            seen.push(reply.unwrap().message);
        }
        assert_eq!(seen, ["P#1", "Q#2"]);
    });
}

/// Fails the first `failures` calls with `UNAVAILABLE`, then lets calls
/// through; counts every call.
#[derive(Clone, Default)]
struct Flaky {
    calls: Arc<AtomicUsize>,
    failures: usize,
}

impl ServerInterceptor for Flaky {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Status::unavailable("try again");
        }
        continuation.call(details).await
    }
}

/// Sends a unary request again while it fails with `UNAVAILABLE`.
struct Retry {
    attempts: usize,
}

impl ClientInterceptor for Retry {
    async fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let Some(mut spare) = requests.try_clone() else {
            return continuation.call(details, requests).await;
        };
        let mut attempt = requests;
        for _ in 1..self.attempts {
            let (messages, status) = continuation
                .call(details.clone(), attempt)
                .await
                .collect()
                .await;
            if status.code() != Code::Unavailable {
                return ClientResponse::ready(messages, status);
            }
            attempt = spare;
            spare = attempt.try_clone().expect("a unary request");
        }
        continuation.call(details, attempt).await
    }
}

#[test]
fn a_retry_calls_the_continuation_again() {
    for face in [ServicerFace::Blocking, ServicerFace::Async] {
        let flaky = Flaky {
            calls: Arc::default(),
            failures: 2,
        };
        let server = TestServer::start_face(Server::builder().interceptor(flaky.clone()), face);
        let stub = stub_with(&server, Retry { attempts: 3 });
        assert_eq!(stub.unary_call().call(echo("r")).unwrap().message, "r");
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
        let reply = runtime()
            .block_on(stub.unary_call().call_async(echo("s")))
            .unwrap();
        assert_eq!(reply.message, "s");
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 4, "succeeded at once");
        // Out of attempts: the last failure is the caller's.
        let flaky = Flaky {
            calls: Arc::default(),
            failures: 10,
        };
        let server = TestServer::start_face(Server::builder().interceptor(flaky.clone()), face);
        let stub = stub_with(&server, Retry { attempts: 3 });
        let error = stub.unary_call().call(echo("r")).unwrap_err();
        assert_eq!(error.code(), Code::Unavailable);
        assert_eq!(error.details(), "try again");
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    }
}

/// Awaits before calling on (a token fetch): on a current-thread runtime
/// that also drives the channel, nothing blocks.
struct SlowToken;

impl ClientInterceptor for SlowToken {
    async fn intercept(
        &self,
        mut details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        tokio::time::sleep(Duration::from_millis(20)).await;
        details
            .metadata
            .insert("authorization", "Bearer fetched")
            .unwrap();
        continuation.call(details, requests).await
    }
}

#[test]
fn an_interceptor_awaits_on_a_current_thread_runtime() {
    let server = TestServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stub = stub_with(&server, SlowToken);
        let calls = (0..4).map(|i| stub.unary_call().call_async(echo(&i.to_string())));
        let replies = futures_util::future::join_all(calls).await;
        for reply in replies {
            assert_eq!(
                seen_metadata(&reply.unwrap(), "authorization"),
                ["Bearer fetched"]
            );
        }
    });
}

#[test]
fn cancelling_an_intercepted_call_ends_it_on_the_server() {
    let server = TestServer::start();
    let stub = stub_with(&server, SlowToken);
    let mut slow = echo("slow");
    slow.sleep_ms = 30_000;
    let future = stub
        .unary_call()
        .with_options(rustgrpc_tests::tagged("cancel-intercepted"))
        .future(slow);
    server.events().expect(
        "cancel-intercepted",
        rustgrpc_tests::EventKind::Started,
        Duration::from_secs(10),
    );
    assert!(future.cancel());
    assert_eq!(future.result(None).unwrap_err().code(), Code::Cancelled);
    server.events().expect(
        "cancel-intercepted",
        rustgrpc_tests::EventKind::SawInactive,
        Duration::from_secs(10),
    );
}

/// The value of the Prometheus sample `series` in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[test]
fn client_metrics_count_each_attempt_of_a_retried_call() {
    use grpc_metrics::ClientMetrics;
    use grpc_metrics::prometheus_client::{encoding::text::encode, registry::Registry};

    let flaky = Flaky {
        calls: Arc::default(),
        failures: 1,
    };
    let server = TestServer::start_with(Server::builder().interceptor(flaky.clone()));
    let mut registry = Registry::default();
    let metrics = ClientMetrics::register(&mut registry);
    // The attempt tracer sees each pass of the retrying interceptor as an
    // attempt on the wire.
    let channel = grpc_core::ChannelBuilder::new(server.target())
        .tracer(metrics.attempt_tracer())
        .build()
        .unwrap();
    let target = channel.target().to_owned();
    let interceptors = ClientInterceptors::new()
        .with(metrics.call_interceptor(&target))
        .with(Retry { attempts: 3 });
    let stub = TestServiceStub::new(intercept_channel(channel, interceptors));
    let mut request = echo("measured");
    request.response_size = 1000;
    let reply = stub.unary_call().call(request.clone()).unwrap();
    let requests = vec![echo("a"), echo("bb"), echo("ccc")];
    let sent_streamed: usize = requests.iter().map(Message::encoded_len).sum();
    let summary = stub
        .streaming_input_call()
        .call(requests.into_iter())
        .unwrap();

    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    let labels = |method: &str, status: &str| {
        format!(
            "{{grpc_method=\"rustgrpc.testing.TestService/{method}\",grpc_target=\"{target}\",grpc_status=\"{status}\"}}"
        )
    };
    let unary_ok = labels("UnaryCall", "OK");
    let started = format!(
        "grpc_client_attempt_started_total{{grpc_method=\"rustgrpc.testing.TestService/UnaryCall\",grpc_target=\"{target}\"}}"
    );
    assert_eq!(sample(&text, &started), Some(2.0), "{text}");
    let attempts = |status: &str| {
        let series = format!(
            "grpc_client_attempt_duration_seconds_count{}",
            labels("UnaryCall", status)
        );
        sample(&text, &series)
    };
    assert_eq!(attempts("UNAVAILABLE"), Some(1.0), "{text}");
    assert_eq!(attempts("OK"), Some(1.0), "{text}");
    // One call, as the application saw it: OK.
    let calls = format!("grpc_client_call_duration_seconds_count{unary_ok}");
    assert_eq!(sample(&text, &calls), Some(1.0), "{text}");
    let failed_calls = format!(
        "grpc_client_call_duration_seconds_count{}",
        labels("UnaryCall", "UNAVAILABLE")
    );
    assert_eq!(sample(&text, &failed_calls), None, "{text}");
    // Message sizes of the successful attempt.
    let sent =
        format!("grpc_client_attempt_sent_total_compressed_message_size_bytes_sum{unary_ok}");
    assert_eq!(
        sample(&text, &sent),
        Some(request.encoded_len() as f64),
        "{text}"
    );
    let received =
        format!("grpc_client_attempt_rcvd_total_compressed_message_size_bytes_sum{unary_ok}");
    assert_eq!(
        sample(&text, &received),
        Some(reply.encoded_len() as f64),
        "{text}"
    );
    assert!(reply.encoded_len() > 1000);
    let streamed = labels("StreamingInputCall", "OK");
    let sent =
        format!("grpc_client_attempt_sent_total_compressed_message_size_bytes_sum{streamed}");
    assert_eq!(sample(&text, &sent), Some(sent_streamed as f64), "{text}");
    let received =
        format!("grpc_client_attempt_rcvd_total_compressed_message_size_bytes_sum{streamed}");
    assert_eq!(
        sample(&text, &received),
        Some(summary.encoded_len() as f64),
        "{text}"
    );
}

// ---- interop with grpcio's interceptor examples ---------------------------

mod grpcio {
    use std::path::Path;
    use std::process::Stdio;

    use grpc_core::{
        ClientCallDetails, Code, Continuation, HandlerCallDetails, Server, ServerInterceptor,
        Status,
    };
    use rustgrpc_examples::interop::pb::{SimpleRequest, TestServiceStub};
    use rustgrpc_tests::peers::{LineChild, python_script};

    use super::{Change, intercept_channel};

    fn target_dir() -> &'static Path {
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
    }

    /// Adds what grpcio's validator wants, a trace id, and a timeout.
    fn header_adder() -> Change<impl Fn(&mut ClientCallDetails) + Send + Sync + 'static> {
        Change(|details: &mut ClientCallDetails| {
            details.metadata.append("one-time-password", "42").unwrap();
            details.metadata.append("x-trace", "from-rust").unwrap();
            details.timeout = Some(std::time::Duration::from_secs(30));
        })
    }

    #[test]
    fn a_rust_interceptor_satisfies_grpcios_header_validator() {
        let mut command = python_script(target_dir(), "interceptor_peer.py");
        command.arg("server").stdin(Stdio::piped());
        let peer = LineChild::spawn(command);
        let line = peer.next_line();
        let port: u16 = line
            .strip_prefix("listening on port ")
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected line from the Python server: {line}"));
        let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
        let intercepted = TestServiceStub::new(intercept_channel(channel.clone(), header_adder()));
        let reply = intercepted
            .unary_call()
            .call(SimpleRequest::default())
            .unwrap();
        assert_eq!(reply.username, "from-rust");
        assert_eq!(reply.oauth_scope, "deadline");
        let error = TestServiceStub::new(channel)
            .unary_call()
            .call(SimpleRequest::default())
            .unwrap_err();
        assert_eq!(error.code(), Code::Unauthenticated);
        assert_eq!(error.details(), "Access denied!");
    }

    /// grpcio's RequestHeaderValidatorInterceptor, in Rust.
    struct RequestHeaderValidator;

    impl ServerInterceptor for RequestHeaderValidator {
        async fn intercept_service(
            &self,
            continuation: Continuation,
            details: &HandlerCallDetails,
        ) -> Status {
            match details.invocation_metadata().get("one-time-password") {
                Some("42") => continuation.call(details).await,
                _ => Status::unauthenticated("Access denied!"),
            }
        }
    }

    #[test]
    fn grpcios_header_adder_satisfies_a_rust_validator() {
        let server = rustgrpc_examples::interop::server(
            Server::builder().interceptor(RequestHeaderValidator),
        );
        let port = server.add_insecure_port("127.0.0.1:0").unwrap();
        server.start().unwrap();
        let mut command = python_script(target_dir(), "interceptor_peer.py");
        command.args(["client", &port.to_string()]);
        let lines = LineChild::spawn(command).rest();
        assert_eq!(lines, ["OK ", "ERROR UNAUTHENTICATED Access denied!"]);
        server.stop(None).wait();
    }
}
