//! The interop client: runs the standard interop cases against a
//! `grpc.testing.TestService` server, one line per case.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interop_client -- \
//!     --server_host localhost --server_port 10000 --test_case all
//! ```
//!
//! Exits 0 only when every case run passed.

use rustgrpc_examples::args::Args;
use rustgrpc_examples::interop::{InteropClient, TestCase};

const USAGE: &str = "\
interop_client: runs gRPC interop test cases against a server

usage: interop_client [--server_host H] [--server_port N] [--test_case NAME] [--use_tls false]
  --server_host H     server host (default localhost)
  --server_port N     server port (default 10000)
  --test_case NAME    a case name, or all (default large_unary)
  --use_tls BOOL      only false: TLS is not supported yet";

fn main() {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(
        USAGE,
        &["server_host", "server_port", "test_case", "use_tls"],
    );
    let host = args.get("server_host").unwrap_or("localhost");
    let port: u16 = args.get_or("server_port", 10000);
    if args.get_or("use_tls", false) {
        eprintln!("interop_client: --use_tls true is not supported yet");
        std::process::exit(2);
    }
    let cases = match args.get("test_case").unwrap_or("large_unary") {
        "all" => TestCase::ALL.to_vec(),
        name => match TestCase::from_name(name) {
            Some(case) => vec![case],
            None => {
                let names: Vec<_> = TestCase::ALL.iter().map(|case| case.name()).collect();
                eprintln!(
                    "interop_client: unknown test case {name:?}; known: all, {}",
                    names.join(", ")
                );
                std::process::exit(2);
            }
        },
    };
    // An IPv6 literal needs brackets in a target.
    let target = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let client = match InteropClient::new(&target) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("interop_client: bad target {target:?}: {error}");
            std::process::exit(2);
        }
    };
    let mut failed = 0;
    for case in &cases {
        match client.run(*case) {
            Ok(()) => println!("PASS {case}"),
            Err(reason) => {
                failed += 1;
                println!("FAIL {case}: {reason}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} cases failed", cases.len());
        std::process::exit(1);
    }
}
