//! `metrics_server` as a process: calls over a real socket, then a scrape
//! of its `/metrics` page, whose numbers must match the calls made.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use grpc_core::{CallOptions, Code, Metadata};
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest};

/// GETs `path` from 127.0.0.1:`port`; the whole response.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to /metrics");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}

/// The value of the sample line starting with `series`.
fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
}

#[test]
fn metrics_page_counts_the_calls_made() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_metrics_server"))
        .args(["--port", "0", "--metrics_port", "0", "--host", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start metrics_server");
    let mut lines = BufReader::new(server.stdout.take().expect("piped stdout")).lines();
    let mut port_after = |prefix: &str| -> u16 {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        line.strip_prefix(prefix)
            .and_then(|rest| rest.trim_end_matches("/metrics").parse().ok())
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
    };
    let grpc_port = port_after("Server started, listening on ");
    let metrics_port = port_after("Metrics on http://127.0.0.1:");

    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{grpc_port}")).expect("channel");
    let stub = GreeterStub::new(channel);
    let traced = CallOptions::new().metadata(
        Metadata::from_pairs([(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )])
        .expect("metadata"),
    );
    for name in ["Ann", "Bob"] {
        let reply = stub
            .say_hello()
            .with_options(traced.clone())
            .call(HelloRequest { name: name.into() });
        assert!(reply.is_ok(), "{reply:?}");
    }
    let failed = stub.say_hello().call(HelloRequest::default());
    assert_eq!(failed.err().map(|e| e.code()), Some(Code::InvalidArgument));

    let page = http_get(metrics_port, "/metrics");
    let missing = http_get(metrics_port, "/other");
    let _ = server.kill();
    let mut spans = String::new();
    if let Some(mut stderr) = server.stderr.take() {
        let _ = stderr.read_to_string(&mut spans);
    }
    let _ = server.wait();

    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: application/openmetrics-text"));
    assert!(page.trim_end().ends_with("# EOF"), "{page}");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

    // One span per call, joined to the caller's trace when it sent one.
    let closed: Vec<&str> = spans
        .lines()
        .filter(|l| l.contains("grpc.server{"))
        .collect();
    assert_eq!(closed.len(), 3, "{spans}");
    let traced = closed
        .iter()
        .filter(|l| l.contains("trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\""))
        .count();
    assert_eq!(traced, 2, "{spans}");
    assert!(
        closed.iter().any(|l| l.contains("rpc.grpc.status_code=3")),
        "{spans}"
    );

    let method = "grpc_method=\"helloworld.Greeter/SayHello\"";
    assert_eq!(
        sample(
            &page,
            &format!("grpc_server_call_started_total{{{method}}}")
        ),
        Some("3"),
        "{page}"
    );
    let count = |metric: &str, status: &str| {
        sample(
            &page,
            &format!("{metric}_count{{{method},grpc_status=\"{status}\"}}"),
        )
    };
    assert_eq!(count("grpc_server_call_duration_seconds", "OK"), Some("2"));
    assert_eq!(
        count("grpc_server_call_duration_seconds", "INVALID_ARGUMENT"),
        Some("1")
    );
    // "Hello, Ann!" and "Hello, Bob!" encode to 13 bytes each (tag, length, 11).
    assert_eq!(
        sample(
            &page,
            &format!(
                "grpc_server_call_sent_total_compressed_message_size_bytes_sum{{{method},grpc_status=\"OK\"}}"
            )
        ),
        Some("26.0")
    );
    // The requests: "Ann" and "Bob", 5 bytes each.
    assert_eq!(
        sample(
            &page,
            &format!(
                "grpc_server_call_rcvd_total_compressed_message_size_bytes_sum{{{method},grpc_status=\"OK\"}}"
            )
        ),
        Some("10.0")
    );
}
