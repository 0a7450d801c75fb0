//! `grpc_metrics::MetricsInterceptor` on a real server: what the
//! Prometheus text says after real calls, by method and final status.

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
