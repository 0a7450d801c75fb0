//! A transparent gRPC proxy: a server with no services of its own whose
//! fallback handler forwards every call, whatever its method, to a backend
//! as raw bytes (`rustgrpc_examples::proxy`), serving until Ctrl-C.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin greeter_server -- --port 50051 &
//! cargo run -p rustgrpc-examples --bin transparent_proxy -- --port 50052 --backend localhost:50051
//! cargo run -p rustgrpc-examples --bin greeter_client -- --target localhost:50052
//! ```

use std::time::Duration;

use grpc_core::{Server, insecure_channel};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::proxy::forwarding_service;

const USAGE: &str = "\
transparent_proxy: forwards every gRPC call to a backend until Ctrl-C

usage: transparent_proxy [--port N] [--backend TARGET]
  --port N          port to listen on (default 50052; 0 picks a free one)
  --backend TARGET  where calls go (default localhost:50051)
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(USAGE, &["port", "backend"]);
    let port: u16 = args.get_or("port", 50052);
    let backend = args.get("backend").unwrap_or("localhost:50051");
    let server = Server::builder().build();
    server.add_fallback(forwarding_service(insecure_channel(backend)?))?;
    let bound = server.add_insecure_port(&format!("[::]:{port}"))?;
    server.start()?;
    println!("Proxy listening on port {bound}, forwarding to {backend} (Ctrl-C to stop)");
    let stopper = server.clone();
    ctrlc::set_handler(move || {
        stopper.stop(Some(Duration::from_secs(5)));
    })?;
    server.wait_for_termination(None);
    Ok(())
}
