//! Channelz (`grpc-channelz`) over real sockets: a client channel sends
//! known traffic to a server, and grpcio-channelz's stubs read both sides'
//! counts from a second server's channelz service (so the queries do not
//! count themselves).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use grpc_core::channelz::CallCounts;
use grpc_core::{Channel, Code, Server};
use grpc_health::v1::{HealthCheckRequest, HealthCheckResponse, HealthStub};
use grpc_reflection::v1::server_reflection_request::MessageRequest;
use grpc_reflection::v1::{ServerReflectionRequest, ServerReflectionStub};
use rustgrpc_tests::peers::{LineChild, python_script};

fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
}

fn started(server: &Server) -> String {
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    format!("127.0.0.1:{port}")
}

/// Waits (bounded) until `calls()` has counted `finished` calls as ended:
/// a call's count is taken just after its status went out (server) or
/// came in (client).
fn wait_until_finished(calls: impl Fn() -> CallCounts, finished: u64) {
    for _ in 0..1000 {
        let counts = calls();
        if counts.succeeded + counts.failed >= finished {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never counted {finished} ended calls: {:?}", calls());
}

/// On one connection: 5 Check OK, 2 Check NOT_FOUND, 1 unknown method,
/// 1 reflection stream with 2 requests that ends OK.
fn known_traffic(channel: &Channel) {
    let health = HealthStub::new(channel.clone());
    let request = |service: &str| HealthCheckRequest {
        service: service.to_owned(),
    };
    for _ in 0..5 {
        health.check().call(request("")).expect("check");
    }
    for _ in 0..2 {
        let error = health.check().call(request("missing")).unwrap_err();
        assert_eq!(error.code(), Code::NotFound);
    }
    let error = channel
        .unary_unary::<HealthCheckRequest, HealthCheckResponse>("/acme.Nope/Do")
        .call(request(""))
        .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);

    let (tx, rx) = mpsc::channel();
    let mut answers = ServerReflectionStub::new(channel.clone())
        .server_reflection_info()
        .call(rx)
        .expect("reflection stream");
    for _ in 0..2 {
        tx.send(ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        })
        .expect("open");
        answers.next().expect("answer").expect("ok");
    }
    drop(tx);
    assert!(answers.next().is_none());
}

#[test]
fn server_counts_match_known_traffic() {
    let traffic = Server::builder().max_workers(2).build();
    grpc_health::add_health_servicer_to_server(&traffic);
    grpc_reflection::Builder::new()
        .serve(&traffic)
        .expect("reflection");
    let traffic_address = started(&traffic);
    let client = grpc_core::insecure_channel(&traffic_address).expect("channel");
    known_traffic(&client);
    let stats = traffic.channelz();
    wait_until_finished(|| stats.calls(), 9);
    let client_stats = client.channelz();
    wait_until_finished(|| client_stats.calls(), 9);
    let client_calls = client_stats.calls();
    assert_eq!(
        (
            client_calls.started,
            client_calls.succeeded,
            client_calls.failed
        ),
        (9, 6, 3)
    );

    let calls = stats.calls();
    assert_eq!((calls.started, calls.succeeded, calls.failed), (9, 6, 3));
    let sockets = stats.sockets();
    assert_eq!(sockets.len(), 1, "one connection");
    let socket = &sockets[0];
    assert_eq!(socket.streams().started, 9);
    assert_eq!((socket.messages_received(), socket.messages_sent()), (9, 7));

    // Queried from another server's channelz service, by grpcio's stubs.
    let admin = Server::builder().max_workers(2).build();
    let channelz = grpc_channelz::add_channelz_servicer_to_server(&admin);
    channelz.track(&traffic);
    channelz.track_channel(&client);
    let admin_address = started(&admin);
    let mut command = python_script(target_dir(), "channelz_client.py");
    command.args([admin_address.as_str(), &stats.id().to_string()]);
    let peer = LineChild::spawn(command);
    let client_port = socket.remote().expect("a TCP peer").port();
    assert_eq!(
        peer.rest(),
        [
            "SERVERS 2 True True".to_owned(),
            "CALLS 9 6 3 True".to_owned(),
            "SOCKETS 1 True".to_owned(),
            format!("SOCKET 9 6 3 7 9 True 4 {client_port}"),
            "MISSING server NOT_FOUND".to_owned(),
            "MISSING socket NOT_FOUND".to_owned(),
            "MISSING channel NOT_FOUND".to_owned(),
            "TOP_CHANNELS 1 True".to_owned(),
            format!("CHANNEL 9 6 3 True READY {traffic_address}"),
        ]
    );
    admin.stop(None).wait();
    traffic.stop(None).wait();
}

#[test]
fn closed_connections_leave_the_socket_list() {
    let server = Server::builder().build();
    grpc_health::add_health_servicer_to_server(&server);
    let address = started(&server);
    {
        let channel = grpc_core::insecure_channel(&address).expect("channel");
        HealthStub::new(channel.clone())
            .check()
            .call(HealthCheckRequest::default())
            .expect("check");
        assert_eq!(server.channelz().sockets().len(), 1);
        channel.close();
    }
    let stats = server.channelz();
    for _ in 0..1000 {
        if stats.sockets().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(stats.sockets().is_empty(), "the closed connection is gone");
    assert_eq!(stats.calls().succeeded, 1, "its calls stay counted");
    server.stop(None).wait();
}
