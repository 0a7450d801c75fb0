//! The recorders against the exposition text: what each hook call adds.

use std::io::Write;
use std::sync::{Arc, Mutex};

use grpc_core::{Code, Metadata};
use grpc_metrics::prometheus_client::encoding::text::encode;
use grpc_metrics::prometheus_client::registry::Registry;
use grpc_metrics::{ClientMetrics, MethodLabel, ServerMetrics, record_status, server_span};

fn text(registry: &Registry) -> String {
    let mut text = String::new();
    encode(&mut text, registry).expect("encode");
    text
}

/// The value of the sample line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(str::to_owned)
}

const SAY_HELLO: &str = "{grpc_method=\"helloworld.Greeter/SayHello\"";

#[test]
fn server_calls_are_counted_by_method_and_status() {
    let mut registry = Registry::default();
    let metrics = ServerMetrics::register(&mut registry);
    let method = || MethodLabel::registered("/helloworld.Greeter/SayHello");

    let ok = metrics.call_started(method());
    ok.message_received(10);
    ok.message_sent(20);
    ok.message_sent(22);
    ok.finish(Code::Ok);
    ok.finish(Code::Internal); // ignored: a call ends once

    let failed = metrics.call_started(method());
    failed.message_received(5);
    failed.finish(Code::InvalidArgument);

    drop(metrics.call_started(method())); // never finished: CANCELLED
    metrics
        .call_started(MethodLabel::other())
        .finish(Code::Unimplemented);

    let text = text(&registry);
    let started = format!("grpc_server_call_started_total{SAY_HELLO}}}");
    assert_eq!(sample(&text, &started).as_deref(), Some("3"), "{text}");
    let other = "grpc_server_call_started_total{grpc_method=\"other\"}";
    assert_eq!(sample(&text, other).as_deref(), Some("1"));
    for (status, count) in [("OK", "1"), ("INVALID_ARGUMENT", "1"), ("CANCELLED", "1")] {
        let series = format!(
            "grpc_server_call_duration_seconds_count{SAY_HELLO},grpc_status=\"{status}\"}}"
        );
        assert_eq!(
            sample(&text, &series).as_deref(),
            Some(count),
            "{series}\n{text}"
        );
    }
    assert!(!text.contains("grpc_status=\"INTERNAL\""));
    let sent = format!(
        "grpc_server_call_sent_total_compressed_message_size_bytes_sum{SAY_HELLO},grpc_status=\"OK\"}}"
    );
    assert_eq!(sample(&text, &sent).as_deref(), Some("42.0"));
    let rcvd = format!(
        "grpc_server_call_rcvd_total_compressed_message_size_bytes_sum{SAY_HELLO},grpc_status=\"INVALID_ARGUMENT\"}}"
    );
    assert_eq!(sample(&text, &rcvd).as_deref(), Some("5.0"));
    // 42 bytes fall in the 1024 bucket, not in the 0 one.
    let bucket = "grpc_server_call_sent_total_compressed_message_size_bytes_bucket\
        {le=\"1024.0\",grpc_method=\"helloworld.Greeter/SayHello\",grpc_status=\"OK\"}";
    assert_eq!(sample(&text, bucket).as_deref(), Some("1"), "{text}");
}

#[test]
fn client_attempts_and_calls_are_counted_apart() {
    let mut registry = Registry::default();
    let metrics = ClientMetrics::register(&mut registry);
    let call = metrics.call_started(
        MethodLabel::registered("/helloworld.Greeter/SayHello"),
        "dns:///localhost:50051",
    );
    // A retried call: the first attempt fails UNAVAILABLE, the second works.
    let first = call.attempt_started();
    first.message_sent(8);
    first.finish(Code::Unavailable);
    let second = call.attempt_started();
    second.message_sent(8);
    second.message_received(30);
    second.finish(Code::Ok);
    call.finish(Code::Ok);

    let text = text(&registry);
    let labels =
        "{grpc_method=\"helloworld.Greeter/SayHello\",grpc_target=\"dns:///localhost:50051\"";
    let started = format!("grpc_client_attempt_started_total{labels}}}");
    assert_eq!(sample(&text, &started).as_deref(), Some("2"), "{text}");
    for status in ["UNAVAILABLE", "OK"] {
        let series = format!(
            "grpc_client_attempt_duration_seconds_count{labels},grpc_status=\"{status}\"}}"
        );
        assert_eq!(sample(&text, &series).as_deref(), Some("1"), "{series}");
    }
    let call_ok = format!("grpc_client_call_duration_seconds_count{labels},grpc_status=\"OK\"}}");
    assert_eq!(sample(&text, &call_ok).as_deref(), Some("1"));
    assert!(!text.contains("grpc_client_call_duration_seconds_count{grpc_method=\"helloworld.Greeter/SayHello\",grpc_target=\"dns:///localhost:50051\",grpc_status=\"UNAVAILABLE\"}"));
    let received = format!(
        "grpc_client_attempt_rcvd_total_compressed_message_size_bytes_sum{labels},grpc_status=\"OK\"}}"
    );
    assert_eq!(sample(&text, &received).as_deref(), Some("30.0"));
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn server_spans_carry_the_rpc_conventions_and_the_callers_trace() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let metadata = Metadata::from_pairs([(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )])
    .expect("valid metadata");
    tracing::subscriber::with_default(subscriber, || {
        let span = server_span(
            "/helloworld.Greeter/SayHello",
            "ipv4:127.0.0.1:4242",
            &metadata,
        );
        record_status(&span, Code::NotFound);
        drop(span);
    });
    let output = String::from_utf8_lossy(&captured.0.lock().expect("buffer")).into_owned();
    for field in [
        "grpc.server",
        "rpc.system=\"grpc\"",
        "rpc.service=helloworld.Greeter",
        "rpc.method=SayHello",
        "otel.kind=\"server\"",
        "network.peer.address=ipv4:127.0.0.1:4242",
        "rpc.grpc.status_code=5",
        "trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"",
        "parent_span_id=\"00f067aa0ba902b7\"",
    ] {
        assert!(output.contains(field), "{field} missing from {output}");
    }
}
