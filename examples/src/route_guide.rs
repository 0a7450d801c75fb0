//! The route guide: its feature database, geometry helpers, and the
//! [`RouteGuide`] servicer (a port of grpcio's `route_guide_server.py`).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use grpc_core::{Metadata, Requests, ServicerContext, Status};
use serde::Deserialize;

use crate::routeguide::{Feature, Point, Rectangle, RouteGuideServicer, RouteNote, RouteSummary};

/// Where `cargo run` finds the bundled database (`examples/data/route_guide_db.json`).
pub fn default_db_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/route_guide_db.json")
}

/// One entry of the JSON database: `{"location": {...}, "name": "..."}`.
#[derive(Debug, Deserialize)]
struct DbFeature {
    location: DbLocation,
    name: String,
}

#[derive(Debug, Deserialize)]
struct DbLocation {
    latitude: i32,
    longitude: i32,
}

/// Parses a feature database in the JSON shape of the classic
/// `route_guide_db.json`.
pub fn parse_db(json: &str) -> Result<Vec<Feature>, serde_json::Error> {
    let entries: Vec<DbFeature> = serde_json::from_str(json)?;
    Ok(entries
        .into_iter()
        .map(|entry| Feature {
            name: entry.name,
            location: Some(point(entry.location.latitude, entry.location.longitude)),
        })
        .collect())
}

/// Reads and parses the feature database at `path`.
pub fn load_db(path: impl AsRef<Path>) -> Result<Vec<Feature>, Box<dyn Error>> {
    let path = path.as_ref();
    let json = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok(parse_db(&json).map_err(|error| format!("bad database {}: {error}", path.display()))?)
}

/// A point from E7 coordinates.
pub fn point(latitude: i32, longitude: i32) -> Point {
    Point {
        latitude,
        longitude,
    }
}

/// A rectangle from two opposite corners.
pub fn rectangle(lo: Point, hi: Point) -> Rectangle {
    Rectangle {
        lo: Some(lo),
        hi: Some(hi),
    }
}

/// A note sent from a point.
pub fn route_note(message: impl Into<String>, latitude: i32, longitude: i32) -> RouteNote {
    RouteNote {
        location: Some(point(latitude, longitude)),
        message: message.into(),
    }
}

/// `latitude, longitude` in degrees, for printing.
pub fn format_point(point: &Point) -> String {
    format!(
        "{:.7}, {:.7}",
        f64::from(point.latitude) / COORD_FACTOR,
        f64::from(point.longitude) / COORD_FACTOR
    )
}

/// The feature at exactly `location`, if the database has one.
pub fn get_feature<'a>(features: &'a [Feature], location: &Point) -> Option<&'a Feature> {
    features
        .iter()
        .find(|feature| feature.location.as_ref() == Some(location))
}

const COORD_FACTOR: f64 = 10_000_000.0;

/// Great-circle distance in metres between two points (haversine formula,
/// as in the grpcio example).
pub fn get_distance(start: &Point, end: &Point) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_000.0;
    let lat_1 = (f64::from(start.latitude) / COORD_FACTOR).to_radians();
    let lat_2 = (f64::from(end.latitude) / COORD_FACTOR).to_radians();
    let lon_1 = (f64::from(start.longitude) / COORD_FACTOR).to_radians();
    let lon_2 = (f64::from(end.longitude) / COORD_FACTOR).to_radians();
    let delta_lat = lat_2 - lat_1;
    let delta_lon = lon_2 - lon_1;
    let a = (delta_lat / 2.0).sin().powi(2)
        + lat_1.cos() * lat_2.cos() * (delta_lon / 2.0).sin().powi(2);
    let c = 2.0 * a.sqrt().atan2((1.0 - a).sqrt());
    EARTH_RADIUS_M * c
}

/// True when `point` lies inside `rect` (corners in any order, edges included).
pub fn in_rectangle(rect: &Rectangle, point: &Point) -> bool {
    let lo = rect.lo.unwrap_or_default();
    let hi = rect.hi.unwrap_or_default();
    let (left, right) = (
        lo.longitude.min(hi.longitude),
        lo.longitude.max(hi.longitude),
    );
    let (bottom, top) = (lo.latitude.min(hi.latitude), lo.latitude.max(hi.latitude));
    (left..=right).contains(&point.longitude) && (bottom..=top).contains(&point.latitude)
}

/// The route guide servicer: answers from an in-memory feature database.
///
/// ```no_run
/// use rustgrpc_examples::route_guide::{RouteGuide, default_db_path, load_db};
/// use rustgrpc_examples::routeguide::add_route_guide_servicer_to_server;
/// let server = grpc_core::Server::builder().max_workers(10).build();
/// add_route_guide_servicer_to_server(RouteGuide::new(load_db(default_db_path())?), &server);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RouteGuide {
    features: Arc<Vec<Feature>>,
}

impl RouteGuide {
    /// A servicer over `features`.
    pub fn new(features: Vec<Feature>) -> RouteGuide {
        RouteGuide {
            features: Arc::new(features),
        }
    }

    /// The database it serves.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }
}

impl RouteGuideServicer for RouteGuide {
    /// Unary: the feature at a point, or an unnamed one.
    fn get_feature(&self, request: Point, _context: &ServicerContext) -> Result<Feature, Status> {
        Ok(match get_feature(&self.features, &request) {
            Some(feature) => feature.clone(),
            None => Feature {
                name: String::new(),
                location: Some(request),
            },
        })
    }

    /// Server streaming: every feature in the rectangle. The count goes out
    /// first as initial metadata; the iterator is drawn on a worker thread
    /// and stops early once the client has gone.
    fn list_features(
        &self,
        request: Rectangle,
        context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<Feature, Status>> + Send + 'static, Status> {
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
        let context = context.clone();
        Ok(matching
            .into_iter()
            .take_while(move |_| context.is_active())
            .map(Ok))
    }

    /// Client streaming: sums up a route as its points arrive.
    fn record_route(
        &self,
        requests: Requests<Point>,
        _context: &ServicerContext,
    ) -> Result<RouteSummary, Status> {
        let start = Instant::now();
        let mut summary = RouteSummary::default();
        let mut previous: Option<Point> = None;
        let mut distance = 0.0;
        for point in requests {
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
    fn route_chat(
        &self,
        requests: Requests<RouteNote>,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<RouteNote, Status>> + Send + 'static, Status> {
        let mut previous: Vec<RouteNote> = Vec::new();
        Ok(requests.flat_map(move |note| match note {
            Ok(note) => {
                let replies: Vec<Result<RouteNote, Status>> = previous
                    .iter()
                    .filter(|earlier| earlier.location == note.location)
                    .cloned()
                    .map(Ok)
                    .collect();
                previous.push(note);
                replies
            }
            Err(status) => vec![Err(status)],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_db_loads() {
        let features = load_db(default_db_path()).unwrap();
        assert!((30..=100).contains(&features.len()));
        assert!(features.iter().any(|f| f.name.is_empty()));
        let first = features[0].location.unwrap();
        assert_eq!(
            get_feature(&features, &first).unwrap().name,
            features[0].name
        );
    }

    #[test]
    fn geometry() {
        let a = point(0, 0);
        let b = point(10_000_000, 0); // one degree north
        let d = get_distance(&a, &b);
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
        let rect = rectangle(point(10, 10), point(-10, -10));
        assert!(in_rectangle(&rect, &a));
        assert!(!in_rectangle(&rect, &b));
    }
}
