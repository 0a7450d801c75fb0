//! Long-lived streams as real clients make them must not cost the server
//! its connections or its workers (issue: reliability):
//!
//! - grpcio clients send BDP pings while they receive; the server's data
//!   forgives them, so many receiving streams keep their connection.
//! - Blocking handlers waiting for the next request (an upload whose
//!   iterator has not ended) or for a reader that never opens its window
//!   hold no worker slot: other clients are served meanwhile, on the
//!   default pool.

use std::time::Duration;

use bytes::Bytes;
use grpc_core::Server;
use rustgrpc_examples::interop::pb::{
    Empty, ResponseParameters, StreamingOutputCallRequest, TestServiceStub,
};
use rustgrpc_examples::interop::{self};
use rustgrpc_tests::raw;

use super::python::PythonEnv;

/// An interop server with `builder`'s settings, stopped when dropped.
struct Started {
    server: Server,
    port: u16,
}

impl Started {
    fn new(builder: grpc_core::ServerBuilder) -> Started {
        let server = interop::server(builder);
        let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
        server.start().expect("start");
        Started { server, port }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        self.server.stop(Some(Duration::from_secs(1))).wait();
    }
}

/// The value after `name ` in the script's output.
fn reported<'a>(lines: &'a [String], name: &str) -> &'a str {
    lines
        .iter()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("the script reported no {name}: {lines:#?}"))
}

#[test]
fn grpcio_streams_that_only_receive_keep_their_connection() {
    // 64 paced server streams from one grpcio channel: the handlers sleep
    // between messages (user code), so give each a worker.
    let server = Started::new(Server::builder().max_workers(72));
    let lines = PythonEnv::get().run_script(
        "reliability_client.py",
        &[
            "receiving_streams".into(),
            "--target".into(),
            server.target(),
            "--streams".into(),
            "64".into(),
            "--messages".into(),
            "8".into(),
            "--interval_ms".into(),
            "300".into(),
        ],
    );
    eprintln!("{lines:#?}");
    assert_eq!(reported(&lines, "streams_complete"), "64", "{lines:#?}");
    assert_eq!(reported(&lines, "unary"), "OK", "the channel survived");
}

#[test]
fn stalled_grpcio_uploads_do_not_starve_other_clients() {
    // The default pool (min(32, cpus + 4) workers) and four times as many
    // uploads whose request iterators wait.
    let server = Started::new(Server::builder());
    let lines = PythonEnv::get().run_script(
        "reliability_client.py",
        &[
            "stalled_uploads".into(),
            "--target".into(),
            server.target(),
            "--streams".into(),
            "40".into(),
        ],
    );
    eprintln!("{lines:#?}");
    let unary = reported(&lines, "unary_while_stalled");
    assert!(
        unary.starts_with("OK "),
        "another client was starved: {lines:#?}"
    );
    assert_eq!(reported(&lines, "uploads_complete"), "40", "{lines:#?}");
}

#[test]
fn streams_whose_reader_never_opens_its_window_hold_no_worker() {
    // Server streams far larger than the queue to the socket, to a client
    // whose stream windows are zero: every handler stalls on a send.
    const STREAMS: usize = 120;
    let server = Started::new(Server::builder());
    let request = StreamingOutputCallRequest {
        response_parameters: (0..400)
            .map(|_| ResponseParameters {
                size: 2048,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let runtime = raw::runtime();
    let port = server.port;
    let held = runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (client, connection) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, Bytes>(tcp)
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let mut held = Vec::new();
        for _ in 0..STREAMS {
            let mut client = client.clone().ready().await.expect("stream slot");
            let request_head = http::Request::post(format!(
                "http://127.0.0.1:{port}/grpc.testing.TestService/StreamingOutputCall"
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request");
            let (response, mut send) = client
                .send_request(request_head, false)
                .expect("send_request");
            send.send_data(raw::frame(&request), true).expect("send");
            held.push((response, send));
        }
        (client, held)
    });
    // Give every handler time to fill its queue and stall.
    std::thread::sleep(Duration::from_millis(500));
    let stub =
        TestServiceStub::new(grpc_core::insecure_channel(&server.target()).expect("channel"));
    let reply = stub
        .empty_call()
        .with_options(grpc_core::CallOptions::new().timeout(Duration::from_secs(20)))
        .call(Empty::default());
    assert!(
        reply.is_ok(),
        "{STREAMS} stalled streams starved the pool: {reply:?}"
    );
    // Closing the stalled client ends its handlers; the server still serves.
    drop(runtime);
    drop(held);
    let again = stub
        .empty_call()
        .with_options(grpc_core::CallOptions::new().timeout(Duration::from_secs(20)))
        .call(Empty::default());
    assert!(again.is_ok(), "{again:?}");
}

/// The connectivity states a channel went through while `idle` passed
/// after its first call, with keepalive every 200 ms.
fn states_while_idle(port: u16, max_pings_without_data: u32) -> Vec<String> {
    let channel = grpc_core::ChannelBuilder::new(format!("127.0.0.1:{port}"))
        .keepalive_time(Duration::from_millis(200))
        .keepalive_timeout(Duration::from_secs(5))
        .max_pings_without_data(max_pings_without_data)
        .keepalive_permit_without_calls(true)
        .build()
        .expect("channel");
    let stub = TestServiceStub::new(channel.clone());
    stub.empty_call()
        .call(Empty::default())
        .expect("first call");
    let states = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = states.clone();
    let subscription = channel.subscribe(
        move |state| seen.lock().expect("states").push(format!("{state:?}")),
        false,
    );
    std::thread::sleep(Duration::from_millis(2500));
    stub.empty_call()
        .call(Empty::default())
        .expect("call after the idle time");
    subscription.unsubscribe();
    states.lock().expect("states").clone()
}

#[test]
fn client_keepalive_respects_a_grpcio_servers_ping_policy() {
    // grpcio's server allows one ping per 5 minutes without data and closes
    // the connection (GOAWAY too_many_pings) after 2 strikes.
    let server = PythonEnv::get().start_server(false);
    let polite = states_while_idle(server.port(), 2);
    assert!(
        polite.iter().all(|state| state == "Ready"),
        "the connection was dropped while idle: {polite:?}"
    );
    // Unlimited pings break that policy: the test can tell.
    let pushy = states_while_idle(server.port(), 0);
    assert!(
        pushy.iter().any(|state| state != "Ready"),
        "grpcio tolerated unlimited pings: {pushy:?}"
    );
}
