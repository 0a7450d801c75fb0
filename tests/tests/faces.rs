//! The two faces on one core, over real sockets: {blocking, async} client ×
//! {blocking, async} servicer × the four RPC patterns, with metadata both
//! ways, deadlines and cancellation (by drop on the async face); one
//! `Channel` shared by blocking and async callers; blocking and async
//! servicers on one `Server`; the blocking face inside tokio runtimes; and
//! `Server::serve` inside an existing runtime.
//!
//! Run with `--nocapture` to see the measured deadline and cancellation
//! timings.

use std::time::{Duration, Instant};

use grpc_core::{
    CallOptions, Channel, Code, Metadata, RpcError, Server, ServiceBuilder, Status,
    insecure_channel,
};
use rustgrpc_tests::{
    EchoRequest, EchoResponse, EventKind, Events, ServicerFace, TestServer, TestServiceStub,
    collect, entry, iter_stream, ms, next, stream_channel, tag_metadata,
};

/// Upper bound for "promptly".
const PROMPT: Duration = Duration::from_secs(1);
/// The deadline of the deadline checks.
const DEADLINE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientFace {
    Blocking,
    Async,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pattern {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

const CLIENTS: [ClientFace; 2] = [ClientFace::Blocking, ClientFace::Async];
const SERVICERS: [ServicerFace; 2] = [ServicerFace::Blocking, ServicerFace::Async];
const PATTERNS: [Pattern; 4] = [
    Pattern::Unary,
    Pattern::ServerStreaming,
    Pattern::ClientStreaming,
    Pattern::Bidi,
];

/// A multi-thread runtime like the ones async callers live in.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn server(face: ServicerFace) -> TestServer {
    TestServer::start_face(Server::builder(), face)
}

fn label(client: ClientFace, servicer: ServicerFace, pattern: Pattern) -> String {
    format!("{client:?} client × {servicer:?} servicer × {pattern:?}")
}

fn tag_of(client: ClientFace, servicer: ServicerFace, pattern: Pattern, what: &str) -> String {
    format!("{what}-{client:?}-{servicer:?}-{pattern:?}")
}

// --- patterns and metadata --------------------------------------------------

/// Client metadata: the tag, a text and a binary entry.
fn client_metadata(tag: &str, client: ClientFace) -> CallOptions {
    let mut metadata = tag_metadata(tag);
    metadata
        .append("x-client", format!("{client:?}"))
        .expect("text metadata");
    metadata
        .append("x-client-bin", [0_u8, 1, 2, 0xff])
        .expect("binary metadata");
    CallOptions::new().metadata(metadata)
}

/// The requests of one RPC of `pattern`: they ask for initial metadata
/// (first request only: it can be sent once), trailing metadata, and the
/// client metadata echoed in the trailers.
fn requests(pattern: Pattern) -> Vec<EchoRequest> {
    let count = match pattern {
        Pattern::Unary | Pattern::ServerStreaming => 1,
        Pattern::ClientStreaming | Pattern::Bidi => 3,
    };
    (0..count)
        .map(|n| EchoRequest {
            message: format!("m{n}"),
            response_count: if pattern == Pattern::ServerStreaming {
                3
            } else {
                0
            },
            echo_metadata: true,
            initial_metadata: if n == 0 {
                vec![entry("x-initial", "hello")]
            } else {
                Vec::new()
            },
            trailing_metadata: vec![
                entry("x-trailing", "bye"),
                entry("x-trailing-bin", [9_u8, 0]),
            ],
            ..EchoRequest::default()
        })
        .collect()
}

/// What one RPC returned.
struct Outcome {
    responses: Vec<EchoResponse>,
    initial: Metadata,
    trailing: Metadata,
    code: Code,
}

fn call_blocking(stub: &TestServiceStub, pattern: Pattern, options: CallOptions) -> Outcome {
    let mut reqs = requests(pattern);
    match pattern {
        Pattern::Unary => {
            let (response, call) = stub
                .unary_call()
                .with_options(options)
                .with_call(reqs.remove(0))
                .expect("unary call");
            Outcome {
                responses: vec![response],
                initial: call.initial_metadata(),
                trailing: call.trailing_metadata(),
                code: call.code(),
            }
        }
        Pattern::ServerStreaming => {
            let mut responses = stub
                .streaming_output_call()
                .with_options(options)
                .call(reqs.remove(0))
                .expect("server-streaming call");
            let initial = responses.initial_metadata();
            let items = responses
                .by_ref()
                .collect::<Result<Vec<_>, _>>()
                .expect("responses");
            Outcome {
                responses: items,
                initial,
                trailing: responses.trailing_metadata(),
                code: responses.code(),
            }
        }
        Pattern::ClientStreaming => {
            let (response, call) = stub
                .streaming_input_call()
                .with_options(options)
                .with_call(reqs)
                .expect("client-streaming call");
            Outcome {
                responses: vec![response],
                initial: call.initial_metadata(),
                trailing: call.trailing_metadata(),
                code: call.code(),
            }
        }
        Pattern::Bidi => {
            let mut responses = stub
                .full_duplex_call()
                .with_options(options)
                .call(reqs)
                .expect("bidi call");
            let items = responses
                .by_ref()
                .collect::<Result<Vec<_>, _>>()
                .expect("responses");
            Outcome {
                responses: items,
                initial: responses.initial_metadata(),
                trailing: responses.trailing_metadata(),
                code: responses.code(),
            }
        }
    }
}

async fn call_async(stub: &TestServiceStub, pattern: Pattern, options: CallOptions) -> Outcome {
    let mut reqs = requests(pattern);
    match pattern {
        Pattern::Unary => {
            let (response, call) = stub
                .unary_call()
                .with_options(options)
                .with_call_async(reqs.remove(0))
                .await
                .expect("unary call");
            Outcome {
                responses: vec![response],
                initial: call.initial_metadata(),
                trailing: call.trailing_metadata(),
                code: call.code(),
            }
        }
        Pattern::ServerStreaming => {
            let mut responses = stub
                .streaming_output_call()
                .with_options(options)
                .call_async(reqs.remove(0))
                .await
                .expect("server-streaming call");
            let initial = responses.initial_metadata().await;
            let mut items = Vec::new();
            while let Some(item) = next(&mut responses).await {
                items.push(item.expect("a response"));
            }
            Outcome {
                responses: items,
                initial,
                trailing: responses.trailing_metadata().await,
                code: responses.code().await,
            }
        }
        Pattern::ClientStreaming => {
            let (response, call) = stub
                .streaming_input_call()
                .with_options(options)
                .with_call_async(iter_stream(reqs))
                .await
                .expect("client-streaming call");
            Outcome {
                responses: vec![response],
                initial: call.initial_metadata(),
                trailing: call.trailing_metadata(),
                code: call.code(),
            }
        }
        Pattern::Bidi => {
            let responses = stub
                .full_duplex_call()
                .with_options(options)
                .call_async(iter_stream(reqs))
                .await
                .expect("bidi call");
            let initial = responses.initial_metadata().await;
            let mut responses = responses;
            let items = collect(&mut responses)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .expect("responses");
            Outcome {
                responses: items,
                initial,
                trailing: responses.trailing_metadata().await,
                code: responses.code().await,
            }
        }
    }
}

fn check_outcome(outcome: &Outcome, client: ClientFace, pattern: Pattern, what: &str) {
    assert_eq!(outcome.code, Code::Ok, "{what}");
    let messages: Vec<&str> = outcome
        .responses
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    let indices: Vec<u32> = outcome.responses.iter().map(|r| r.index).collect();
    match pattern {
        Pattern::Unary => assert_eq!(messages, ["m0"], "{what}"),
        Pattern::ServerStreaming => {
            assert_eq!(messages, ["m0", "m0", "m0"], "{what}");
            assert_eq!(indices, [0, 1, 2], "{what}");
        }
        Pattern::ClientStreaming => {
            assert_eq!(messages, ["m0,m1,m2"], "{what}");
            assert_eq!(outcome.responses[0].request_count, 3, "{what}");
        }
        Pattern::Bidi => {
            assert_eq!(messages, ["m0", "m1", "m2"], "{what}");
            assert_eq!(indices, [0, 1, 2], "{what}");
        }
    }
    // Client → server: the servicer saw the client's metadata.
    let seen = &outcome.responses[0].invocation_metadata;
    assert!(
        seen.contains(&entry("x-client", format!("{client:?}"))),
        "{what}: server saw {seen:?}"
    );
    assert!(
        seen.contains(&entry("x-client-bin", [0_u8, 1, 2, 0xff])),
        "{what}: server saw {seen:?}"
    );
    // Server → client: initial and trailing metadata, the client's echoed.
    assert_eq!(outcome.initial.get("x-initial"), Some("hello"), "{what}");
    assert_eq!(outcome.trailing.get("x-trailing"), Some("bye"), "{what}");
    assert_eq!(
        outcome.trailing.get_bin("x-trailing-bin"),
        Some(&[9_u8, 0][..]),
        "{what}"
    );
    let client_name = format!("{client:?}");
    assert_eq!(
        outcome.trailing.get("x-client"),
        Some(client_name.as_str()),
        "{what}"
    );
    assert_eq!(
        outcome.trailing.get_bin("x-client-bin"),
        Some(&[0_u8, 1, 2, 0xff][..]),
        "{what}"
    );
}

#[test]
fn matrix_patterns_and_metadata() {
    let rt = runtime();
    for servicer in SERVICERS {
        let server = server(servicer);
        // Blocking callers use a channel built outside any runtime; async
        // callers one built inside theirs (so the calls stay on it).
        let blocking_stub = server.stub();
        let async_stub = rt.block_on(async { server.stub() });
        for client in CLIENTS {
            for pattern in PATTERNS {
                let what = label(client, servicer, pattern);
                let tag = tag_of(client, servicer, pattern, "meta");
                let options = client_metadata(&tag, client);
                let outcome = match client {
                    ClientFace::Blocking => call_blocking(&blocking_stub, pattern, options),
                    ClientFace::Async => rt.block_on(call_async(&async_stub, pattern, options)),
                };
                check_outcome(&outcome, client, pattern, &what);
                server.events().expect(&tag, EventKind::Callback, PROMPT);
                eprintln!("ok: {what}: responses, status and metadata both ways");
            }
        }
    }
}

// --- deadlines ----------------------------------------------------------------

/// A request that keeps the handler busy (asleep) for 10 s.
fn slow() -> EchoRequest {
    EchoRequest {
        message: "slow".into(),
        sleep_ms: 10_000,
        response_count: 1,
        ..EchoRequest::default()
    }
}

fn deadline_blocking(stub: &TestServiceStub, pattern: Pattern, options: CallOptions) -> RpcError {
    match pattern {
        Pattern::Unary => stub
            .unary_call()
            .with_options(options)
            .call(slow())
            .expect_err("deadline"),
        Pattern::ServerStreaming => {
            let mut responses = stub
                .streaming_output_call()
                .with_options(options)
                .call(slow())
                .expect("call starts");
            let error = responses.next().expect("an item").expect_err("deadline");
            assert!(responses.next().is_none());
            error
        }
        Pattern::ClientStreaming => stub
            .streaming_input_call()
            .with_options(options)
            .call(vec![slow()])
            .expect_err("deadline"),
        Pattern::Bidi => {
            let mut responses = stub
                .full_duplex_call()
                .with_options(options)
                .call(vec![slow()])
                .expect("call starts");
            responses.next().expect("an item").expect_err("deadline")
        }
    }
}

async fn deadline_async(
    stub: &TestServiceStub,
    pattern: Pattern,
    options: CallOptions,
) -> RpcError {
    match pattern {
        Pattern::Unary => stub
            .unary_call()
            .with_options(options)
            .call_async(slow())
            .await
            .expect_err("deadline"),
        Pattern::ServerStreaming => {
            let mut responses = stub
                .streaming_output_call()
                .with_options(options)
                .call_async(slow())
                .await
                .expect("call starts");
            let remaining = responses.time_remaining().expect("a deadline");
            assert!(remaining <= DEADLINE, "{remaining:?}");
            let error = next(&mut responses)
                .await
                .expect("an item")
                .expect_err("deadline");
            assert!(next(&mut responses).await.is_none());
            assert_eq!(responses.code().await, Code::DeadlineExceeded);
            assert!(!responses.is_active());
            error
        }
        Pattern::ClientStreaming => stub
            .streaming_input_call()
            .with_options(options)
            .call_async(iter_stream([slow()]))
            .await
            .expect_err("deadline"),
        Pattern::Bidi => {
            let mut responses = stub
                .full_duplex_call()
                .with_options(options)
                .call_async(iter_stream([slow()]))
                .await
                .expect("call starts");
            next(&mut responses)
                .await
                .expect("an item")
                .expect_err("deadline")
        }
    }
}

#[test]
fn matrix_deadlines() {
    let rt = runtime();
    for servicer in SERVICERS {
        let server = server(servicer);
        let blocking_stub = server.stub();
        let async_stub = rt.block_on(async { server.stub() });
        for client in CLIENTS {
            for pattern in PATTERNS {
                let what = label(client, servicer, pattern);
                let tag = tag_of(client, servicer, pattern, "deadline");
                let options = CallOptions::new()
                    .metadata(tag_metadata(&tag))
                    .timeout(DEADLINE);
                let start = Instant::now();
                let error = match client {
                    ClientFace::Blocking => deadline_blocking(&blocking_stub, pattern, options),
                    ClientFace::Async => rt.block_on(deadline_async(&async_stub, pattern, options)),
                };
                let elapsed = start.elapsed();
                assert_eq!(error.code(), Code::DeadlineExceeded, "{what}: {error:?}");
                // Not before the deadline (how late depends on the machine's
                // load; `deadlines_cancel` checks promptness on its own).
                assert!(elapsed >= DEADLINE, "{what}: ended after {elapsed:?}");
                // The servicer learns that the RPC is over.
                let ended = server.events().expect(&tag, EventKind::Callback, PROMPT);
                if servicer == ServicerFace::Blocking {
                    // The blocking handler wakes and sees it: asleep, it
                    // finds the RPC inactive; still waiting for its first
                    // request (a loaded machine), its requests fail.
                    saw_the_end(server.events(), &tag, &what);
                }
                eprintln!(
                    "deadline: {what}: DEADLINE_EXCEEDED after {elapsed:?} (deadline {DEADLINE:?}); \
                     server callback {:?} after the start",
                    ended.at.duration_since(start)
                );
            }
        }
    }
}

/// Waits until a blocking handler noticed its RPC ended, either way.
fn saw_the_end(events: &Events, tag: &str, what: &str) {
    let deadline = Instant::now() + 10 * PROMPT;
    while Instant::now() < deadline {
        if events.count(tag, EventKind::SawInactive) + events.count(tag, EventKind::RequestError)
            > 0
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!(
        "{what}: the handler never noticed the RPC ended: {:?}",
        events.all(tag)
    );
}

// --- cancellation -------------------------------------------------------------

/// Waits (off the runtime's threads) for an event.
async fn wait_event(events: &Events, tag: &str, kind: EventKind) {
    let (events, tag) = (events.clone(), tag.to_owned());
    tokio::task::spawn_blocking(move || events.expect(&tag, kind, PROMPT))
        .await
        .expect("the event arrives");
}

/// A server-streaming request that streams for ~50 s.
fn endless_stream() -> EchoRequest {
    EchoRequest {
        message: "stream".into(),
        response_count: 1000,
        interval_ms: 50,
        ..EchoRequest::default()
    }
}

/// Starts an RPC of `pattern` on the async face, lets the handler get busy,
/// then drops the call future or response stream; returns when it dropped.
async fn drop_async_call(
    stub: &TestServiceStub,
    pattern: Pattern,
    tag: &str,
    events: &Events,
) -> Instant {
    let options = CallOptions::new().metadata(tag_metadata(tag));
    match pattern {
        Pattern::Unary => {
            let method = stub.unary_call().with_options(options);
            let call = method.call_async(slow());
            tokio::select! {
                result = call => panic!("the call ended: {result:?}"),
                () = async {
                    wait_event(events, tag, EventKind::Started).await;
                    // Let the handler get to its sleep.
                    tokio::time::sleep(ms(20)).await;
                } => {}
            }
            // `select!` dropped the call future.
            Instant::now()
        }
        Pattern::ServerStreaming => {
            let mut responses = stub
                .streaming_output_call()
                .with_options(options)
                .call_async(endless_stream())
                .await
                .expect("call starts");
            next(&mut responses)
                .await
                .expect("a response")
                .expect("first response");
            let dropping = Instant::now();
            drop(responses);
            dropping
        }
        Pattern::ClientStreaming => {
            // The request stream stays open: the handler waits for more.
            let (tx, requests) = stream_channel(4);
            tx.send(EchoRequest {
                message: "first".into(),
                ..EchoRequest::default()
            })
            .await
            .expect("queue a request");
            let method = stub.streaming_input_call().with_options(options);
            let call = method.call_async(requests);
            tokio::select! {
                result = call => panic!("the call ended: {result:?}"),
                () = wait_event(events, tag, EventKind::Request) => {}
            }
            let dropped = Instant::now();
            drop(tx);
            dropped
        }
        Pattern::Bidi => {
            let (tx, requests) = stream_channel(4);
            tx.send(EchoRequest {
                message: "first".into(),
                ..EchoRequest::default()
            })
            .await
            .expect("queue a request");
            let mut responses = stub
                .full_duplex_call()
                .with_options(options)
                .call_async(requests)
                .await
                .expect("call starts");
            next(&mut responses)
                .await
                .expect("a response")
                .expect("first response");
            let dropping = Instant::now();
            drop(responses);
            drop(tx);
            dropping
        }
    }
}

/// The blocking face's counterpart: `cancel()` on a call future, or drop
/// of a response iterator; returns when it cancelled.
fn cancel_blocking_call(
    stub: &TestServiceStub,
    pattern: Pattern,
    tag: &str,
    events: &Events,
) -> Instant {
    let options = CallOptions::new().metadata(tag_metadata(tag));
    match pattern {
        Pattern::Unary => {
            let future = stub.unary_call().with_options(options).future(slow());
            events.expect(tag, EventKind::Started, PROMPT);
            std::thread::sleep(ms(20)); // let the handler get to its sleep
            let cancelled = Instant::now();
            assert!(future.cancel());
            assert!(
                future
                    .result(Some(PROMPT))
                    .unwrap_err()
                    .is_future_cancelled()
            );
            cancelled
        }
        Pattern::ServerStreaming => {
            let mut responses = stub
                .streaming_output_call()
                .with_options(options)
                .call(endless_stream())
                .expect("call starts");
            responses
                .next()
                .expect("a response")
                .expect("first response");
            let dropping = Instant::now();
            drop(responses);
            dropping
        }
        Pattern::ClientStreaming => {
            let (tx, rx) = std::sync::mpsc::channel();
            tx.send(EchoRequest {
                message: "first".into(),
                ..EchoRequest::default()
            })
            .expect("queue a request");
            let future = stub.streaming_input_call().with_options(options).future(rx);
            events.expect(tag, EventKind::Request, PROMPT);
            let cancelled = Instant::now();
            assert!(future.cancel());
            drop(tx);
            cancelled
        }
        Pattern::Bidi => {
            let (tx, rx) = std::sync::mpsc::channel();
            tx.send(EchoRequest {
                message: "first".into(),
                ..EchoRequest::default()
            })
            .expect("queue a request");
            let mut responses = stub
                .full_duplex_call()
                .with_options(options)
                .call(rx)
                .expect("call starts");
            responses
                .next()
                .expect("a response")
                .expect("first response");
            let dropping = Instant::now();
            drop(responses);
            drop(tx);
            dropping
        }
    }
}

#[test]
fn matrix_cancellation_by_drop() {
    let rt = runtime();
    for servicer in SERVICERS {
        let server = server(servicer);
        let blocking_stub = server.stub();
        let async_stub = rt.block_on(async { server.stub() });
        for client in CLIENTS {
            for pattern in PATTERNS {
                let what = label(client, servicer, pattern);
                let tag = tag_of(client, servicer, pattern, "cancel");
                let events = server.events();
                let dropped = match client {
                    ClientFace::Blocking => {
                        cancel_blocking_call(&blocking_stub, pattern, &tag, events)
                    }
                    ClientFace::Async => {
                        rt.block_on(drop_async_call(&async_stub, pattern, &tag, events))
                    }
                };
                // The server sees the cancellation: its `add_callback` runs.
                let ended = events.expect(&tag, EventKind::Callback, PROMPT);
                let latency = ended.at.saturating_duration_since(dropped);
                assert!(latency < PROMPT, "{what}: {latency:?}");
                if servicer == ServicerFace::Blocking {
                    // The worker wakes at once: a handler asleep or between
                    // responses sees `is_active() == false`; one waiting
                    // for the next request gets a CANCELLED error from its
                    // request iterator. (An async handler's task is simply
                    // dropped.)
                    match pattern {
                        Pattern::Unary | Pattern::ServerStreaming => {
                            events.expect(&tag, EventKind::SawInactive, PROMPT);
                        }
                        Pattern::ClientStreaming | Pattern::Bidi => {
                            let error = events.expect(&tag, EventKind::RequestError, PROMPT);
                            assert_eq!(error.detail, "CANCELLED", "{what}");
                        }
                    }
                }
                eprintln!(
                    "cancel: {what}: server callback ran {latency:?} after the {}",
                    if client == ClientFace::Async {
                        "drop"
                    } else {
                        "cancel/drop"
                    }
                );
            }
        }
        // Nothing is left running on the server.
        let start = Instant::now();
        while server.server().active_rpcs() > 0 {
            assert!(start.elapsed() < PROMPT, "RPCs still active");
            std::thread::sleep(ms(5));
        }
    }
}

/// A dropped async call future is reset on the wire while the handler runs
/// as an async task too: the handler's own request stream ends in an error.
#[test]
fn dropped_client_stream_fails_the_handlers_request_stream() {
    let rt = runtime();
    for servicer in SERVICERS {
        let server = server(servicer);
        let stub = rt.block_on(async { server.stub() });
        let tag = format!("request-error-{servicer:?}");
        rt.block_on(drop_async_call(
            &stub,
            Pattern::ClientStreaming,
            &tag,
            server.events(),
        ));
        server.events().expect(&tag, EventKind::Callback, PROMPT);
        if servicer == ServicerFace::Blocking {
            let error = server
                .events()
                .expect(&tag, EventKind::RequestError, PROMPT);
            assert_eq!(error.detail, "CANCELLED");
        }
    }
}

// --- one channel, one server, both faces --------------------------------------

/// The async handler mounted next to the blocking `TestServicer`: the
/// `UnimplementedService` method, answered by an async closure.
fn add_async_echo(server: &Server) {
    let mut service = ServiceBuilder::new("rustgrpc.testing.UnimplementedService");
    service.unary_unary_async(
        "UnimplementedCall",
        |request: EchoRequest, context| async move {
            tokio::time::sleep(ms(5)).await;
            Ok::<_, Status>(EchoResponse {
                message: format!("async:{}", request.message),
                peer: context.peer().to_owned(),
                ..EchoResponse::default()
            })
        },
    );
    server.add_service(service.build());
}

#[test]
fn one_channel_and_one_server_serve_both_faces_at_once() {
    let server = TestServer::start();
    add_async_echo(server.server());
    let channel: Channel = server.channel();
    let stub = TestServiceStub::new(channel.clone());
    let other = rustgrpc_tests::UnimplementedServiceStub::new(channel.clone());

    let rt = runtime();
    let start = Instant::now();
    // Async callers: tasks on the runtime, on the same channel.
    let async_side = {
        let stub = stub.clone();
        let other = other.clone();
        rt.spawn(async move {
            let mut tasks = Vec::new();
            for n in 0..20 {
                let stub = stub.clone();
                let other = other.clone();
                tasks.push(tokio::spawn(async move {
                    let reply = stub
                        .unary_call()
                        .call_async(rustgrpc_tests::echo(&format!("a{n}")))
                        .await
                        .expect("async unary on the blocking servicer");
                    assert_eq!(reply.message, format!("a{n}"));
                    let reply = other
                        .unimplemented_call()
                        .call_async(rustgrpc_tests::echo(&format!("b{n}")))
                        .await
                        .expect("async unary on the async handler");
                    assert_eq!(reply.message, format!("async:b{n}"));
                    let streamed = collect(
                        stub.streaming_output_call()
                            .call_async(EchoRequest {
                                response_count: 5,
                                ..EchoRequest::default()
                            })
                            .await
                            .expect("stream"),
                    )
                    .await;
                    assert_eq!(streamed.len(), 5);
                }));
            }
            for task in tasks {
                task.await.expect("async caller");
            }
        })
    };
    // Blocking callers: plain threads, at the same time.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let stub = stub.clone();
            let other = other.clone();
            std::thread::spawn(move || {
                for n in 0..10 {
                    let reply = stub
                        .unary_call()
                        .call(rustgrpc_tests::echo(&format!("t{t}-{n}")))
                        .expect("blocking unary on the blocking servicer");
                    assert_eq!(reply.message, format!("t{t}-{n}"));
                    let reply = other
                        .unimplemented_call()
                        .call(rustgrpc_tests::echo("x"))
                        .expect("blocking unary on the async handler");
                    assert_eq!(reply.message, "async:x");
                }
                let sum = stub
                    .streaming_input_call()
                    .call((0..5).map(|n| rustgrpc_tests::echo(&n.to_string())))
                    .expect("client streaming");
                assert_eq!(sum.request_count, 5);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("blocking caller");
    }
    rt.block_on(async_side).expect("async callers");
    eprintln!(
        "one channel: 20 async + 4 blocking callers done in {:?}",
        start.elapsed()
    );
}

// --- the blocking face inside tokio -------------------------------------------

#[test]
fn blocking_calls_inside_a_multi_thread_runtime_work() {
    let server = TestServer::start_face(Server::builder(), ServicerFace::Async);
    let target = server.target().to_owned();
    // One worker: a blocking wait that kept it would starve the very tasks
    // that drive the call.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // A channel built inside the runtime uses it; blocking calls from
        // one of its tasks hand the worker off instead of stalling it.
        let inside = TestServiceStub::new(insecure_channel(&target).unwrap());
        let outside = TestServiceStub::new(
            std::thread::scope(|s| s.spawn(|| insecure_channel(&target)).join())
                .unwrap()
                .unwrap(),
        );
        let task = tokio::spawn(async move {
            for stub in [inside, outside] {
                let reply = stub
                    .unary_call()
                    .call(rustgrpc_tests::echo("blocking in a task"))
                    .expect("blocking unary inside the runtime");
                assert_eq!(reply.message, "blocking in a task");
                let responses: Vec<_> = stub
                    .streaming_output_call()
                    .call(EchoRequest {
                        response_count: 3,
                        ..EchoRequest::default()
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .expect("blocking stream inside the runtime");
                assert_eq!(responses.len(), 3);
                let future = stub.unary_call().future(rustgrpc_tests::echo("f"));
                assert_eq!(future.result(Some(PROMPT)).unwrap().message, "f");
                // The blocking Call methods wait without stalling too.
                let responses = stub
                    .streaming_output_call()
                    .call(EchoRequest {
                        response_count: 1,
                        initial_metadata: vec![entry("x-initial", "i")],
                        ..EchoRequest::default()
                    })
                    .unwrap();
                assert_eq!(responses.initial_metadata().get("x-initial"), Some("i"));
                let call = responses.call().clone();
                assert_eq!(responses.count(), 1);
                assert_eq!(call.code(), Code::Ok);
                // And the async face on the same stub, in the same task.
                let reply = stub
                    .unary_call()
                    .call_async(rustgrpc_tests::echo("async"))
                    .await
                    .unwrap();
                assert_eq!(reply.message, "async");
            }
        });
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("no deadlock")
            .expect("the task succeeds");
    });
}

#[test]
fn blocking_calls_inside_a_current_thread_runtime_fail_clearly() {
    let server = TestServer::start_async();
    let target = server.target().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // This runtime drives the channel, so a blocking wait here could
        // never end: it fails at once, saying what to do instead.
        let stub = TestServiceStub::new(insecure_channel(&target).unwrap());
        let start = Instant::now();
        let error = stub
            .unary_call()
            .call(rustgrpc_tests::echo("x"))
            .expect_err("refused");
        assert_eq!(error.code(), Code::FailedPrecondition);
        assert!(
            error.details().contains("call_async"),
            "{}",
            error.details()
        );
        let mut responses = stub
            .streaming_output_call()
            .call(EchoRequest {
                response_count: 1,
                ..EchoRequest::default()
            })
            .expect("the stream starts");
        let error = responses.next().expect("an item").expect_err("refused");
        assert_eq!(error.code(), Code::FailedPrecondition);
        let error = stub
            .streaming_input_call()
            .call(vec![rustgrpc_tests::echo("x")])
            .expect_err("refused");
        assert_eq!(error.code(), Code::FailedPrecondition);
        // Blocking waits on calls this runtime drives are refused too.
        let future = stub.unary_call().future(rustgrpc_tests::echo("f"));
        let error = future.result(None).expect_err("refused");
        assert_eq!(error.code(), Code::FailedPrecondition);
        assert!(error.details().contains("await"), "{}", error.details());
        let responses = stub
            .streaming_output_call()
            .call(EchoRequest {
                response_count: 1,
                ..EchoRequest::default()
            })
            .unwrap();
        let _ = responses.initial_metadata();
        assert_eq!(responses.code(), Code::FailedPrecondition);
        let streamed = stub
            .streaming_output_call()
            .call_async(EchoRequest {
                response_count: 1,
                ..EchoRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(streamed.call().code(), Code::FailedPrecondition);
        assert!(start.elapsed() < PROMPT, "no hang: {:?}", start.elapsed());
        eprintln!(
            "current-thread runtime: blocking calls refused in {:?}: {}",
            start.elapsed(),
            error.details()
        );

        // The async face works on the same runtime and channel, and so
        // does awaiting a call future.
        let future = stub.unary_call().future(rustgrpc_tests::echo("awaited"));
        assert_eq!(future.await.expect("awaited future").message, "awaited");
        let reply = stub
            .unary_call()
            .call_async(rustgrpc_tests::echo("async"))
            .await
            .expect("async unary");
        assert_eq!(reply.message, "async");
        let streamed = collect(
            stub.full_duplex_call()
                .call_async(iter_stream([
                    rustgrpc_tests::echo("a"),
                    rustgrpc_tests::echo("b"),
                ]))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(streamed.len(), 2);
    });

    // A channel driven elsewhere (built outside the runtime) may be used
    // blocking from inside it: the wait blocks this thread only.
    let outside = server.stub();
    let reply = rt.block_on(async {
        outside
            .unary_call()
            .call(rustgrpc_tests::echo("outside"))
            .expect("works")
    });
    assert_eq!(reply.message, "outside");
}

// --- serving inside an existing runtime ---------------------------------------

#[test]
fn serve_runs_inside_an_existing_runtime_until_shutdown() {
    let rt = runtime();
    rt.block_on(async {
        let server = Server::builder().build();
        let events = Events::default();
        rustgrpc_tests::add_async_test_service_servicer_to_server(
            rustgrpc_tests::AsyncTestServicer::new(events.clone()),
            &server,
        );
        // A blocking servicer on the same server, too.
        let port = server.add_insecure_port("127.0.0.1:0").unwrap();
        add_blocking_echo(&server);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = {
            let server = server.clone();
            tokio::spawn(async move {
                server
                    .serve(
                        async {
                            let _ = stop_rx.await;
                        },
                        Some(Duration::from_secs(2)),
                    )
                    .await
            })
        };
        let stub = TestServiceStub::new(insecure_channel(&format!("127.0.0.1:{port}")).unwrap());
        let options = CallOptions::new()
            .wait_for_ready(true)
            .timeout(Duration::from_secs(5));
        let reply = stub
            .unary_call()
            .with_options(options.clone())
            .call_async(rustgrpc_tests::echo("served"))
            .await
            .expect("served inside the runtime");
        assert_eq!(reply.message, "served");
        let other = rustgrpc_tests::UnimplementedServiceStub::new(stub_channel(port));
        let reply = other
            .unimplemented_call()
            .call_async(rustgrpc_tests::echo("b"))
            .await
            .expect("blocking handler next to async ones");
        assert_eq!(reply.message, "blocking:b");

        // An RPC in flight when shutdown starts finishes within the grace.
        let in_flight = {
            let stub = stub.clone();
            tokio::spawn(async move {
                stub.unary_call()
                    .call_async(EchoRequest {
                        message: "late".into(),
                        sleep_ms: 300,
                        ..EchoRequest::default()
                    })
                    .await
            })
        };
        tokio::time::sleep(ms(100)).await;
        let stopping = Instant::now();
        stop_tx.send(()).unwrap();
        let reply = in_flight.await.unwrap().expect("finished within the grace");
        assert_eq!(reply.message, "late");
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("serve returns")
            .unwrap()
            .expect("serve succeeds");
        let took = stopping.elapsed();
        assert!(took < Duration::from_secs(2), "{took:?}");
        server.terminated().await;
        let error = stub
            .unary_call()
            .call_async(rustgrpc_tests::echo("after"))
            .await
            .expect_err("the server is gone");
        assert_eq!(error.code(), Code::Unavailable);
        eprintln!("serve: shutdown with one RPC in flight took {took:?}");
    });
}

fn stub_channel(port: u16) -> Channel {
    insecure_channel(&format!("127.0.0.1:{port}")).unwrap()
}

/// A blocking handler for the `UnimplementedService` method.
fn add_blocking_echo(server: &Server) {
    let mut service = ServiceBuilder::new("rustgrpc.testing.UnimplementedService");
    service.unary_unary("UnimplementedCall", |request: EchoRequest, _ctx| {
        Ok::<_, Status>(EchoResponse {
            message: format!("blocking:{}", request.message),
            ..EchoResponse::default()
        })
    });
    server.add_service(service.build());
}

// --- cancellation by drop, on the wire ------------------------------------------

/// Drops of async calls reach a raw HTTP/2 server as RST_STREAM(CANCEL):
/// a unary call future, a response stream after its first message, and a
/// client-streaming call future while its request stream is still open.
#[test]
fn dropping_async_calls_resets_the_stream_with_cancel() {
    use rustgrpc_tests::raw;

    let (reset_tx, reset_rx) = std::sync::mpsc::channel::<(String, Option<h2::Reason>)>();
    let reset_tx = std::sync::Arc::new(std::sync::Mutex::new(reset_tx));
    let server_rt = raw::runtime();
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    server_rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let reset_tx = std::sync::Arc::clone(&reset_tx);
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    let reset_tx = std::sync::Arc::clone(&reset_tx);
                    tokio::spawn(async move {
                        let path = request.uri().path().to_owned();
                        let _body = request.into_body();
                        // Server streaming: one message, then nothing.
                        let reason = if path.ends_with("/StreamingOutputCall") {
                            let response = http::Response::builder()
                                .status(200)
                                .header("content-type", "application/grpc")
                                .body(())
                                .unwrap();
                            let mut send = respond.send_response(response, false).unwrap();
                            send.send_data(raw::frame(&EchoResponse::default()), false)
                                .unwrap();
                            std::future::poll_fn(|cx| send.poll_reset(cx)).await
                        } else {
                            std::future::poll_fn(|cx| respond.poll_reset(cx)).await
                        };
                        let _ = reset_tx.lock().unwrap().send((path, reason.ok()));
                    });
                }
            });
        }
    });

    let rt = runtime();
    rt.block_on(async {
        let stub = TestServiceStub::new(stub_channel(port));
        // A unary call future dropped after 100 ms.
        let dropped = tokio::time::timeout(ms(100), stub.unary_call().call_async(slow())).await;
        assert!(dropped.is_err(), "the call never ends on its own");
        // A response stream dropped after its first message.
        let mut responses = stub
            .streaming_output_call()
            .call_async(slow())
            .await
            .unwrap();
        next(&mut responses).await.expect("a message").unwrap();
        drop(responses);
        // A client-streaming call future dropped with its requests open.
        let (tx, requests) = stream_channel(1);
        tx.send(slow()).await.unwrap();
        let dropped =
            tokio::time::timeout(ms(100), stub.streaming_input_call().call_async(requests)).await;
        assert!(dropped.is_err());
        drop(tx);
    });
    let mut resets: Vec<(String, Option<h2::Reason>)> = (0..3)
        .map(|_| reset_rx.recv_timeout(PROMPT).expect("a reset"))
        .collect();
    resets.sort_by(|a, b| a.0.cmp(&b.0));
    let service = "/rustgrpc.testing.TestService";
    assert_eq!(
        resets,
        [
            (
                format!("{service}/StreamingInputCall"),
                Some(h2::Reason::CANCEL)
            ),
            (
                format!("{service}/StreamingOutputCall"),
                Some(h2::Reason::CANCEL)
            ),
            (format!("{service}/UnaryCall"), Some(h2::Reason::CANCEL)),
        ]
    );
    server_rt.shutdown_timeout(Duration::from_secs(1));
}
