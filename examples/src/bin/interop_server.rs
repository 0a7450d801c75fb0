//! The interop server: `grpc.testing.TestService` as every gRPC
//! implementation serves it for the standard interop suite.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interop_server -- --port 10000
//! ```
//!
//! Prints `listening on port N` once it serves (with `--port 0`, N is the
//! port picked), and serves until Ctrl-C or stdin closes when
//! `--exit_on_stdin_eof true` (how test harnesses stop it). It also serves
//! health checking and server reflection.

use std::io::{Read, Write};
use std::time::Duration;

use grpc_core::Server;
use rustgrpc_examples::args::Args;
use rustgrpc_examples::interop;

const USAGE: &str = "\
interop_server: serves grpc.testing.TestService for the interop suite

usage: interop_server [--port N] [--host ADDR] [--use_tls false]
  --port N                    port to listen on (default 10000; 0 picks a free one)
  --host ADDR                 address to bind (default [::], falling back to 0.0.0.0)
  --use_tls BOOL              only false: TLS is not supported yet
  --exit_on_stdin_eof BOOL    stop when standard input closes (default false)";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["port", "host", "use_tls", "exit_on_stdin_eof"]);
    let port: u16 = args.get_or("port", 10000);
    if args.get_or("use_tls", false) {
        eprintln!("interop_server: --use_tls true is not supported yet");
        std::process::exit(2);
    }
    let server = interop::server(Server::builder());
    // Health checking and reflection, as in greeter_server.
    let health = grpc_health::add_health_servicer_to_server(&server);
    health.set(
        interop::pb::test_service_service::NAME,
        grpc_health::ServingStatus::Serving,
    );
    grpc_reflection::Builder::new()
        .register(interop::pb::FILE_DESCRIPTOR_SET)
        .register(grpc_health::v1::FILE_DESCRIPTOR_SET)
        .serve(&server)?;
    let bound = match args.get("host") {
        Some(host) => server.add_insecure_port(&format!("{host}:{port}"))?,
        None => server
            .add_insecure_port(&format!("[::]:{port}"))
            .or_else(|_| server.add_insecure_port(&format!("0.0.0.0:{port}")))?,
    };
    server.start()?;
    println!("listening on port {bound}");
    std::io::stdout().flush()?;

    let stopper = server.clone();
    ctrlc::set_handler(move || {
        stopper.stop(Some(Duration::from_secs(1)));
    })?;
    if args.get_or("exit_on_stdin_eof", false) {
        let stopper = server.clone();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stopper.stop(Some(Duration::from_secs(1)));
        });
    }
    server.wait_for_termination(None);
    Ok(())
}
