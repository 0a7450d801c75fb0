//! The route guide server (grpcio's `route_guide_server.py`): serves the
//! [`RouteGuide`] servicer over a JSON feature database until Ctrl-C, with
//! health checking and server reflection.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin route_guide_server -- --port 50051
//! ```

use std::time::Duration;

use grpc_core::Server;
use rustgrpc_examples::args::Args;
use rustgrpc_examples::route_guide::{RouteGuide, default_db_path, load_db};
use rustgrpc_examples::routeguide::{
    self, add_route_guide_servicer_to_server, route_guide_service,
};

const USAGE: &str = "\
route_guide_server: serves routeguide.RouteGuide until Ctrl-C

usage: route_guide_server [--port N] [--db PATH] [--workers N]
  --port N      port to listen on (default 50051; 0 picks a free one)
  --db PATH     feature database (default examples/data/route_guide_db.json)
  --workers N   worker threads for the blocking handlers (default 10)";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["port", "db", "workers"]);
    let port: u16 = args.get_or("port", 50051);
    let db = args.get_or("db", default_db_path());
    let features = load_db(&db)?;
    println!("loaded {} features from {}", features.len(), db.display());

    let server = Server::builder()
        .max_workers(args.get_or("workers", 10))
        .build();
    add_route_guide_servicer_to_server(RouteGuide::new(features), &server);
    // Health checking and reflection, as in greeter_server.
    let health = grpc_health::add_health_servicer_to_server(&server);
    health.set(
        route_guide_service::NAME,
        grpc_health::ServingStatus::Serving,
    );
    grpc_reflection::Builder::new()
        .register(routeguide::FILE_DESCRIPTOR_SET)
        .register(grpc_health::v1::FILE_DESCRIPTOR_SET)
        .serve(&server)?;
    let bound = server
        .add_insecure_port(&format!("[::]:{port}"))
        .or_else(|_| server.add_insecure_port(&format!("0.0.0.0:{port}")))?;
    server.start()?;
    println!("Server started, listening on {bound} (Ctrl-C to stop)");

    let stopper = server.clone();
    ctrlc::set_handler(move || {
        println!("Ctrl-C: stopping with a 5 s grace period");
        stopper.stop(Some(Duration::from_secs(5)));
    })?;
    server.wait_for_termination(None);
    println!("Server stopped");
    Ok(())
}
