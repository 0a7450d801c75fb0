//! A greeter server with gRPC's standard per-call metrics, served as
//! Prometheus text on `http://HOST:METRICS_PORT/metrics`, and a
//! `tracing` span per call (OpenTelemetry RPC fields, printed to stderr
//! when the call ends).
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin metrics_server -- --port 50051 --metrics_port 9464
//! cargo run -p rustgrpc-examples --bin greeter_client -- --target localhost:50051
//! curl http://localhost:9464/metrics
//! ```
//!
//! The metrics come from `ServerMetrics::tracer`, a call tracer that the
//! server tells of every message with its size on the wire (compressed if
//! it was) and of every call's status, on gRPC, gRPC-Web and Connect; the
//! spans from `SpanInterceptor`. The servicer is plain.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use grpc_core::{Requests, Server, ServicerContext, Status};
use grpc_metrics::prometheus_client::encoding::text::encode;
use grpc_metrics::prometheus_client::registry::Registry;
use grpc_metrics::{ServerMetrics, SpanInterceptor};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{
    GreeterServicer, HelloReply, HelloRequest, add_greeter_servicer_to_server,
};

const USAGE: &str = "\
metrics_server: a greeter with gRPC's standard metrics on /metrics

usage: metrics_server [--port N] [--metrics_port M] [--host ADDR]
  --port N          gRPC port (default 50051; 0 picks a free one)
  --metrics_port M  HTTP port of /metrics (default 9464; 0 picks a free one)
  --host ADDR       address to bind both (default 127.0.0.1)";

/// Longest HTTP request head read from a scraper.
const MAX_REQUEST_HEAD: usize = 8 << 10;

struct Greeter;

/// Greetings per `SayHelloStreamReply` call.
const STREAMED_GREETINGS: usize = 3;

impl GreeterServicer for Greeter {
    fn say_hello(
        &self,
        request: HelloRequest,
        _context: &ServicerContext,
    ) -> Result<HelloReply, Status> {
        if request.name.is_empty() {
            return Err(Status::invalid_argument("name must not be empty"));
        }
        Ok(HelloReply {
            message: format!("Hello, {}!", request.name),
        })
    }

    fn say_hello_stream_reply(
        &self,
        request: HelloRequest,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<HelloReply, Status>> + Send + 'static, Status> {
        Ok((1..=STREAMED_GREETINGS).map(move |n| {
            Ok(HelloReply {
                message: format!("Hello #{n}, {}!", request.name),
            })
        }))
    }

    fn say_hello_bidi_stream(
        &self,
        _requests: Requests<HelloRequest>,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<HelloReply, Status>> + Send + 'static, Status> {
        Err::<std::iter::Empty<_>, _>(Status::unimplemented("not served here"))
    }
}

/// Answers `GET /metrics` with the registry's text, anything else with 404.
fn scrape(stream: TcpStream, registry: &Registry) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_REQUEST_HEAD as u64);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers up to the blank line.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let (status, content_type, body) = if request_line.starts_with("GET /metrics ") {
        let mut body = String::new();
        encode(&mut body, registry).map_err(std::io::Error::other)?;
        (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body,
        )
    } else {
        ("404 Not Found", "text/plain", "try /metrics\n".to_owned())
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(USAGE, &["port", "metrics_port", "host"]);
    let host = args.get("host").unwrap_or("127.0.0.1");
    let port: u16 = args.get_or("port", 50051);
    let metrics_port: u16 = args.get_or("metrics_port", 9464);

    // The spans, printed to stderr as each call ends.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();

    // README: metrics server
    let mut registry = Registry::default();
    let metrics = ServerMetrics::register(&mut registry);
    let server = Server::builder()
        .tracer(metrics.tracer()) // grpc.server.call.*, message sizes included
        .interceptor(SpanInterceptor) // a span per call
        .build();
    // README: end
    add_greeter_servicer_to_server(Greeter, &server);
    let bound = server.add_insecure_port(&format!("{host}:{port}"))?;
    server.start()?;

    let listener = TcpListener::bind((host, metrics_port))?;
    let scrape_port = listener.local_addr()?.port();
    println!("Server started, listening on {bound}");
    println!("Metrics on http://{host}:{scrape_port}/metrics");
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            if let Err(error) = scrape(stream, &registry) {
                eprintln!("scrape failed: {error}");
            }
        }
    });

    let stopper = server.clone();
    ctrlc::set_handler(move || {
        stopper.stop(Some(Duration::from_secs(5)));
    })?;
    server.wait_for_termination(None);
    Ok(())
}
