//! The gRPC health checking service (`grpc.health.v1.Health`) for rustgrpc
//! servers: what load balancers, Kubernetes gRPC probes and
//! `grpc_health_probe` ask.
//!
//! One line registers it; the returned [`HealthServicer`] sets statuses
//! (grpcio's `grpc_health.v1.health.HealthServicer`):
//!
//! ```
//! use grpc_health::ServingStatus;
//! let server = grpc_core::Server::builder().build();
//! let health = grpc_health::add_health_servicer_to_server(&server); // "" is SERVING
//! health.set("helloworld.Greeter", ServingStatus::Serving);
//! # server.add_insecure_port("127.0.0.1:0")?;
//! server.start()?;
//! // ... later: every status turns NOT_SERVING before the server drains.
//! server.stop(Some(std::time::Duration::from_secs(5))).wait();
//! assert_eq!(health.status("helloworld.Greeter"), Some(ServingStatus::NotServing));
//! # Ok::<(), grpc_core::Error>(())
//! ```
//!
//! - `Check` answers the current status of a service, or of the whole
//!   server for `""`; a service never set is `NOT_FOUND`.
//! - `Watch` streams the current status at once and then every change;
//!   a service never set is reported as `SERVICE_UNKNOWN`. Watchers are
//!   async tasks: they hold no worker thread however long they watch, and a
//!   slow watcher only ever sees the latest status, never a backlog.
//! - [`Server::stop`](grpc_core::Server::stop) first flips every status
//!   to `NOT_SERVING` (through
//!   [`Server::add_stop_callback`](grpc_core::Server::add_stop_callback)),
//!   so watchers learn it before connections close; each watch then ends
//!   with `UNAVAILABLE`, so that open watches do not hold the graceful
//!   stop for its whole grace period.
//!
//! The generated code of `grpc.health.v1` (messages, [`v1::HealthStub`]
//! for clients, [`v1::FILE_DESCRIPTOR_SET`] for reflection) is in [`v1`].

mod servicer;
mod watch;

pub use servicer::HealthServicer;

/// The generated code of the proto package `grpc.health.v1`: messages, the
/// client stub [`HealthStub`](v1::HealthStub), the async servicer trait and
/// the descriptors.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/grpc.health.v1.rs"));
}

/// A service's health: `SERVING`, `NOT_SERVING`, `UNKNOWN`, or (in `Watch`
/// only) `SERVICE_UNKNOWN`.
pub use v1::health_check_response::ServingStatus;

/// The name of the health service, `grpc.health.v1.Health`.
pub const SERVICE_NAME: &str = v1::health_service::NAME;

/// Registers a new [`HealthServicer`] (the server as a whole, `""`, is
/// `SERVING`) on `server` and returns it, to set statuses with. When the
/// server is stopped, every status turns `NOT_SERVING` first.
pub fn add_health_servicer_to_server(server: &grpc_core::Server) -> HealthServicer {
    let health = HealthServicer::new();
    health.attach(server);
    health
}
