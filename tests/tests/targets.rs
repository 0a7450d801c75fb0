//! Channel targets (dns, ipv4, ipv6, unix), connection management
//! (wait_for_ready, fail fast, reconnect, close) and connectivity.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grpc_core::{
    CallOptions, ChannelBuilder, ChannelConnectivity, Code, Server, channel_ready_future,
    insecure_channel,
};
use rustgrpc_tests::{EchoRequest, TestServer, TestServiceStub, echo, ms, tagged};

const PROMPT: Duration = Duration::from_secs(1);

fn call_via(target: &str) -> rustgrpc_tests::EchoResponse {
    let channel = insecure_channel(target).unwrap_or_else(|e| panic!("{target}: {e}"));
    TestServiceStub::new(channel)
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(5)))
        .call(echo(target))
        .unwrap_or_else(|e| panic!("{target}: {e:?}"))
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn ipv4_and_dns_targets() {
    let server = TestServer::start();
    let port = server.port();
    for target in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("dns:///127.0.0.1:{port}"),
        format!("dns:///localhost:{port}"),
        format!("dns:127.0.0.1:{port}"),
        format!("ipv4:127.0.0.1:{port}"),
        // The first address refuses; the second one serves.
        format!("ipv4:127.0.0.1:{},127.0.0.1:{port}", free_port()),
    ] {
        let reply = call_via(&target);
        assert_eq!(reply.message, target);
        assert!(
            reply.peer.starts_with("ipv4:127.0.0.1:"),
            "{target}: {}",
            reply.peer
        );
    }
}

#[test]
fn ipv6_targets() {
    let server = match TestServer::start_on(Server::builder(), "[::1]:0") {
        Ok(server) => server,
        Err(error) => {
            eprintln!("skipping: cannot bind [::1]: {error}");
            return;
        }
    };
    let port = server.port();
    for target in [
        format!("ipv6:[::1]:{port}"),
        format!("[::1]:{port}"),
        format!("dns:///[::1]:{port}"),
    ] {
        let reply = call_via(&target);
        assert!(
            reply.peer.starts_with("ipv6:[::1]:"),
            "{target}: {}",
            reply.peer
        );
    }
    drop(server);

    // "[::]:0" (the address grpcio examples use) serves IPv6 and, on a
    // dual-stack host, IPv4 too.
    let server = TestServer::start_on(Server::builder(), "[::]:0").unwrap();
    let port = server.port();
    let reply = call_via(&format!("[::1]:{port}"));
    assert!(reply.peer.starts_with("ipv6:[::1]:"), "{}", reply.peer);
    let target = format!("127.0.0.1:{port}");
    if TestServiceStub::new(insecure_channel(&target).unwrap())
        .unary_call()
        .call(echo("probe"))
        .is_ok()
    {
        let reply = call_via(&target);
        assert!(reply.peer.starts_with("ipv4:127.0.0.1:"), "{}", reply.peer);
    }
}

#[test]
fn unix_socket_targets() {
    let path = std::env::temp_dir().join(format!("rustgrpc-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let path = path.to_str().unwrap().to_owned();
    let server = TestServer::start_on(Server::builder(), &format!("unix:{path}")).unwrap();
    assert_eq!(server.port(), 0);
    for target in [format!("unix:{path}"), format!("unix://{path}")] {
        let reply = call_via(&target);
        assert!(reply.peer.starts_with("unix:"), "{target}: {}", reply.peer);
    }
    // Streaming works over Unix sockets as well.
    let stub = server.stub();
    let count = stub
        .streaming_output_call()
        .call(EchoRequest {
            response_count: 10,
            response_size: 100_000,
            ..EchoRequest::default()
        })
        .unwrap()
        .filter(Result::is_ok)
        .count();
    assert_eq!(count, 10);
    drop(stub);
    drop(server);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn closed_port_fails_fast_with_unavailable() {
    let target = format!("127.0.0.1:{}", free_port());
    let stub = TestServiceStub::new(insecure_channel(&target).unwrap());
    for _ in 0..3 {
        let start = Instant::now();
        let err = stub
            .unary_call()
            .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
            .call(echo("anyone?"))
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    }
    let err = stub
        .streaming_output_call()
        .call(echo("anyone?"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    // With wait_for_ready the call waits for its deadline instead.
    let start = Instant::now();
    let err = stub
        .unary_call()
        .with_options(CallOptions::new().wait_for_ready(true).timeout(ms(300)))
        .call(echo("anyone?"))
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(start.elapsed() >= ms(300));
    assert!(start.elapsed() < ms(300) + PROMPT);
}

#[test]
fn wait_for_ready_waits_for_a_late_server() {
    let port = free_port();
    let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
        .reconnect_backoff(ms(20), ms(100))
        .build()
        .unwrap();
    let stub = TestServiceStub::new(channel);
    let start = Instant::now();
    let waiting = std::thread::spawn({
        let stub = stub.clone();
        move || {
            stub.unary_call()
                .with_options(
                    CallOptions::new()
                        .wait_for_ready(true)
                        .timeout(Duration::from_secs(10)),
                )
                .call(echo("patient"))
        }
    });
    // Without wait_for_ready, a call fails meanwhile.
    std::thread::sleep(ms(100));
    let err = stub.unary_call().call(echo("impatient")).unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    std::thread::sleep(ms(200));
    let server = TestServer::start_on(Server::builder(), &format!("127.0.0.1:{port}")).unwrap();
    let reply = waiting.join().unwrap().unwrap();
    assert_eq!(reply.message, "patient");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= ms(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    drop(server);
}

#[test]
fn channel_reconnects_to_a_restarted_server() {
    let server = TestServer::start();
    let port = server.port();
    let channel = ChannelBuilder::new(server.target())
        .reconnect_backoff(ms(20), ms(100))
        .build()
        .unwrap();
    let stub = TestServiceStub::new(channel.clone());
    let first = stub.unary_call().call(echo("first")).unwrap();
    drop(server); // stops it
    let server = TestServer::start_on(Server::builder(), &format!("127.0.0.1:{port}")).unwrap();
    let reply = stub
        .unary_call()
        .with_options(
            CallOptions::new()
                .wait_for_ready(true)
                .timeout(Duration::from_secs(5)),
        )
        .call(echo("second"))
        .unwrap();
    assert_eq!(reply.message, "second");
    assert_ne!(reply.peer, first.peer, "a new connection");
    drop(server);
}

#[test]
fn close_cancels_in_flight_calls_and_fails_new_ones() {
    let server = TestServer::start();
    let channel = server.channel();
    let stub = TestServiceStub::new(channel.clone());
    stub.unary_call().call(echo("connect")).unwrap();
    assert_eq!(channel.connectivity(), ChannelConnectivity::Ready);
    let future = stub
        .unary_call()
        .with_options(tagged("closed-under"))
        .future(EchoRequest {
            sleep_ms: 30_000,
            ..EchoRequest::default()
        });
    let mut stream = stub
        .streaming_output_call()
        .call(EchoRequest {
            response_count: 100,
            interval_ms: 50,
            ..EchoRequest::default()
        })
        .unwrap();
    assert!(stream.next().unwrap().is_ok());
    server.events().expect(
        "closed-under",
        rustgrpc_tests::EventKind::Started,
        Duration::from_secs(5),
    );

    let start = Instant::now();
    channel.close();
    assert!(channel.is_closed());
    assert_eq!(channel.connectivity(), ChannelConnectivity::Shutdown);
    let err = future.result(Some(Duration::from_secs(5))).unwrap_err();
    assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    let last = stream.by_ref().last().unwrap();
    assert_eq!(last.unwrap_err().code(), Code::Cancelled);
    assert!(start.elapsed() < PROMPT, "{:?}", start.elapsed());
    server.events().expect(
        "closed-under",
        rustgrpc_tests::EventKind::SawInactive,
        PROMPT,
    );

    let err = stub.unary_call().call(echo("after close")).unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let err = stub
        .unary_call()
        .with_options(CallOptions::new().wait_for_ready(true))
        .call(echo("after close"))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    channel.close(); // idempotent
}

#[test]
fn connectivity_and_ready_future() {
    let server = TestServer::start();
    let channel = server.channel();
    assert_eq!(channel.connectivity(), ChannelConnectivity::Idle);
    let states = Arc::new(Mutex::new(Vec::new()));
    let subscription = channel.subscribe(
        {
            let states = Arc::clone(&states);
            move |state| states.lock().unwrap().push(state)
        },
        false,
    );
    channel_ready_future(&channel)
        .result(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(channel.connectivity(), ChannelConnectivity::Ready);
    // Watchers see the latest state, not necessarily every one in between:
    // wait for READY before moving on.
    let wait_for = |state| {
        let deadline = Instant::now() + PROMPT;
        while states.lock().unwrap().last() != Some(&state) && Instant::now() < deadline {
            std::thread::sleep(ms(5));
        }
    };
    wait_for(ChannelConnectivity::Ready);
    channel.close();
    wait_for(ChannelConnectivity::Shutdown);
    let seen = states.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&ChannelConnectivity::Idle), "{seen:?}");
    assert!(seen.contains(&ChannelConnectivity::Ready), "{seen:?}");
    assert_eq!(
        seen.last(),
        Some(&ChannelConnectivity::Shutdown),
        "{seen:?}"
    );
    subscription.unsubscribe();

    // Nothing listening: the ready future times out.
    let channel = insecure_channel(&format!("127.0.0.1:{}", free_port())).unwrap();
    let future = channel_ready_future(&channel);
    let err = future.result(Some(ms(100))).unwrap_err();
    assert!(err.is_future_timeout(), "{err:?}");
    assert!(!future.done());
    assert_ne!(channel.connectivity(), ChannelConnectivity::Ready);
    channel.close();
}

#[test]
fn keepalive_pings_keep_the_connection() {
    // The server must allow pings this frequent (gRPC servers allow one per
    // 5 minutes without data by default, and GOAWAY clients that ping more).
    let server = TestServer::start_with(Server::builder().min_recv_ping_interval(ms(10)));
    let channel = ChannelBuilder::new(server.target())
        .keepalive_time(ms(30))
        .keepalive_timeout(ms(500))
        .build()
        .unwrap();
    let stub = TestServiceStub::new(channel.clone());
    let first = stub.unary_call().call(echo("one")).unwrap();
    std::thread::sleep(ms(200)); // several pings
    let second = stub.unary_call().call(echo("two")).unwrap();
    assert_eq!(first.peer, second.peer, "the connection was replaced");
    assert_eq!(channel.connectivity(), ChannelConnectivity::Ready);
}

#[test]
fn call_credentials_never_travel_over_an_insecure_channel() {
    let server = TestServer::start();
    let err = server
        .stub()
        .unary_call()
        .with_options(
            tagged("creds").credentials(grpc_core::access_token_call_credentials("secret")),
        )
        .call(echo("with token"))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(
        server
            .events()
            .count("creds", rustgrpc_tests::EventKind::Started),
        0
    );
}

#[test]
fn unix_abstract_target_round_trip_and_local_addrs_after_start() {
    let name = format!("rustgrpc-test-{}", std::process::id());
    let server = grpc_core::Server::builder().max_workers(2).build();
    rustgrpc_tests::pb::add_test_service_servicer_to_server(
        rustgrpc_tests::TestServicer::default(),
        &server,
    );
    let tcp_port = server.add_insecure_port("127.0.0.1:0").unwrap();
    assert_eq!(
        server
            .add_insecure_port(&format!("unix-abstract:{name}"))
            .unwrap(),
        0
    );
    server.start().unwrap();
    assert_eq!(
        server.local_addrs().len(),
        1,
        "local_addrs survives start()"
    );
    assert_eq!(server.local_addrs()[0].port(), tcp_port);
    let channel = grpc_core::insecure_channel(&format!("unix-abstract:{name}")).unwrap();
    let stub = TestServiceStub::new(channel);
    let reply = stub.unary_call().call(EchoRequest::default());
    assert!(reply.is_ok(), "{reply:?}");
    server.stop(None).wait();
}
