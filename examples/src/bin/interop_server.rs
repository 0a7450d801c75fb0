//! The interop server: `grpc.testing.TestService` as every gRPC
//! implementation serves it for the standard interop suite.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interop_server -- --port 10000
//! cargo run -p rustgrpc-examples --bin interop_server -- --port 10000 \
//!     --use_tls --tls_cert_file server.pem --tls_key_file server.key [--client_ca_file ca.pem]
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
use rustgrpc_examples::{interop, tls};

const USAGE: &str = "\
interop_server: serves grpc.testing.TestService for the interop suite

usage: interop_server [--port N] [--host ADDR]
                      [--use_tls --tls_cert_file PEM --tls_key_file PEM [--client_ca_file PEM]]
  --port N                    port to listen on (default 10000; 0 picks a free one)
  --host ADDR                 address to bind (default [::], falling back to 0.0.0.0)
  --use_tls [BOOL]            serve over TLS (default false)
  --tls_cert_file PEM         the server's certificate chain (with --use_tls)
  --tls_key_file PEM          the server's private key (with --use_tls)
  --client_ca_file PEM        require client certificates signed by these CAs
  --exit_on_stdin_eof BOOL    stop when standard input closes (default false)";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(
        USAGE,
        &[
            "port",
            "host",
            "use_tls",
            "tls_cert_file",
            "tls_key_file",
            "client_ca_file",
            "exit_on_stdin_eof",
        ],
    );
    let port: u16 = args.get_or("port", 10000);
    let credentials = if args.get_or("use_tls", false) {
        tls::server_credentials(
            args.get("tls_cert_file"),
            args.get("tls_key_file"),
            args.get("client_ca_file"),
        )?
    } else {
        grpc_core::insecure_server_credentials()
    };
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
        Some(host) => server.add_secure_port(&format!("{host}:{port}"), &credentials)?,
        None => server
            .add_secure_port(&format!("[::]:{port}"), &credentials)
            .or_else(|_| server.add_secure_port(&format!("0.0.0.0:{port}"), &credentials))?,
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
