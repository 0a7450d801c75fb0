//! The health service (`grpc-health`) over real sockets: our own stub, and
//! grpcio-health-checking's Python stub (Check, Watch seeing changes, and
//! a graceful stop that watchers see as NOT_SERVING first).

use std::path::Path;
use std::time::Duration;

use grpc_core::{Code, Server};
use grpc_health::v1::{HealthCheckRequest, HealthStub};
use grpc_health::{HealthServicer, ServingStatus};
use rustgrpc_tests::peers::{LineChild, python_script};

/// Longer than any test: a stop that waited for it would hang the test.
const LONG_GRACE: Duration = Duration::from_secs(3600);

fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
}

/// A started server with health registered, and its address.
fn health_server() -> (Server, HealthServicer, String) {
    let server = Server::builder().max_workers(2).build();
    let health = grpc_health::add_health_servicer_to_server(&server);
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    (server, health, format!("127.0.0.1:{port}"))
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

fn stub(address: &str) -> HealthStub {
    HealthStub::new(grpc_core::insecure_channel(address).expect("channel"))
}

fn status_of(stub: &HealthStub, service: &str) -> Result<ServingStatus, (Code, String)> {
    stub.check()
        .call(request(service))
        .map(|reply| reply.status())
        .map_err(|error| (error.code(), error.details().to_owned()))
}

#[test]
fn check_reports_set_statuses_and_not_found() {
    let (server, health, address) = health_server();
    let stub = stub(&address);
    assert_eq!(status_of(&stub, ""), Ok(ServingStatus::Serving));
    let (code, details) = status_of(&stub, "acme.Missing").unwrap_err();
    assert_eq!(code, Code::NotFound);
    assert!(details.contains("acme.Missing"), "{details}");

    health.set("acme.Svc", ServingStatus::NotServing);
    assert_eq!(status_of(&stub, "acme.Svc"), Ok(ServingStatus::NotServing));
    health.set("acme.Svc", ServingStatus::Serving);
    assert_eq!(status_of(&stub, "acme.Svc"), Ok(ServingStatus::Serving));
    health.clear("acme.Svc");
    assert_eq!(status_of(&stub, "acme.Svc").unwrap_err().0, Code::NotFound);

    health.enter_graceful_shutdown();
    assert_eq!(status_of(&stub, ""), Ok(ServingStatus::NotServing));
    health.set("", ServingStatus::Serving);
    assert_eq!(
        status_of(&stub, ""),
        Ok(ServingStatus::NotServing),
        "set is ignored after enter_graceful_shutdown"
    );
    server.stop(None).wait();
}

#[test]
fn watch_streams_changes_and_ends_when_the_server_stops() {
    let (server, health, address) = health_server();
    let stub = stub(&address);
    let mut updates = stub.watch().call(request("acme.Svc")).expect("watch");
    let mut next = || {
        updates
            .next()
            .expect("an update")
            .map(|reply| reply.status())
            .map_err(|error| (error.code(), error.details().to_owned()))
    };
    assert_eq!(next(), Ok(ServingStatus::ServiceUnknown));
    health.set("acme.Svc", ServingStatus::Serving);
    assert_eq!(next(), Ok(ServingStatus::Serving));
    // Setting the same status again is not a change.
    health.set("acme.Svc", ServingStatus::Serving);
    health.set("acme.Svc", ServingStatus::NotServing);
    assert_eq!(next(), Ok(ServingStatus::NotServing));
    health.clear("acme.Svc");
    assert_eq!(next(), Ok(ServingStatus::ServiceUnknown));
    health.set("acme.Svc", ServingStatus::Serving);
    assert_eq!(next(), Ok(ServingStatus::Serving));

    let stopped = server.stop(Some(LONG_GRACE));
    assert_eq!(next(), Ok(ServingStatus::NotServing));
    let (code, details) = next().unwrap_err();
    assert_eq!(code, Code::Unavailable);
    assert_eq!(details, "the server is shutting down");
    // The watch ended, so the stop does not wait out its grace period.
    stopped.wait();
}

#[test]
fn many_watchers_hold_no_worker_threads() {
    // One worker, more watchers than workers: unary calls still get served.
    let server = Server::builder().max_workers(1).build();
    let health = grpc_health::add_health_servicer_to_server(&server);
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    let stub = stub(&format!("127.0.0.1:{port}"));
    let mut watches: Vec<_> = (0..8)
        .map(|_| stub.watch().call(request("")).expect("watch"))
        .collect();
    for watch in &mut watches {
        assert_eq!(
            watch.next().expect("first update").expect("ok").status(),
            ServingStatus::Serving
        );
    }
    assert_eq!(status_of(&stub, ""), Ok(ServingStatus::Serving));
    health.set("", ServingStatus::NotServing);
    for watch in &mut watches {
        assert_eq!(
            watch.next().expect("an update").expect("ok").status(),
            ServingStatus::NotServing
        );
    }
    server.stop(Some(LONG_GRACE)).wait();
}

#[test]
fn python_check() {
    let (server, health, address) = health_server();
    health.set("acme.Svc", ServingStatus::NotServing);
    let mut command = python_script(target_dir(), "health_client.py");
    command.args([&address, "check", "", "acme.Svc", "acme.Missing"]);
    let peer = LineChild::spawn(command);
    assert_eq!(
        peer.rest(),
        [
            "CHECK '' SERVING",
            "CHECK 'acme.Svc' NOT_SERVING",
            "CHECK 'acme.Missing' NOT_FOUND",
        ]
    );
    server.stop(None).wait();
}

#[test]
fn python_watch_receives_changes() {
    let (server, health, address) = health_server();
    let mut command = python_script(target_dir(), "health_client.py");
    command.args([&address, "watch", "acme.Svc"]);
    let peer = LineChild::spawn(command);
    assert_eq!(peer.next_line(), "STATUS SERVICE_UNKNOWN");
    health.set("acme.Svc", ServingStatus::Serving);
    assert_eq!(peer.next_line(), "STATUS SERVING");
    health.set("acme.Svc", ServingStatus::NotServing);
    assert_eq!(peer.next_line(), "STATUS NOT_SERVING");
    health.set("acme.Svc", ServingStatus::Serving);
    assert_eq!(peer.next_line(), "STATUS SERVING");
    server.stop(Some(LONG_GRACE));
    assert_eq!(peer.next_line(), "STATUS NOT_SERVING");
    assert_eq!(
        peer.next_line(),
        "END UNAVAILABLE the server is shutting down"
    );
    assert!(server.wait_for_termination(None));
}

/// The graceful stop end to end: a grpcio watcher of the whole server sees
/// NOT_SERVING, then its watch ends with the server's own status (not a
/// broken connection), and the server terminates without waiting out its
/// grace period.
#[test]
fn python_watcher_sees_not_serving_before_a_graceful_stop_closes() {
    let (server, _health, address) = health_server();
    let mut command = python_script(target_dir(), "health_client.py");
    command.args([&address, "watch", ""]);
    let peer = LineChild::spawn(command);
    assert_eq!(peer.next_line(), "STATUS SERVING");

    let stopped = server.stop(Some(LONG_GRACE));
    assert_eq!(peer.next_line(), "STATUS NOT_SERVING");
    assert_eq!(
        peer.next_line(),
        "END UNAVAILABLE the server is shutting down"
    );
    assert!(peer.rest().is_empty());
    stopped.wait();
    // New RPCs are refused once stopped.
    let error = stub(&address).check().call(request("")).unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
}
