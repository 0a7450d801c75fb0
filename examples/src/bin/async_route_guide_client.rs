//! The async route guide client (grpcio's `grpc.aio`
//! `async_route_guide_client.py`): the four RPC patterns on the async face,
//! against a running `route_guide_server` or `async_route_guide_server`.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin async_route_guide_client -- --target localhost:50051
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, stream};
use grpc_core::{CallOptions, RpcError};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::route_guide::{
    default_db_path, format_point, load_db, point, rectangle, route_note,
};
use rustgrpc_examples::routeguide::{Feature, Point, RouteGuideStub, RouteNote};

const USAGE: &str = "\
async_route_guide_client: runs GetFeature, ListFeatures, RecordRoute and RouteChat, async

usage: async_route_guide_client [--target HOST:PORT] [--db PATH]
  --target T   server address (default localhost:50051)
  --db PATH    database to pick route points from (default: the bundled one)";

async fn guide_get_one_feature(stub: &RouteGuideStub, point: Point) -> Result<(), RpcError> {
    let feature = stub.get_feature().call_async(point).await?;
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

async fn guide_get_feature(stub: &RouteGuideStub) -> Result<(), RpcError> {
    // Both lookups at once, on the one channel.
    let (first, second) = futures_util::future::join(
        guide_get_one_feature(stub, point(387_071_000, -91_365_000)),
        guide_get_one_feature(stub, point(0, 0)),
    )
    .await;
    first.and(second)
}

async fn guide_list_features(stub: &RouteGuideStub) -> Result<(), RpcError> {
    let rect = rectangle(
        point(386_000_000, -94_000_000),
        point(389_000_000, -91_000_000),
    );
    println!("Looking for features between 38.6, -9.4 and 38.9, -9.1");
    let mut features = stub.list_features().call_async(rect).await?;
    // Initial metadata arrives before the first feature.
    println!(
        "  initial metadata: {:?}",
        features.initial_metadata().await
    );
    let mut count = 0;
    while let Some(feature) = features.next().await {
        let feature = feature?;
        count += 1;
        if count <= 5 {
            let location = feature.location.unwrap_or_default();
            println!(
                "  Feature called {:?} at {}",
                feature.name,
                format_point(&location)
            );
        }
    }
    println!(
        "  {count} features; status {} trailing {:?}",
        features.code().await,
        features.trailing_metadata().await
    );

    // Reading only part of a stream: take two, then drop the stream, which
    // cancels the rest of the RPC on the wire.
    let mut features = stub.list_features().call_async(rect).await?;
    let mut read = 0;
    while read < 2 {
        match features.next().await {
            Some(feature) => {
                feature?;
                read += 1;
            }
            None => break,
        }
    }
    drop(features);
    println!("  read {read} features, then dropped the stream");
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

async fn guide_record_route(stub: &RouteGuideStub, features: &[Feature]) -> Result<(), RpcError> {
    let mut rng = Rng::seeded();
    let route: Vec<Point> = (0..10)
        .map(|_| {
            features[rng.below(features.len())]
                .location
                .unwrap_or_default()
        })
        .collect();
    // An async generator of points: each one after a 50 ms pause, which
    // waits on a timer, not on a thread.
    let points = stream::iter(route).then(|point| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        println!("  Visiting point {}", format_point(&point));
        point
    });
    let (summary, call) = stub
        .record_route()
        .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
        .with_call_async(points)
        .await?;
    println!(
        "Finished trip with {} points\nPassed {} features\nTravelled {} meters\nIt took {} seconds\nstatus {}",
        summary.point_count,
        summary.feature_count,
        summary.distance,
        summary.elapsed_time,
        call.code()
    );
    Ok(())
}

async fn guide_route_chat(stub: &RouteGuideStub) -> Result<(), RpcError> {
    // Requests come from a queue another task feeds...
    let (tx, rx) = tokio::sync::mpsc::channel::<RouteNote>(2);
    let sender = tokio::spawn(async move {
        let notes = [
            route_note("First message", 0, 0),
            route_note("Second message", 0, 1),
            route_note("Third message", 1, 0),
            route_note("Fourth message", 0, 0),
            route_note("Fifth message", 1, 0),
        ];
        for note in notes {
            println!("  Sending {:?} at {}", note.message, show(&note));
            if tx.send(note).await.is_err() {
                return; // the RPC ended
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Dropping tx half-closes the request stream.
    });
    let requests = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|n| (n, rx)) });
    // ...while this task reads the responses as they come.
    let mut responses = stub.route_chat().call_async(requests).await?;
    while let Some(note) = responses.next().await {
        let note = note?;
        println!("  Received message {:?} at {}", note.message, show(&note));
    }
    let _ = sender.await;
    Ok(())
}

fn show(note: &RouteNote) -> String {
    format_point(&note.location.unwrap_or_default())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["target", "db"]);
    let target = args.get("target").unwrap_or("localhost:50051");
    let features = load_db(args.get_or("db", default_db_path()))?;

    let channel = grpc_core::insecure_channel(target)?;
    match tokio::time::timeout(
        Duration::from_secs(5),
        grpc_core::channel_ready_future(&channel),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(format!("cannot reach {target}: {error}").into()),
        Err(_) => return Err(format!("cannot reach {target} within 5 s").into()),
    }
    let stub = RouteGuideStub::new(channel.clone());

    println!("-------------- GetFeature --------------");
    guide_get_feature(&stub).await?;
    println!("-------------- ListFeatures --------------");
    guide_list_features(&stub).await?;
    println!("-------------- RecordRoute --------------");
    guide_record_route(&stub, &features).await?;
    println!("-------------- RouteChat --------------");
    guide_route_chat(&stub).await?;
    channel.close();
    Ok(())
}
