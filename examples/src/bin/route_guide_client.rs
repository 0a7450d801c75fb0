//! The route guide client (grpcio's `route_guide_client.py`): the four RPC
//! patterns against a running `route_guide_server`.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin route_guide_client -- --target localhost:50051
//! ```

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use grpc_core::{CallOptions, RpcError};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::route_guide::{
    default_db_path, format_point, load_db, point, rectangle, route_note,
};
use rustgrpc_examples::routeguide::{Feature, Point, RouteGuideStub, RouteNote};

const USAGE: &str = "\
route_guide_client: runs GetFeature, ListFeatures, RecordRoute and RouteChat

usage: route_guide_client [--target HOST:PORT] [--db PATH]
  --target T   server address (default localhost:50051)
  --db PATH    database to pick route points from (default: the bundled one)";

fn guide_get_one_feature(stub: &RouteGuideStub, point: Point) -> Result<(), RpcError> {
    let feature = stub.get_feature().call(point)?;
    let location = feature.location.unwrap_or_default();
    if feature.name.is_empty() {
        println!("Found no feature at {}", format_point(&location));
    } else {
        println!(
            "Feature called {:?} at {}",
            feature.name,
            format_point(&location)
        );
    }
    Ok(())
}

fn guide_get_feature(stub: &RouteGuideStub) -> Result<(), RpcError> {
    guide_get_one_feature(stub, point(387_071_000, -91_365_000))?;
    guide_get_one_feature(stub, point(0, 0))
}

fn guide_list_features(stub: &RouteGuideStub) -> Result<(), RpcError> {
    let rect = rectangle(
        point(386_000_000, -94_000_000),
        point(389_000_000, -91_000_000),
    );
    println!("Looking for features between 38.6, -9.4 and 38.9, -9.1");
    let mut features = stub.list_features().call(rect)?;
    // Initial metadata arrives before the first feature.
    println!("  initial metadata: {:?}", features.initial_metadata());
    for feature in &mut features {
        let feature = feature?;
        let location = feature.location.unwrap_or_default();
        println!(
            "  Feature called {:?} at {}",
            feature.name,
            format_point(&location)
        );
    }
    println!(
        "  status {} trailing {:?}",
        features.code(),
        features.trailing_metadata()
    );

    // Reading only part of a stream: break, then cancel what is left.
    let mut features = stub.list_features().call(rect)?;
    let first_two: Vec<Feature> = features.by_ref().take(2).collect::<Result<_, _>>()?;
    features.cancel();
    println!(
        "  read {} features, then cancel(): {} (OK if the server had already sent all)",
        first_two.len(),
        features.code()
    );
    Ok(())
}

/// A small pseudo-random generator (no dependency needed for a demo).
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(nanos | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Visits `count` random features of the database, one every `pause`,
/// like grpcio's `generate_route` generator with its `time.sleep`.
fn generate_route(features: &[Feature], count: usize, pause: Duration) -> Vec<(Point, Duration)> {
    let mut rng = Rng::seeded();
    (0..count)
        .map(|_| {
            let feature = &features[rng.below(features.len())];
            (feature.location.unwrap_or_default(), pause)
        })
        .collect()
}

fn guide_record_route(stub: &RouteGuideStub, features: &[Feature]) -> Result<(), RpcError> {
    let route = generate_route(features, 10, Duration::from_millis(50));
    // The iterator sleeps between points; it is drawn on its own thread, so
    // that never stalls the connection.
    let points = route.into_iter().map(|(point, pause)| {
        println!("  Visiting point {}", format_point(&point));
        thread::sleep(pause);
        point
    });
    let summary = stub.record_route().call(points)?;
    println!(
        "Finished trip with {} points\nPassed {} features\nTravelled {} meters\nIt took {} seconds",
        summary.point_count, summary.feature_count, summary.distance, summary.elapsed_time
    );

    // The same as a future, with a deadline.
    let route = generate_route(features, 5, Duration::ZERO);
    let future = stub
        .record_route()
        .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
        .future(route.into_iter().map(|(point, _)| point));
    let summary = future.result(None)?;
    println!(
        "future: {} points, {} metres",
        summary.point_count, summary.distance
    );
    Ok(())
}

fn guide_route_chat(stub: &RouteGuideStub) -> Result<(), RpcError> {
    // Requests come from a bounded queue fed by another thread...
    let (tx, rx) = mpsc::sync_channel::<RouteNote>(2);
    let sender = thread::spawn(move || {
        let notes = [
            route_note("First message", 0, 0),
            route_note("Second message", 0, 1),
            route_note("Third message", 1, 0),
            route_note("Fourth message", 0, 0),
            route_note("Fifth message", 1, 0),
        ];
        for note in notes {
            println!("  Sending {:?} at {}", note.message, show(&note));
            if tx.send(note).is_err() {
                return; // the RPC ended
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Dropping tx half-closes the request stream.
    });
    // ...and the responses are printed by yet another.
    let responses = stub.route_chat().call(rx)?;
    let printer = thread::spawn(move || -> Result<(), RpcError> {
        for note in responses {
            let note = note?;
            println!("  Received message {:?} at {}", note.message, show(&note));
        }
        Ok(())
    });
    let _ = sender.join();
    printer.join().expect("printer thread panicked")
}

fn show(note: &RouteNote) -> String {
    format_point(&note.location.unwrap_or_default())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["target", "db"]);
    let target = args.get("target").unwrap_or("localhost:50051");
    let features = load_db(args.get_or("db", default_db_path()))?;

    let channel = grpc_core::insecure_channel(target)?;
    grpc_core::channel_ready_future(&channel)
        .result(Some(Duration::from_secs(5)))
        .map_err(|error| format!("cannot reach {target}: {error}"))?;
    let stub = RouteGuideStub::new(channel.clone());

    println!("-------------- GetFeature --------------");
    guide_get_feature(&stub)?;
    println!("-------------- ListFeatures --------------");
    guide_list_features(&stub)?;
    println!("-------------- RecordRoute --------------");
    guide_record_route(&stub, &features)?;
    println!("-------------- RouteChat --------------");
    guide_route_chat(&stub)?;
    channel.close();
    Ok(())
}
