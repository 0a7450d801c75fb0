//! The rich-error greeter server (grpcio's `examples/python/errors`
//! server): failures carry a `google.rpc.Status` with standard details in
//! `grpc-status-details-bin`, serving until Ctrl-C.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin rich_error_server -- --port 50051
//! ```
//!
//! - An empty name: `INVALID_ARGUMENT` with `BadRequest` and `ErrorInfo`.
//! - A name greeted before: `RESOURCE_EXHAUSTED` with `QuotaFailure`,
//!   `RetryInfo` and `Help` (each name is greeted once).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use grpc_core::{Code, Server, ServicerContext, Status};
use grpc_status::{
    BadRequest, ErrorInfo, Help, QuotaFailure, RetryInfo, RichStatus, bad_request, help,
    quota_failure,
};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{
    GreeterServicer, HelloReply, HelloRequest, add_greeter_servicer_to_server,
};

const USAGE: &str = "\
rich_error_server: a greeter whose errors carry google.rpc.Status details

usage: rich_error_server [--port N] [--host ADDR]
  --port N      port to listen on (default 50051; 0 picks a free one)
  --host ADDR   address to bind (default [::], falling back to 0.0.0.0)";

/// Greets each name once.
#[derive(Default)]
struct Greeter {
    greeted: Mutex<HashSet<String>>,
}

// README: rich errors (server)
/// `INVALID_ARGUMENT` for an empty name, with the field that is wrong.
fn empty_name() -> Status {
    RichStatus::new(Code::InvalidArgument, "name must not be empty")
        .with_bad_request(BadRequest {
            field_violations: vec![bad_request::FieldViolation {
                field: "name".into(),
                description: "must not be empty".into(),
                ..Default::default()
            }],
        })
        .with_error_info(ErrorInfo {
            reason: "NAME_EMPTY".into(),
            domain: "greeter.example.com".into(),
            ..Default::default()
        })
        .to_status()
}
// README: end

/// `RESOURCE_EXHAUSTED` for a name greeted before: grpcio's
/// `create_greet_limit_exceed_error_status`.
fn limit_exceeded(name: &str) -> Status {
    RichStatus::new(Code::ResourceExhausted, "request limit exceeded")
        .with_quota_failure(QuotaFailure {
            violations: vec![quota_failure::Violation {
                subject: format!("name: {name}"),
                description: "limit one greeting per person".into(),
                ..Default::default()
            }],
        })
        .with_retry_info(RetryInfo::after(Duration::from_secs(60)))
        .with_help(Help {
            links: vec![help::Link {
                description: "greeting limits".into(),
                url: "https://greeter.example.com/limits".into(),
            }],
        })
        .to_status()
}

impl GreeterServicer for Greeter {
    fn say_hello(
        &self,
        request: HelloRequest,
        _context: &ServicerContext,
    ) -> Result<HelloReply, Status> {
        if request.name.is_empty() {
            return Err(empty_name());
        }
        let first_time = self
            .greeted
            .lock()
            .map_err(|_| Status::internal("greeted names are poisoned"))?
            .insert(request.name.clone());
        if !first_time {
            return Err(limit_exceeded(&request.name));
        }
        Ok(HelloReply {
            message: format!("Hello, {}!", request.name),
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(USAGE, &["port", "host"]);
    let port: u16 = args.get_or("port", 50051);

    let server = Server::builder().max_workers(4).build();
    add_greeter_servicer_to_server(Greeter::default(), &server);
    let bound = match args.get("host") {
        Some(host) => server.add_insecure_port(&format!("{host}:{port}"))?,
        None => server
            .add_insecure_port(&format!("[::]:{port}"))
            .or_else(|_| server.add_insecure_port(&format!("0.0.0.0:{port}")))?,
    };
    server.start()?;
    println!("Server started, listening on {bound} (Ctrl-C to stop)");

    let stopper = server.clone();
    ctrlc::set_handler(move || {
        stopper.stop(Some(Duration::from_secs(5)));
    })?;
    server.wait_for_termination(None);
    Ok(())
}
