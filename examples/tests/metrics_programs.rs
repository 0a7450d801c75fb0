//! `metrics_server` as a process: calls over a real socket (gRPC and
//! Connect, unary and streaming) from a client recording its own metrics,
//! then a scrape of the server's `/metrics` page, whose numbers must match
//! the calls made; and the README's metrics snippets are this code.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

use grpc_core::{CallOptions, ChannelBuilder, ClientProtocol, Code, Metadata, intercept_channel};
use grpc_metrics::ClientMetrics;
use grpc_metrics::prometheus_client::encoding::text::encode;
use grpc_metrics::prometheus_client::registry::Registry;
use prost::Message;
use rustgrpc_examples::helloworld::{GreeterStub, HelloReply, HelloRequest};

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

    let target = format!("127.0.0.1:{grpc_port}");
    // README: metrics client
    let mut registry = Registry::default();
    let metrics = ClientMetrics::register(&mut registry);
    let channel = ChannelBuilder::new(target)
        .tracer(metrics.attempt_tracer()) // grpc.client.attempt.*: every attempt
        .build()
        .expect("channel");
    let call_metrics = metrics.call_interceptor(channel.target()); // grpc.client.call.duration
    let channel = intercept_channel(channel, call_metrics);
    // README: end
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
    // A server stream, and a Connect call on the same port.
    let streamed: Vec<HelloReply> = stub
        .say_hello_stream_reply()
        .call(HelloRequest { name: "Cy".into() })
        .expect("stream")
        .collect::<Result<_, _>>()
        .expect("replies");
    assert_eq!(streamed.len(), 3);
    let connect = ChannelBuilder::new(format!("127.0.0.1:{grpc_port}"))
        .protocol(ClientProtocol::connect())
        .build()
        .expect("Connect channel");
    let dee = GreeterStub::new(connect)
        .say_hello()
        .call(HelloRequest { name: "Dee".into() })
        .expect("Connect call");

    // The client's side of the four gRPC calls (the Connect one had its
    // own channel), recorded before each call returned.
    let mut client_page = String::new();
    encode(&mut client_page, &registry).expect("client metrics");
    let attempts = |method: &str, status: &str| {
        let series = format!(
            "grpc_client_attempt_duration_seconds_count{{grpc_method=\"helloworld.Greeter/{method}\",grpc_target=\"127.0.0.1:{grpc_port}\",grpc_status=\"{status}\"}}"
        );
        sample(&client_page, &series).map(str::to_owned)
    };
    assert_eq!(
        attempts("SayHello", "OK").as_deref(),
        Some("2"),
        "{client_page}"
    );
    assert_eq!(
        attempts("SayHelloStreamReply", "OK").as_deref(),
        Some("1"),
        "{client_page}"
    );
    assert!(
        client_page.contains(
            "grpc_client_call_duration_seconds_count{grpc_method=\"helloworld.Greeter/SayHello\""
        ),
        "{client_page}"
    );

    // The server records a call once its status is sent: scrape until
    // the five calls have ended.
    let page = scrape_after_ended(metrics_port, 5);
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
    assert_eq!(closed.len(), 5, "{spans}");
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
        Some("4"),
        "{page}"
    );
    let count = |metric: &str, status: &str| {
        sample(
            &page,
            &format!("{metric}_count{{{method},grpc_status=\"{status}\"}}"),
        )
    };
    assert_eq!(count("grpc_server_call_duration_seconds", "OK"), Some("3"));
    assert_eq!(
        count("grpc_server_call_duration_seconds", "INVALID_ARGUMENT"),
        Some("1")
    );
    let sizes = |method: &str, direction: &str| -> f64 {
        let series = format!(
            "grpc_server_call_{direction}_total_compressed_message_size_bytes_sum{{grpc_method=\"helloworld.Greeter/{method}\",grpc_status=\"OK\"}}"
        );
        sample(&page, &series)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {page}"))
    };
    // "Hello, Ann!", "Hello, Bob!" and "Hello, Dee!" (over Connect):
    // 13 bytes each (tag, length, 11); the requests 5 bytes each.
    assert_eq!(dee.encoded_len(), 13);
    assert_eq!(sizes("SayHello", "sent"), 39.0, "{page}");
    assert_eq!(sizes("SayHello", "rcvd"), 15.0, "{page}");
    // The stream: three replies, one 4-byte request.
    let streamed_bytes: usize = streamed.iter().map(Message::encoded_len).sum();
    assert_eq!(sizes("SayHelloStreamReply", "sent"), streamed_bytes as f64);
    assert_eq!(sizes("SayHelloStreamReply", "rcvd"), 4.0, "{page}");
}

/// The `/metrics` page once `calls` calls have a duration recorded
/// (bounded: the page as it is after 20 s).
fn scrape_after_ended(port: u16, calls: u64) -> String {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let page = http_get(port, "/metrics");
        let ended: u64 = page
            .lines()
            .filter(|line| line.starts_with("grpc_server_call_duration_seconds_count{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        if ended >= calls || Instant::now() > give_up {
            return page;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn readme_metrics_snippets_are_the_example_code() {
    let server = common::marked(
        &common::read("src/bin/metrics_server.rs"),
        "// README: metrics server",
        "// README: end",
    );
    let client = common::marked(
        &common::read("tests/metrics_programs.rs"),
        "// README: metrics client",
        "// README: end",
    );
    let readme =
        common::readme_rust_blocks(&common::read("../README.md"), "## Metrics and tracing");
    assert_eq!(readme, [server, client].concat());
}
