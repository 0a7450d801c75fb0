//! The rich-error greeter client (grpcio's `examples/python/errors`
//! client): reads the `google.rpc.Status` details of each failure with
//! `grpc_status::from_call`, against a running `rich_error_server`.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin rich_error_client -- --target localhost:50051 --name you
//! ```
//!
//! Greets `--name` twice (the second call exceeds the server's limit) and
//! an empty name, and prints every detail of each error.

use grpc_core::RpcError;
use grpc_status::{Detail, RichStatus};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest};

const USAGE: &str = "\
rich_error_client: prints the google.rpc.Status details of failed calls

usage: rich_error_client [--target HOST:PORT] [--name NAME]
  --target T   server address (default localhost:50051)
  --name NAME  who to greet (default world)";

// README: rich errors (client)
/// Prints what a failed call says, details included.
fn explain(error: &RpcError) {
    println!("  {} {:?}", error.code().name(), error.details());
    match grpc_status::from_call(error) {
        Ok(Some(rich)) => print_details(&rich),
        Ok(None) => println!("  (no details)"),
        // The google.rpc.Status disagrees with grpc-status/grpc-message,
        // or is malformed.
        Err(problem) => println!("  unusable details: {problem}"),
    }
}

fn print_details(rich: &RichStatus) {
    if let Some(info) = rich.error_info() {
        println!("  ErrorInfo: {} in {}", info.reason, info.domain);
    }
    for detail in rich.details() {
        match detail {
            Detail::BadRequest(bad) => {
                for violation in &bad.field_violations {
                    println!(
                        "  BadRequest: {}: {}",
                        violation.field, violation.description
                    );
                }
            }
            Detail::QuotaFailure(quota) => {
                for violation in &quota.violations {
                    println!(
                        "  QuotaFailure: {}: {}",
                        violation.subject, violation.description
                    );
                }
            }
            Detail::RetryInfo(retry) => {
                println!(
                    "  RetryInfo: retry in {:?}",
                    retry.delay().unwrap_or_default()
                );
            }
            Detail::Help(help) => {
                for link in &help.links {
                    println!("  Help: {} <{}>", link.description, link.url);
                }
            }
            Detail::Other(any) => println!("  other detail: {}", any.type_url),
            other => println!("  {}", other.type_name()),
        }
    }
}
// README: end

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(USAGE, &["target", "name"]);
    let target = args.get("target").unwrap_or("localhost:50051");
    let name = args.get("name").unwrap_or("world");

    let stub = GreeterStub::new(grpc_core::insecure_channel(target)?);
    for who in [name, name, ""] {
        println!("SayHello({who:?})");
        match stub.say_hello().call(HelloRequest { name: who.into() }) {
            Ok(reply) => println!("  {}", reply.message),
            Err(error) => explain(&error),
        }
    }
    Ok(())
}
