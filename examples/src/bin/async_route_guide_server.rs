//! The async route guide server (grpcio's `grpc.aio`
//! `async_route_guide_server.py`): an `AsyncRouteGuideServicer` over the
//! JSON feature database, served inside this program's tokio runtime until
//! Ctrl-C.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin async_route_guide_server -- --port 50051
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use grpc_core::{Metadata, RequestStream, Server, ServicerContext, Status, Stream};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::route_guide::{
    default_db_path, get_distance, get_feature, in_rectangle, load_db,
};
use rustgrpc_examples::routeguide::{
    AsyncRouteGuideServicer, Feature, Point, Rectangle, RouteNote, RouteSummary,
    add_async_route_guide_servicer_to_server,
};

const USAGE: &str = "\
async_route_guide_server: serves routeguide.RouteGuide with async handlers until Ctrl-C

usage: async_route_guide_server [--port N] [--db PATH] [--workers N]
  --port N      port to listen on (default 50051; 0 picks a free one)
  --db PATH     feature database (default examples/data/route_guide_db.json)
  --workers N   worker threads for blocking handlers (default 10; the async
                handlers here run as tasks on the runtime instead)";

/// The async servicer: the same answers as the blocking `RouteGuide`.
struct AsyncRouteGuide {
    features: Arc<Vec<Feature>>,
}

impl AsyncRouteGuideServicer for AsyncRouteGuide {
    /// Unary: the feature at a point, or an unnamed one.
    async fn get_feature(
        &self,
        request: Point,
        _context: &ServicerContext,
    ) -> Result<Feature, Status> {
        Ok(match get_feature(&self.features, &request) {
            Some(feature) => feature.clone(),
            None => Feature {
                name: String::new(),
                location: Some(request),
            },
        })
    }

    /// Server streaming: every feature in the rectangle, the count first as
    /// initial metadata. If the client goes away, the task and the stream
    /// are dropped.
    async fn list_features(
        &self,
        request: Rectangle,
        context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<Feature, Status>> + Send + 'static, Status> {
        let matching: Vec<Feature> = self
            .features
            .iter()
            .filter(|feature| {
                feature
                    .location
                    .is_some_and(|location| in_rectangle(&request, &location))
            })
            .cloned()
            .collect();
        let count = matching.len().to_string();
        let metadata = Metadata::from_pairs([("matching-features", count.as_str())])
            .map_err(|error| Status::internal(error.to_string()))?;
        context
            .send_initial_metadata(metadata)
            .map_err(|error| Status::internal(error.to_string()))?;
        Ok(futures_util::stream::iter(matching.into_iter().map(Ok)))
    }

    /// Client streaming: sums up a route as its points arrive (an
    /// `async for` over the requests).
    async fn record_route(
        &self,
        mut requests: RequestStream<Point>,
        _context: &ServicerContext,
    ) -> Result<RouteSummary, Status> {
        let start = Instant::now();
        let mut summary = RouteSummary::default();
        let mut previous: Option<Point> = None;
        let mut distance = 0.0;
        while let Some(point) = requests.next().await {
            let point = point?;
            summary.point_count += 1;
            if get_feature(&self.features, &point).is_some_and(|f| !f.name.is_empty()) {
                summary.feature_count += 1;
            }
            if let Some(previous) = previous {
                distance += get_distance(&previous, &point);
            }
            previous = Some(point);
        }
        summary.distance = distance.round() as i32;
        summary.elapsed_time = start.elapsed().as_secs() as i32;
        Ok(summary)
    }

    /// Bidirectional streaming: for each note, first sends back every
    /// earlier note of this call made at the same location.
    async fn route_chat(
        &self,
        requests: RequestStream<RouteNote>,
        _context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<RouteNote, Status>> + Send + 'static, Status> {
        let mut previous: Vec<RouteNote> = Vec::new();
        Ok(requests.flat_map(move |note| {
            let replies: Vec<Result<RouteNote, Status>> = match note {
                Ok(note) => {
                    let replies = previous
                        .iter()
                        .filter(|earlier| earlier.location == note.location)
                        .cloned()
                        .map(Ok)
                        .collect();
                    previous.push(note);
                    replies
                }
                Err(status) => vec![Err(status)],
            };
            futures_util::stream::iter(replies)
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    add_async_route_guide_servicer_to_server(
        AsyncRouteGuide {
            features: Arc::new(features),
        },
        &server,
    );
    let bound = server
        .add_insecure_port(&format!("[::]:{port}"))
        .or_else(|_| server.add_insecure_port(&format!("0.0.0.0:{port}")))?;
    println!("Server started, listening on {bound} (Ctrl-C to stop)");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        println!("Ctrl-C: stopping with a 5 s grace period");
    };
    server.serve(shutdown, Some(Duration::from_secs(5))).await?;
    println!("Server stopped");
    Ok(())
}
