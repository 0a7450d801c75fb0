//! The interop client: runs the standard interop cases against a
//! `grpc.testing.TestService` server, one line per case.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interop_client -- \
//!     --server_host localhost --server_port 10000 --test_case all
//! cargo run -p rustgrpc-examples --bin interop_client -- --server_port 10000 --test_case all \
//!     --use_tls --ca_file ca.pem --server_host_override foo.test.google.fr \
//!     [--client_cert_file client.pem --client_key_file client.key]
//! ```
//!
//! Exits 0 only when every case run passed.

use rustgrpc_examples::args::Args;
use rustgrpc_examples::interop::{InteropClient, TestCase};
use rustgrpc_examples::tls;

const USAGE: &str = "\
interop_client: runs gRPC interop test cases against a server

usage: interop_client [--server_host H] [--server_port N] [--test_case NAME]
                      [--use_tls [--ca_file PEM] [--server_host_override NAME]
                       [--client_cert_file PEM --client_key_file PEM]]
  --server_host H            server host (default localhost)
  --server_port N            server port (default 10000)
  --test_case NAME           a case name, or all (default large_unary)
  --use_tls [BOOL]           connect over TLS (default false)
  --ca_file PEM              CAs to trust (default: the system's trust store)
  --server_host_override N   the name the server's certificate must carry
  --client_cert_file PEM     a client certificate chain, for mutual TLS
  --client_key_file PEM      its private key";

fn main() {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(
        USAGE,
        &[
            "server_host",
            "server_port",
            "test_case",
            "use_tls",
            "ca_file",
            "server_host_override",
            "client_cert_file",
            "client_key_file",
        ],
    );
    let host = args.get("server_host").unwrap_or("localhost");
    let port: u16 = args.get_or("server_port", 10000);
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
    let mut builder = grpc_core::ChannelBuilder::new(&target);
    if args.get_or("use_tls", false) {
        builder = match tls::channel_credentials(
            args.get("ca_file"),
            args.get("client_cert_file"),
            args.get("client_key_file"),
        ) {
            Ok(credentials) => builder.secure(&credentials),
            Err(error) => {
                eprintln!("interop_client: {error}");
                std::process::exit(2);
            }
        };
        if let Some(name) = args.get("server_host_override") {
            builder = builder.ssl_target_name_override(name);
        }
    }
    let client = match InteropClient::with_builder(builder) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("interop_client: cannot use {target:?}: {error}");
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
