//! The server's connection management over real sockets:
//! `max_connection_age` (GOAWAY, drain, the client moves to a new
//! connection without failing a call), its grace period, and
//! `max_connection_idle`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use grpc_core::{Code, Server};
use rustgrpc_tests::{EchoRequest, TestServer, echo};

#[test]
fn aged_connections_are_replaced_without_failing_calls() {
    let server =
        TestServer::start_with(Server::builder().max_connection_age(Duration::from_millis(200)));
    let stub = server.stub();
    let failures = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let peers = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let until = Instant::now() + Duration::from_millis(1500);
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let stub = stub.clone();
            let (failures, calls, peers) = (failures.clone(), calls.clone(), peers.clone());
            std::thread::spawn(move || {
                while Instant::now() < until {
                    match stub.unary_call().call(echo(&worker.to_string())) {
                        Ok(reply) => {
                            peers.lock().unwrap().insert(reply.peer);
                        }
                        Err(error) => {
                            eprintln!("call failed: {error:?}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // A stream that outlives several ages still completes (no grace set).
    let stream: Vec<_> = stub
        .streaming_output_call()
        .call(EchoRequest {
            response_count: 8,
            interval_ms: 100,
            ..echo("long")
        })
        .expect("stream")
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    let connections = peers.lock().unwrap().len();
    eprintln!(
        "{} calls over {connections} connections, {} failed",
        calls.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed)
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    assert!(connections >= 2, "the connection was never replaced");
    assert_eq!(stream.len(), 8);
    assert!(stream.iter().all(Result::is_ok), "{stream:?}");
}

#[test]
fn rpcs_past_the_grace_period_are_ended() {
    let server = TestServer::start_with(
        Server::builder()
            .max_connection_age(Duration::from_millis(200))
            .max_connection_age_grace(Duration::from_millis(200)),
    );
    let error = server
        .stub()
        .unary_call()
        .call(EchoRequest {
            sleep_ms: 10_000,
            ..echo("forever")
        })
        .expect_err("ended by the grace period");
    assert!(
        matches!(error.code(), Code::Unavailable | Code::Cancelled),
        "{error:?}"
    );
    // The server keeps serving new connections.
    let reply = server
        .stub()
        .unary_call()
        .call(echo("after"))
        .expect("call");
    assert_eq!(reply.message, "after");
}

#[test]
fn idle_connections_are_closed_and_reopened_on_demand() {
    let server =
        TestServer::start_with(Server::builder().max_connection_idle(Duration::from_millis(200)));
    let stub = server.stub();
    let first = stub.unary_call().call(echo("one")).expect("call").peer;
    // Busy connections are not idle: a call longer than the idle time.
    let slow = stub
        .unary_call()
        .call(EchoRequest {
            sleep_ms: 600,
            ..echo("slow")
        })
        .expect("call");
    assert_eq!(slow.peer, first, "a busy connection was closed as idle");
    std::thread::sleep(Duration::from_millis(800));
    let second = stub.unary_call().call(echo("two")).expect("call").peer;
    assert_ne!(first, second, "the idle connection was kept");
}
