//! grpc-metrics on real servers and channels: what the Prometheus text
//! says after real calls, by method and final status — the call tracers
//! (server sizes on gRPC and Connect, every client attempt of a retried
//! call) and the deprecated interceptor (counts and durations only).

use std::time::{Duration, Instant};

use grpc_core::{CallOptions, Code, Server};
use grpc_metrics::ServerMetrics;
use grpc_metrics::prometheus_client::encoding::text::encode;
use grpc_metrics::prometheus_client::registry::Registry;
use rustgrpc_tests::{EchoRequest, TestServer, UnimplementedServiceStub, echo};

const UNARY: &str = "grpc_method=\"rustgrpc.testing.TestService/UnaryCall\"";

fn text(registry: &Registry) -> String {
    let mut text = String::new();
    encode(&mut text, registry).expect("encode");
    text
}

fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
}

/// How many calls ended with `status`.
fn ended(text: &str, status: &str) -> u64 {
    let series =
        format!("grpc_server_call_duration_seconds_count{{{UNARY},grpc_status=\"{status}\"}}");
    sample(text, &series)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The final statuses this test produces.
const STATUSES: [&str; 4] = ["OK", "NOT_FOUND", "DEADLINE_EXCEEDED", "CANCELLED"];

/// The server records a call after the client has its answer: wait
/// (boundedly) until `calls` calls have ended.
fn wait_for_ended(registry: &Registry, calls: u64) -> String {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let text = text(registry);
        let total: u64 = STATUSES.iter().map(|status| ended(&text, status)).sum();
        if total >= calls || Instant::now() > give_up {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
#[allow(deprecated)] // the interceptor keeps working, without sizes
fn interceptor_counts_calls_by_method_and_status() {
    let mut registry = Registry::default();
    let metrics = ServerMetrics::register(&mut registry);
    let server = TestServer::start_with(Server::builder().interceptor(metrics.interceptor()));
    let stub = server.stub();

    for message in ["a", "b"] {
        assert!(stub.unary_call().call(echo(message)).is_ok());
    }
    let not_found = EchoRequest {
        fail_code: Code::NotFound.value(),
        fail_message: "no such thing".into(),
        ..echo("c")
    };
    let error = stub.unary_call().call(not_found).err();
    assert_eq!(error.map(|e| e.code()), Some(Code::NotFound));
    let slow = EchoRequest {
        sleep_ms: 5_000,
        ..echo("slow")
    };
    let error = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_millis(100)))
        .call(slow)
        .err();
    assert_eq!(error.map(|e| e.code()), Some(Code::DeadlineExceeded));
    // A method the server does not have never reaches interceptors.
    let unknown = UnimplementedServiceStub::new(server.channel())
        .unimplemented_call()
        .call(echo("x"))
        .err();
    assert_eq!(unknown.map(|e| e.code()), Some(Code::Unimplemented));

    let text = wait_for_ended(&registry, 4);
    assert_eq!(
        sample(&text, &format!("grpc_server_call_started_total{{{UNARY}}}")),
        Some("4"),
        "{text}"
    );
    assert_eq!(ended(&text, "OK"), 2, "{text}");
    assert_eq!(ended(&text, "NOT_FOUND"), 1, "{text}");
    // The expired call: the server's own deadline or the client's
    // RST_STREAM, whichever it saw first.
    assert_eq!(
        ended(&text, "DEADLINE_EXCEEDED") + ended(&text, "CANCELLED"),
        1,
        "{text}"
    );
    assert!(!text.contains("UnimplementedService"), "{text}");
    // No sizes through an interceptor: the size histograms have no series.
    assert!(
        !text.contains("grpc_server_call_sent_total_compressed_message_size_bytes_count{"),
        "{text}"
    );
    server.stop(None).wait();
}

/// The value of `series` as a number (0 when absent).
fn value(text: &str, series: &str) -> f64 {
    sample(text, series)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

fn size_sum(text: &str, direction: &str, labels: &str) -> f64 {
    let series = format!(
        "grpc_server_call_{direction}_total_compressed_message_size_bytes_sum{{{labels},grpc_status=\"OK\"}}"
    );
    value(text, &series)
}

#[test]
fn tracer_records_the_sizes_of_grpc_and_connect_calls() {
    use grpc_metrics::SpanInterceptor;
    use rustgrpc_tests::raw::runtime;
    use rustgrpc_tests::web::{Client, Version, full};

    let mut registry = Registry::default();
    let metrics = ServerMetrics::register(&mut registry);
    let builder = Server::builder()
        .tracer(metrics.tracer())
        .interceptor(SpanInterceptor);
    let server = TestServer::start_with(builder);
    let request = EchoRequest {
        response_size: 300,
        ..echo("sized")
    };
    let reply = server.stub().unary_call().call(request.clone()).unwrap();
    let request_bytes = prost::Message::encode_to_vec(&request);
    let connect_reply = runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        let post = http::Request::post("/rustgrpc.testing.TestService/UnaryCall")
            .header("content-type", "application/proto")
            .body(full(request_bytes.clone()))
            .unwrap();
        client.call(post).await.1
    });
    let text = wait_for_ended(&registry, 2);
    assert_eq!(ended(&text, "OK"), 2, "{text}");
    let received = size_sum(&text, "rcvd", UNARY);
    let sent = size_sum(&text, "sent", UNARY);
    eprintln!("2 calls (gRPC, Connect): {received} B received, {sent} B sent");
    assert_eq!(received, 2.0 * request_bytes.len() as f64, "{text}");
    let replies = prost::Message::encoded_len(&reply) + connect_reply.len();
    assert_eq!(sent, replies as f64, "{text}");
    assert!(sent > 600.0, "{text}");
}

#[test]
fn attempt_tracer_counts_every_attempt_of_a_retried_call() {
    use grpc_core::{ChannelBuilder, Metadata, ServiceConfig, intercept_channel};
    use grpc_metrics::ClientMetrics;
    use rustgrpc_tests::backends::{Backend, CALL_ID, FAIL_FIRST, WHO};

    let mut registry = Registry::default();
    let server_metrics = ServerMetrics::register(&mut registry);
    let client_metrics = ClientMetrics::register(&mut registry);
    let builder = Server::builder().tracer(server_metrics.tracer());
    let backend = Backend::start_with("flaky", builder, 0);
    let config = ServiceConfig::from_json(
        r#"{"methodConfig": [{"name": [{"service": "demo.Lb"}], "retryPolicy": {
            "maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
            "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
    )
    .unwrap();
    let channel = ChannelBuilder::new(backend.address())
        .service_config(config)
        .tracer(client_metrics.attempt_tracer())
        .build()
        .unwrap();
    let target = channel.target().to_owned();
    let channel = intercept_channel(channel, client_metrics.call_interceptor(&target));
    let options = CallOptions::new()
        .timeout(Duration::from_secs(20))
        .metadata(Metadata::from_pairs([(CALL_ID, "retried"), (FAIL_FIRST, "2")]).unwrap());
    let reply = channel
        .unary_unary::<String, String>(WHO)
        .with_options(options)
        .call(String::new());
    assert_eq!(reply.unwrap(), "flaky");

    let text = text(&registry);
    let method = "grpc_method=\"demo.Lb/Who\"";
    let client = format!("{method},grpc_target=\"{target}\"");
    let started = format!("grpc_client_attempt_started_total{{{client}}}");
    assert_eq!(value(&text, &started), 3.0, "{text}");
    let attempts = |status: &str| {
        let series = format!(
            "grpc_client_attempt_duration_seconds_count{{{client},grpc_status=\"{status}\"}}"
        );
        value(&text, &series)
    };
    assert_eq!(
        (attempts("UNAVAILABLE"), attempts("OK")),
        (2.0, 1.0),
        "{text}"
    );
    // One call, as the application saw it.
    let calls = format!("grpc_client_call_duration_seconds_count{{{client},grpc_status=\"OK\"}}");
    assert_eq!(value(&text, &calls), 1.0, "{text}");
    // The server saw the three attempts as three calls.
    let server_started = format!("grpc_server_call_started_total{{{method}}}");
    assert_eq!(value(&text, &server_started), 3.0, "{text}");
    // "flaky" came back once: the received sizes are the successful attempt's.
    let received = format!(
        "grpc_client_attempt_rcvd_total_compressed_message_size_bytes_sum{{{client},grpc_status=\"OK\"}}"
    );
    assert_eq!(value(&text, &received), 7.0, "{text}");
}

#[test]
fn client_span_interceptor_sends_a_traceparent_the_server_joins() {
    use grpc_core::{Metadata, intercept_channel};
    use grpc_metrics::{ClientSpanInterceptor, TraceParent};

    let server = TestServer::start();
    let channel = server.channel();
    let target = channel.target().to_owned();
    let stub = rustgrpc_tests::TestServiceStub::new(intercept_channel(
        channel,
        ClientSpanInterceptor::new(&target),
    ));
    let seen = |options: CallOptions| -> TraceParent {
        let reply = stub
            .unary_call()
            .with_options(options)
            .call(echo("traced"))
            .unwrap();
        let sent = reply
            .invocation_metadata
            .iter()
            .find(|entry| entry.key == "traceparent")
            .expect("a traceparent reached the server");
        TraceParent::parse(std::str::from_utf8(&sent.value).unwrap()).expect("valid traceparent")
    };
    // A new trace, sampled.
    let (first, second) = (seen(CallOptions::new()), seen(CallOptions::new()));
    assert!(first.is_sampled());
    assert_ne!(first.trace_id(), second.trace_id());
    // A call carrying its caller's context continues that trace.
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let options =
        CallOptions::new().metadata(Metadata::from_pairs([("traceparent", caller)]).unwrap());
    let child = seen(options);
    assert_eq!(child.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(child.parent_id(), "00f067aa0ba902b7");
    assert!(!child.is_sampled(), "the caller's flags are kept");
}
